"""Rendering: canonical layout, quote choice, and refusals of what Ollama cannot read back."""

from __future__ import annotations

import pytest

from ollama_forge.errors import ModelfileRenderError
from ollama_forge.modelfile import (
    Message,
    Modelfile,
    parse_commands,
    parse_modelfile,
    render_value,
    representable_styles,
)


def system_line(value: str) -> str:
    text = Modelfile(from_=["./m.gguf"], system=value).render()
    return text.splitlines()[1] if "\n" not in value else text.split("\n", 1)[1]


def test_full_layout_in_canonical_order() -> None:
    mf = Modelfile(
        comments=["forge: family=qwen2", "verified"],
        from_=["/models/q.gguf", "/models/mmproj.gguf"],
        adapters=["./lora.gguf"],
        template="{{ .Prompt }}",
        system="You are helpful.",
        parameters={"temperature": 0.7, "stop": ["<|im_end|>", "<|endoftext|>"], "num_ctx": 8192},
        messages=[Message(role="user", content="hi"), Message(role="assistant", content="hello")],
        license=["MIT License\n\nCopyright"],
        requires="0.14.0",
        renderer="qwen3",
        parser="qwen3",
        draft=["./draft.gguf"],
    )
    assert mf.render() == (
        "# forge: family=qwen2\n"
        "# verified\n"
        "\n"
        "FROM /models/q.gguf\n"
        "FROM /models/mmproj.gguf\n"
        "ADAPTER ./lora.gguf\n"
        'TEMPLATE """{{ .Prompt }}"""\n'
        "SYSTEM You are helpful.\n"
        "PARAMETER temperature 0.7\n"
        'PARAMETER stop "<|im_end|>"\n'
        'PARAMETER stop "<|endoftext|>"\n'
        "PARAMETER num_ctx 8192\n"
        "MESSAGE user hi\n"
        "MESSAGE assistant hello\n"
        'LICENSE """MIT License\n\nCopyright"""\n'
        "REQUIRES 0.14.0\n"
        "RENDERER qwen3\n"
        "PARSER qwen3\n"
        "DRAFT ./draft.gguf\n"
    )
    assert parse_modelfile(mf.render()) == mf


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("simple words", "SYSTEM simple words"),
        (" leading space", 'SYSTEM " leading space"'),
        ("trailing\t", 'SYSTEM "trailing\t"'),
        ('"starts with quote', 'SYSTEM """"starts with quote"""'),
        ('say "hi"', 'SYSTEM say "hi"'),
        (' say "hi"', 'SYSTEM """ say "hi""""'),
        ("", 'SYSTEM ""'),
        ("#hash", "SYSTEM #hash"),
        ('"', 'SYSTEM """""""'),
        ('"abc"', 'SYSTEM """"abc""""'),
    ],
)
def test_quote_choice(value: str, line: str) -> None:
    assert system_line(value) == line
    assert parse_modelfile(f"FROM x\n{line}\n").system == value


def test_multiline_without_quotes_uses_double_quotes() -> None:
    assert system_line("one\ntwo") == 'SYSTEM "one\ntwo"\n'


def test_multiline_with_quotes_uses_triple_quotes() -> None:
    assert system_line('one "x"\ntwo') == 'SYSTEM """one "x"\ntwo"""\n'


def test_template_always_uses_triple_quotes_when_possible() -> None:
    text = Modelfile(from_=["x"], template="{{ .Prompt }}").render()
    assert 'TEMPLATE """{{ .Prompt }}"""' in text
    # an inner line ending in a quote: """ still works
    tpl = 'a "b"\nc'
    assert f'TEMPLATE """{tpl}"""' in Modelfile(from_=["x"], template=tpl).render()


def test_stop_strings_are_always_quoted() -> None:
    mf = Modelfile(from_=["x"], parameters={"stop": ["</s>", '"', "\n\n", " "]})
    lines = mf.render().split("PARAMETER stop ")[1:]
    assert lines == ['"</s>"\n', '"""""""\n', '"\n\n"\n', '" "\n']
    assert parse_modelfile(mf.render()).parameters["stop"] == ["</s>", '"', "\n\n", " "]


def test_from_paths_with_spaces_round_trip() -> None:
    mf = Modelfile(from_=["/my models/a b.gguf", " lead.gguf"], adapters=["./x y/z.gguf"])
    text = mf.render()
    assert "FROM /my models/a b.gguf\n" in text
    assert 'FROM " lead.gguf"\n' in text
    assert parse_modelfile(text).from_ == mf.from_


def test_output_is_lf_only_and_ends_with_newline() -> None:
    text = Modelfile(from_=["x"], system="a\nb", license=["l1\nl2"]).render()
    assert "\r" not in text and text.endswith("\n")


# --- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('first"""\nsecond', 'ending in """'),
        ('a\n  b"""   \nc', "inner line (2)"),
        ("carriage\rreturn", "carriage return"),
        ("windows\r\nline", "carriage return"),
        ("nbsp\u00a0here", "U+00A0"),
        ("zero\u200bwidth", "U+200B"),
        ("bell\x07", "U+0007"),
        ("form\x0cfeed", "U+000C"),
    ],
)
def test_unrepresentable_values_raise(value: str, reason: str) -> None:
    with pytest.raises(ModelfileRenderError) as info:
        Modelfile(from_=["x"], system=value).render()
    assert reason in info.value.message
    assert info.value.hint
    assert info.value.instruction == "SYSTEM"
    assert representable_styles(value) == []


def test_refusal_in_message_names_the_instruction() -> None:
    mf = Modelfile(from_=["x"], messages=[Message(role="user", content='q"""\nx')])
    with pytest.raises(ModelfileRenderError, match="MESSAGE user"):
        mf.render()


def test_no_from_and_empty_from_are_refused() -> None:
    with pytest.raises(ModelfileRenderError, match="no FROM line"):
        Modelfile(system="x").render()
    with pytest.raises(ModelfileRenderError, match="empty"):
        Modelfile(from_=[""]).render()


def test_comment_with_newline_is_refused() -> None:
    with pytest.raises(ModelfileRenderError, match="line break"):
        Modelfile(from_=["x"], comments=["a\nb"]).render()


def test_ollamas_own_quote_would_break_but_ours_does_not() -> None:
    # Ollama's Command.String writes '"abc"' bare, which re-parses as 'abc' (ollama.md §1.5)
    assert parse_commands('FROM x\nSYSTEM "abc"\n')[1].args == "abc"
    line = render_value('"abc"', prefer=["bare"], what="SYSTEM")
    assert parse_commands(f"FROM x\nSYSTEM {line}\n")[1].args == '"abc"'


def test_header_comments_round_trip() -> None:
    mf = Modelfile(from_=["x"], comments=["", " indented", "#double", "tpl: chatml (verified)"])
    assert parse_modelfile(mf.render()).comments == mf.comments
