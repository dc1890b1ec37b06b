"""Ollama's Modelfile lexer, reproduced: exact errors, line numbers, case, comments, quoting."""

from __future__ import annotations

import pytest

from ollama_forge.errors import ModelfileParseError
from ollama_forge.modelfile import (
    Command,
    decode_modelfile,
    parse_commands,
    parse_modelfile,
    scan_modelfile,
    unquote,
)
from ollama_forge.modelfile.parser import (
    ERR_INVALID_COMMAND,
    ERR_INVALID_MESSAGE_ROLE,
    is_print,
)

INVALID = ERR_INVALID_COMMAND


def cmds(text: str | bytes) -> list[tuple[str, str]]:
    return [(c.name, c.args) for c in parse_commands(text)]


def value_of(text: str) -> str:
    """The value Ollama reads for ``SYSTEM <text>`` (FROM added so ParseFile accepts it)."""
    commands = parse_commands(f"FROM x\nSYSTEM {text}")
    assert len(commands) == 2
    return commands[1].args


def parse_error(text: str | bytes) -> ModelfileParseError:
    with pytest.raises(ModelfileParseError) as info:
        parse_commands(text)
    return info.value


# --- error strings and line numbers ---------------------------------------------------------


def test_invalid_command_message_is_ollamas_exact_string() -> None:
    assert INVALID == (
        'command must be one of "from", "license", "template", "system", "adapter", "draft", '
        '"renderer", "parser", "parameter", "message", or "requires"'
    )
    err = parse_error("FROM x\nFOO bar\n")
    assert err.message == f"(line 2): {INVALID}"
    assert err.line == 2
    assert err.hint


def test_bare_command_at_newline_reports_the_next_line() -> None:
    # the newline itself triggers the error after currLine++ (Ollama's numbering)
    err = parse_error("FROM x\nSYSTEM\nPARAMETER top_k 1\n")
    assert err.message == f"(line 3): {INVALID}"
    assert err.line == 3
    assert "SYSTEM must be followed" in (err.hint or "")


def test_crlf_files_count_lines_twice() -> None:
    err = parse_error("FROM x\r\nPARAMETER top_k 1\r\nBAD y\r\n")
    assert err.message == f"(line 5): {INVALID}"
    assert err.line == 5


def test_command_word_followed_by_non_space_is_invalid() -> None:
    assert parse_error("FROM: x").message == f"(line 1): {INVALID}"
    assert parse_error("FROM1 x").message == f"(line 1): {INVALID}"


def test_invalid_message_role_exact() -> None:
    for role in ("User", "tool", "SYSTEM"):
        err = parse_error(f"FROM x\nMESSAGE {role} hi\n")
        assert err.message == f"(line 2): {ERR_INVALID_MESSAGE_ROLE}"
        assert err.message.endswith('message role must be one of "system", "user", or "assistant"')
        assert err.role == role


def test_bad_parameter_name_character_is_unexpected_eof_with_partial() -> None:
    err = parse_error("FROM x\nPARAMETER top-k 40\n")
    assert err.message == "unexpected EOF: top"
    assert err.line == 2
    assert parse_error("FROM x\nPARAMETER\tnum.ctx 1").message == "unexpected EOF: num"


def test_bad_message_role_character_is_unexpected_eof() -> None:
    assert parse_error("FROM x\nMESSAGE user1 hi").message == "unexpected EOF: user"


@pytest.mark.parametrize(
    "text",
    [
        "FROM",  # command word at EOF
        "FROM x\nSYSTEM",
        "FROM x\nPARAMETER top_k",
        "FROM x\nMESSAGE user",
        'FROM x\nSYSTEM "unterminated',
        'FROM x\nSYSTEM """unterminated\nstill"',
        'FROM x\nSYSTEM "a" b\n',  # text after a closing quote never terminates
    ],
)
def test_unexpected_eof_without_detail(text: str) -> None:
    assert parse_error(text).message == "unexpected EOF"


def test_unterminated_value_error_carries_the_start_line() -> None:
    err = parse_error('FROM x\n\nSYSTEM """never\nclosed\n')
    assert err.message == "unexpected EOF"
    assert err.line == 3


def test_no_from_line() -> None:
    err = parse_error("SYSTEM hello\n# FROM x\n")
    assert err.message == "no FROM line"
    assert "FROM" in (err.hint or "")
    with pytest.raises(ModelfileParseError, match=r"^no FROM line$"):
        parse_modelfile("")


def test_early_termination_inside_triple_quotes() -> None:
    # an inner line ending in """ closes the value; the next line is read as a command
    err = parse_error('FROM x\nTEMPLATE """a"""\nb"""\n')
    assert err.message == f"(line 3): {INVALID}"  # the quote after "b" on line 3
    assert err.word == "b"


def test_early_termination_inside_double_quotes() -> None:
    text = 'FROM x\nSYSTEM "say\n"hi"\nrest"\n'
    with pytest.raises(ModelfileParseError, match=r"\(line 4\)"):
        parse_commands(text)


# --- case rules -----------------------------------------------------------------------------


def test_command_words_are_case_insensitive() -> None:
    assert cmds("from a\nFrOm b\nsystem s\nTemplate t\n") == [
        ("model", "a"),
        ("model", "b"),
        ("system", "s"),
        ("template", "t"),
    ]


