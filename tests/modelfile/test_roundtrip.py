"""Property tests: parse(render(x)) == x for every representable value, refusal otherwise.

The oracle below is derived independently from Ollama's rules (ollama.md §1.2) rather
than from the renderer: a value can be written iff it has no ``\\r`` and no non-printable
rune other than tab/newline, and one of the three spellings survives early termination:

* bare: one line, no surrounding blanks, not starting with ``"``;
* ``"…"``: the spelling does not start with ``\"\"\"`` and no inner line (blanks and
  empty lines before the newline ignored) ends with ``"``;
* ``\"\"\"…\"\"\"``: no inner line ends with ``\"\"\"``.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ollama_forge.errors import ModelfileRenderError
from ollama_forge.gotemplate.goprint_table import RANGES
from ollama_forge.modelfile import Message, Modelfile, parse_commands, parse_modelfile

FRAGMENTS = [
    '"', '""', '"""', '""""', "\n", " ", "\t", "#", "a", "b c", "é", "😀", "中", "\\", "'",
    "\r", "\u200b", "\u00a0", "\x00", "\x7f", "{{ .Prompt }}", "<|im_end|>", "FROM x",
    "\nSYSTEM y", "  \n", '"\n', '"""\n', "x\"\"\" \n",
]  # fmt: skip

adversarial = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join),
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from('"\n \ta#'), max_size=16),
)


# Go's strconv.IsPrint as data (generated from Go by scripts/gen_goprint.py), not Python's Unicode.
_GO_PRINTABLE = frozenset(
    cp for a, b in zip(RANGES[0::2], RANGES[1::2], strict=True) for cp in range(a, b)
)


def _printable(ch: str) -> bool:
    return ord(ch) in _GO_PRINTABLE


def _inner_prefixes(value: str) -> list[str]:
    """What the lexer tests at each inner newline: the text so far, blanks trimmed at the end."""
    return [value[:i].rstrip(" \t\n") for i, ch in enumerate(value) if ch == "\n"]


def oracle_representable(value: str) -> bool:
    if "\r" in value or any(not (_printable(c) or c in "\t\n") for c in value):
        return False
    bare = "\n" not in value and value == value.strip(" \t") and not value.startswith('"')
    prefixes = _inner_prefixes(value)
    double = not f'"{value}"'.startswith('"""') and not any(p.endswith('"') for p in prefixes)
    triple = not any(p.endswith('"""') for p in prefixes)
    return bare or double or triple


@settings(max_examples=600, deadline=None)
@given(adversarial)
@example('say "hi"')
@example('abc"""')
@example('"')
@example('a"""\nb')
@example("x\r\ny")
@example('""\nx')
@example('"x"\n"')
def test_system_value_round_trips_or_is_refused(value: str) -> None:
    mf = Modelfile(from_=["./m.gguf"], system=value)
    try:
        text = mf.render()
    except ModelfileRenderError:
        assert not oracle_representable(value), f"refused a representable value {value!r}"
        return
    assert oracle_representable(value), f"rendered an unrepresentable value {value!r}"
    assert "\r" not in text
    commands = parse_commands(text)
    assert [c.name for c in commands] == ["model", "system"]
    assert commands[1].args == value
    assert parse_modelfile(text) == mf


@settings(max_examples=300, deadline=None)
@given(adversarial, st.sampled_from(["system", "user", "assistant"]))
def test_message_content_round_trips_or_is_refused(value: str, role: str) -> None:
    mf = Modelfile(from_=["x"], messages=[Message(role=role, content=value)])  # type: ignore[arg-type]
    try:
        text = mf.render()
    except ModelfileRenderError:
        assert not oracle_representable(value)
        return
    assert parse_modelfile(text).messages == mf.messages


