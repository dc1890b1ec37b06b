"""Writing Modelfile values so Ollama's parser reads back exactly the intended text.

Ollama has no escape sequences. A value can be written bare, as ``"…"`` or as
``\"\"\"…\"\"\"``; which of those read back unchanged depends on the lexer's early
termination rule (a value ends at the first newline where ``unquote(TrimSpace(buf))``
succeeds). Rather than re-deriving that rule here, every candidate spelling is run through
forge's port of the lexer (:func:`.parser.scan_modelfile`) and only a spelling that reads
back exactly is used. When none does, :class:`ModelfileRenderError` says why.

forge writes LF-only files, so a value containing ``\\r`` is refused (Ollama would read a
``\\r`` as a line break, and tools that normalise line endings would change it). FROM, ADAPTER
and DRAFT paths with a line break or another unprintable character are refused too: no real
file name needs one, and a name that makes forge write extra lines must never be quoted through.

Finally the whole text is read back with the lexer port and must give exactly the intended
instructions (kinds and values, in order): :func:`check_reads_back`, run on every render.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from ..errors import ModelfileError, ModelfileRenderError
from ..gotemplate.goprint import is_print
from .parameters import format_parameter_value
from .parser import scan_modelfile


class _MessageFields(Protocol):
    @property
    def role(self) -> str: ...

    @property
    def content(self) -> str: ...


class ModelfileFields(Protocol):
    """What the renderer reads of a :class:`~.model.Modelfile` (a protocol: the model renders
    itself with this module, so this module must not import the model)."""

    @property
    def from_(self) -> list[str]: ...

    @property
    def adapters(self) -> list[str]: ...

    @property
    def template(self) -> str | None: ...

    @property
    def system(self) -> str | None: ...

    @property
    def parameters(self) -> dict[str, Any]: ...

    @property
    def messages(self) -> Sequence[_MessageFields]: ...

    @property
    def license(self) -> list[str]: ...

    @property
    def requires(self) -> str | None: ...

    @property
    def renderer(self) -> str | None: ...

    @property
    def parser(self) -> str | None: ...

    @property
    def draft(self) -> list[str]: ...

    @property
    def comments(self) -> list[str]: ...


QuoteStyle = Literal["bare", "double", "triple"]
ALL_STYLES: tuple[QuoteStyle, ...] = ("bare", "double", "triple")


def spell(value: str, style: QuoteStyle) -> str:
    """The value written in one quoting style (no check that it reads back)."""
    if style == "double":
        return f'"{value}"'
    if style == "triple":
        return f'"""{value}"""'
    return value


def reads_back(value: str, style: QuoteStyle) -> bool:
    """True when ``WORD <spelling>\\n`` parses to exactly one command whose value is ``value``."""
    if "\r" in value:
        return False
    try:
        parsed = scan_modelfile(f"SYSTEM {spell(value, style)}\n")
    except ModelfileError:
        return False
    return len(parsed.commands) == 1 and parsed.commands[0].args == value


def representable_styles(value: str) -> list[QuoteStyle]:
    """Every quoting style in which Ollama reads ``value`` back unchanged (LF-only file)."""
    return [style for style in ALL_STYLES if reads_back(value, style)]


def _why_not(value: str) -> tuple[str, str]:
    """(reason, hint) for a value no spelling can carry."""
    if "\r" in value:
        return (
            "contains a carriage return (\\r), which Ollama reads as a line break",
            "Use \\n line endings in the text (forge writes LF-only Modelfiles).",
        )
    for index, ch in enumerate(value):
        if ch not in "\t\n" and not is_print(ch):
            name = unicodedata.name(ch, unicodedata.category(ch))
            return (
                f"contains U+{ord(ch):04X} ({name}) at offset {index}, which Ollama's parser "
                "drops silently (not printable)",
                "Remove the character or replace it with a printable one (e.g. a plain space).",
            )
    # Triple quotes fail only when an inner line (trailing blanks ignored) ends in """.
    start = 0
    while (index := value.find("\n", start)) != -1:
        prefix = value[:index].rstrip(" \t\n")
        if prefix.endswith('"""'):
            number = prefix.count("\n") + 1
            return (
                f'has an inner line ({number}) ending in """, which closes a quoted value '
                "early; Ollama would read the following lines as instructions",
                'Put a character after the """ on that line or rephrase; Ollama\'s '
                "Modelfile grammar has no escape sequences.",
            )
        start = index + 1
    return (
        "cannot be quoted so that Ollama's parser reads it back unchanged",
        "Rephrase the text; Ollama's Modelfile grammar has no escape sequences.",
    )


def render_value(value: str, *, prefer: Sequence[QuoteStyle], what: str) -> str:
    """The first spelling in ``prefer`` (then any other) that reads back as ``value``."""
    order = [*prefer, *(s for s in ALL_STYLES if s not in prefer)]
    for style in order:
        if reads_back(value, style):
            return spell(value, style)
    reason, hint = _why_not(value)
    raise ModelfileRenderError(
        f"{what} cannot be written to a Modelfile: the value {reason}",
        hint=hint,
        instruction=what,
        value=value,
    )


def default_preference(value: str) -> list[QuoteStyle]:
    """Bare for simple one-liners, ``"…"`` when there is no quote inside, else ``\"\"\"…\"\"\"``."""
    simple = (
        value != ""
        and "\n" not in value
        and value == value.strip(" \t")
        and not value.startswith('"')
    )
    if simple:
        return ["bare", "double", "triple"]
    if '"' not in value:
        return ["double", "triple", "bare"]
    return ["triple", "double", "bare"]