def test_parameter_names_are_verbatim_and_roles_lowercase() -> None:
    commands = parse_commands("FROM x\nparameter Temperature 1\nmessage user hi\n")
    assert commands[1] == Command(name="Temperature", args="1", line=2, keyword="parameter")
    assert commands[2].name == "message" and commands[2].args == "user: hi"


def test_every_command_word_is_accepted() -> None:
    text = (
        "FROM m\nADAPTER a\nTEMPLATE t\nSYSTEM s\nPARAMETER top_k 1\nMESSAGE assistant m\n"
        "LICENSE l\nREQUIRES 0.14.0\nRENDERER r\nPARSER p\nDRAFT d\n"
    )
    assert [c.name for c in parse_commands(text)] == [
        "model", "adapter", "template", "system", "top_k", "message",
        "license", "requires", "renderer", "parser", "draft",
    ]  # fmt: skip


def test_tab_separators_and_extra_separators() -> None:
    assert cmds("FROM\tx\nSYSTEM \t  hello") == [("model", "x"), ("system", "hello")]
    # PARAMETER's name state starts right after the first separator: a second space ends it
    # with an empty name, exactly like Ollama
    assert parse_commands("FROM x\nPARAMETER  top_k 1")[1].name == ""


# --- comments -------------------------------------------------------------------------------


def test_comments_whole_line_and_indented() -> None:
    text = "# header\n   # indented comment\nFROM x\n\t# tabbed\nSYSTEM hi # not a comment\n"
    assert cmds(text) == [("model", "x"), ("system", "hi # not a comment")]
    parsed = scan_modelfile(text)
    assert [c.text for c in parsed.comments] == [" header", " indented comment", " tabbed"]
    assert [c.line for c in parsed.comments] == [1, 2, 4]


def test_hash_inside_a_multiline_value_is_literal() -> None:
    assert value_of('"""line one\n# still value\n"""') == "line one\n# still value\n"


def test_value_starting_with_hash_is_literal() -> None:
    assert value_of("#notacomment") == "#notacomment"


# --- quoting (ollama.md §1.2) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("plain text here", "plain text here"),
        ("  padded   ", "padded"),
        ('" padded "', " padded "),
        ('"a "quoted" word"', 'a "quoted" word'),
        ('"""say "hi""""', 'say "hi"'),
        ('"""abc""""""', 'abc"""'),
        ('""', ""),
        ('""""""', ""),
        ('"""""""', '"'),
        ('say \\"hi\\"', 'say \\"hi\\"'),  # no escapes
        ("'single'", "'single'"),
        ('a "b" c', 'a "b" c'),
        ('x"', 'x"'),
        ("", ""),
        ("\t tab\tinside \t", "tab\tinside"),
        ("unicode é 😀 中文", "unicode é 😀 中文"),
    ],
)
def test_quoting_edges(written: str, value: str) -> None:
    assert value_of(written) == value


def test_multiline_values_keep_inner_whitespace() -> None:
    assert value_of('"""\n  indented\n\ttabbed  \n"""') == "\n  indented\n\ttabbed  \n"
    assert value_of('"two\nlines"') == "two\nlines"


def test_value_runs_on_until_unquote_succeeds() -> None:
    # line 1 ends inside the quote, line 2 closes it
    commands = parse_commands('FROM x\nSYSTEM """first\nsecond"""\nPARAMETER top_k 3\n')
    assert [(c.name, c.args, c.line) for c in commands] == [
        ("model", "x", 1),
        ("system", "first\nsecond", 2),
        ("top_k", "3", 4),
    ]


def test_empty_value_at_newline() -> None:
    assert cmds("FROM x\nSYSTEM \nTEMPLATE t") == [
        ("model", "x"),
        ("system", ""),
        ("template", "t"),
    ]


def test_crlf_inside_multiline_values_is_kept_single_line_values_are_not() -> None:
    commands = parse_commands('FROM x\r\nTEMPLATE """a\r\nb"""\r\nSYSTEM s\r\n')
    assert [c.args for c in commands] == ["x", "a\r\nb", "s"]


def test_non_printable_runes_are_dropped() -> None:
    # NBSP, zero-width space, soft hyphen and a control character vanish; tab survives
    assert value_of('"a\u00a0b\u200bc\u00add\x07e\tf"') == "abcde\tf"
    assert cmds("\u200bFROM x") == [("model", "x")]
    assert is_print(" ") and is_print("é") and not is_print("\t") and not is_print("\u00a0")


def test_unquote_matches_ollama() -> None:
    assert unquote('"""a"""') == ("a", True)
    assert unquote('""""') == ("", False)
    assert unquote('"""""') == ("", False)
    assert unquote('"a') == ("", False)
    assert unquote('"') == ("", False)
    assert unquote('a"') == ('a"', True)


# --- decoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "FROM ./é.gguf\nSYSTEM ok\n".encode(),
        b"\xef\xbb\xbf" + "FROM ./é.gguf\nSYSTEM ok\n".encode(),
        b"\xff\xfe" + "FROM ./é.gguf\nSYSTEM ok\n".encode("utf-16-le"),
        b"\xfe\xff" + "FROM ./é.gguf\nSYSTEM ok\n".encode("utf-16-be"),
    ],
)
def test_bom_aware_decoding(data: bytes) -> None:
    assert cmds(data) == [("model", "./é.gguf"), ("system", "ok")]


def test_invalid_utf8_becomes_one_replacement_per_byte() -> None:
    assert decode_modelfile(b"a\xe2\x82b") == "a\ufffd\ufffdb"
    assert decode_modelfile(b"\xffz") == "\ufffdz"