@settings(max_examples=300, deadline=None)
@given(adversarial)
def test_template_and_license_round_trip_or_are_refused(value: str) -> None:
    mf = Modelfile(from_=["x"], template=value, license=[value, "MIT"])
    try:
        text = mf.render()
    except ModelfileRenderError:
        assert not oracle_representable(value)
        return
    back = parse_modelfile(text)
    assert back.template == value and back.license == [value, "MIT"]


@settings(max_examples=300, deadline=None)
@given(adversarial.filter(lambda s: s != ""))
def test_stop_strings_round_trip_or_are_refused(value: str) -> None:
    mf = Modelfile(from_=["x"], parameters={"stop": [value, "</s>"]})
    try:
        text = mf.render()
    except ModelfileRenderError:
        assert not oracle_representable(value)
        return
    assert parse_modelfile(text).parameters == {"stop": [value, "</s>"]}


path_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=20
)


@settings(max_examples=200, deadline=None)
@given(st.lists(path_text, min_size=1, max_size=3))
def test_from_values_round_trip_or_are_refused(values: list[str]) -> None:
    mf = Modelfile(from_=values)
    try:
        text = mf.render()
    except ModelfileRenderError:
        assert not all(oracle_representable(v) for v in values)
        return
    assert parse_modelfile(text).from_ == values


modelfiles = st.builds(
    Modelfile,
    from_=st.lists(path_text, min_size=1, max_size=2),
    template=st.none() | adversarial,
    system=st.none() | adversarial,
    parameters=st.fixed_dictionaries(
        {},
        optional={
            "temperature": st.floats(0, 2, allow_nan=False),
            "top_k": st.integers(0, 200),
            "use_mmap": st.booleans(),
            "stop": st.lists(adversarial.filter(bool), max_size=3),
        },
    ),
    messages=st.lists(
        st.builds(
            Message, role=st.sampled_from(["system", "user", "assistant"]), content=adversarial
        ),
        max_size=3,
    ),
    license=st.lists(adversarial, max_size=2),
    comments=st.lists(
        st.text(max_size=10).filter(lambda s: "\n" not in s and "\r" not in s), max_size=2
    ),
)


@settings(max_examples=200, deadline=None)
@given(modelfiles)
def test_whole_modelfile_round_trip(mf: Modelfile) -> None:
    try:
        text = mf.render()
    except ModelfileRenderError:
        return
    back = parse_modelfile(text)
    assert back == mf
    assert back.render() == text  # render(parse(render(x))) is stable


LINE_FRAGMENTS = [
    "FROM ./m.gguf\n", "FROM x y\n", "SYSTEM ", "TEMPLATE ", "LICENSE ", "MESSAGE user ",
    "MESSAGE assistant ", "PARAMETER stop ", "PARAMETER temperature 0.5\n", "ADAPTER a\n",
    "# note\n", "  # indented\n", '"', '"""', "\n", "\r\n", " ", "\t", "text", "#", "é",
    '"\n', '"""\n', "{{ .Prompt }}", "\u200b",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(LINE_FRAGMENTS), max_size=14).map("".join))
def test_parsed_files_render_back_to_the_same_model(text: str) -> None:
    """Every value Ollama's parser can produce (without \\r) can be written back."""
    from ollama_forge.errors import ForgeError

    try:
        mf = parse_modelfile(text)
    except ForgeError:
        return
    try:
        rendered = mf.render()
    except ModelfileRenderError:
        values = [mf.template, mf.system, *mf.license, *mf.from_, *mf.adapters]
        values += [m.content for m in mf.messages] + list(mf.parameters.get("stop", []))
        # only a \r kept inside a multi-line quoted value (CRLF file) is not writable as LF
        assert any(v is not None and "\r" in v for v in values) or "" in mf.from_
        return
    assert parse_modelfile(rendered) == mf


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.binary(max_size=60))
def test_parser_never_fails_with_anything_but_a_forge_error(data: str | bytes) -> None:
    from ollama_forge.errors import ForgeError

    try:
        parse_modelfile(data)
    except ForgeError as exc:
        assert exc.message and exc.hint