def quoted_preference(value: str) -> list[QuoteStyle]:
    """Always quoted (stop strings): ``"…"`` unless the value has a quote."""
    return ["double", "triple", "bare"] if '"' not in value else ["triple", "double", "bare"]


TEMPLATE_PREFERENCE: list[QuoteStyle] = ["triple", "double", "bare"]


def _line(word: str, value: str, what: str, prefer: Sequence[QuoteStyle] | None = None) -> str:
    return f"{word} {render_value(value, prefer=prefer or default_preference(value), what=what)}"


def _path_line(word: str, value: str) -> str:
    for index, ch in enumerate(value):
        if not is_print(ch):
            name = unicodedata.name(ch, unicodedata.category(ch))
            raise ModelfileRenderError(
                f"{word} path cannot be written to a Modelfile: it contains U+{ord(ch):04X} ({name}) at "
                f"offset {index}",
                hint="Rename the file: a path with a line break or control character never goes into a "
                "Modelfile.",
                instruction=word,
                value=value,
            )
    return _line(word, value, word)


def intended_commands(mf: ModelfileFields) -> list[tuple[str, str]]:
    """(name, args) of every instruction ``mf`` stands for, as Ollama's parser stores them, in
    the order :func:`render_modelfile` writes them."""
    out: list[tuple[str, str]] = [("model", v) for v in mf.from_]
    out += [("adapter", v) for v in mf.adapters]
    if mf.template is not None:
        out.append(("template", mf.template))
    if mf.system is not None:
        out.append(("system", mf.system))
    for name, value in mf.parameters.items():
        if isinstance(value, list):
            out += [(name, str(item)) for item in value]
        else:
            out.append((name, format_parameter_value(value)))
    out += [("message", f"{m.role}: {m.content}") for m in mf.messages]
    out += [("license", text) for text in mf.license]
    for word, setting in (
        ("requires", mf.requires),
        ("renderer", mf.renderer),
        ("parser", mf.parser),
    ):
        if setting is not None:
            out.append((word, setting))
    out += [("draft", v) for v in mf.draft]
    return out


def check_reads_back(mf: ModelfileFields, text: str) -> None:
    """Raise unless Ollama's parser reads ``text`` as exactly the instructions of ``mf``."""
    try:
        parsed = scan_modelfile(text)
    except ModelfileError as exc:
        got: list[tuple[str, str]] | str = f"a parse error: {exc.message}"
    else:
        got = [(c.name, c.args) for c in parsed.commands]
    want = intended_commands(mf)
    if got != want:
        if isinstance(got, str):
            detail = got
        else:
            extra = [n for n, a in got if (n, a) not in want]
            detail = (
                f"{len(got)} instructions instead of {len(want)}"
                if len(got) != len(want)
                else "an instruction with another value"
            )
            if extra:
                detail += " (unexpected: " + ", ".join(sorted(set(extra))) + ")"
        raise ModelfileRenderError(
            f"The rendered Modelfile does not read back as the intended instructions: {detail}",
            hint="This is a bug in forge's Modelfile writer; nothing was written. Please report it.",
        )


def render_comment(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ModelfileRenderError(
            "A Modelfile comment cannot contain a line break",
            hint="Split the comment into several entries of Modelfile.comments.",
            comment=text,
        )
    return f"# {text}" if text else "#"


def render_modelfile(mf: ModelfileFields) -> str:
    """The full Modelfile text (LF, trailing newline) in forge's canonical order."""
    if not mf.from_:
        raise ModelfileRenderError(
            "no FROM line", hint="Set Modelfile.from_ to the weights path (or a model name)."
        )
    lines: list[str] = [render_comment(c) for c in mf.comments]
    if lines:
        lines.append("")
    for value in mf.from_:
        if value == "":
            raise ModelfileRenderError(
                "FROM value is empty",
                hint="An empty FROM makes Ollama import the Modelfile's "
                "whole folder; give the file path or model name.",
            )
        lines.append(_path_line("FROM", value))
    lines.extend(_path_line("ADAPTER", v) for v in mf.adapters)
    if mf.template is not None:
        lines.append(_line("TEMPLATE", mf.template, "TEMPLATE", TEMPLATE_PREFERENCE))
    if mf.system is not None:
        lines.append(_line("SYSTEM", mf.system, "SYSTEM"))
    for name, value in mf.parameters.items():
        what = f"PARAMETER {name}"
        if isinstance(value, list):
            lines.extend(
                _line(f"PARAMETER {name}", item, what, quoted_preference(item)) for item in value
            )
        else:
            lines.append(_line(f"PARAMETER {name}", format_parameter_value(value), what))
    lines.extend(_line(f"MESSAGE {m.role}", m.content, f"MESSAGE {m.role}") for m in mf.messages)
    lines.extend(
        _line("LICENSE", text, "LICENSE", TEMPLATE_PREFERENCE if "\n" in text else None)
        for text in mf.license
    )
    for word, setting in (
        ("REQUIRES", mf.requires),
        ("RENDERER", mf.renderer),
        ("PARSER", mf.parser),
    ):
        if setting is not None:
            lines.append(_line(word, setting, word))
    lines.extend(_path_line("DRAFT", v) for v in mf.draft)
    text = "\n".join(lines) + "\n"
    check_reads_back(mf, text)
    return text
