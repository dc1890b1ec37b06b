"""A faithful port of Ollama's Modelfile lexer (``parser/parser.go`` ``ParseFile``).

The state machine is reproduced rune for rune, because the renderer relies on it to prove
that a written file reads back exactly (see :mod:`.render`). Notable Ollama behaviours kept:

* command words are case-insensitive, PARAMETER names and MESSAGE roles are not;
* ``#`` opens a comment only as the first non-blank character of a line;
* a value ends at the first newline (``\\n`` *or* ``\\r``) where ``unquote(TrimSpace(buf))``
  succeeds, so an inner line ending in ``"`` / ``\"\"\"`` closes a quoted value early;
* no escape sequences; non-printable runes (Go ``strconv.IsPrint``) are dropped silently;
* line numbers count every ``\\r`` and ``\\n`` (CRLF files report about twice the line).

Error messages are Ollama's exact strings; the line (Ollama's numbering) is in ``err.line``.
"""

from __future__ import annotations

import codecs

from pydantic import BaseModel, ConfigDict

from ..errors import ModelfileParseError
from ..gotemplate.goprint import is_print

COMMAND_WORDS: tuple[str, ...] = (
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "draft",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
)
MESSAGE_ROLES: tuple[str, ...] = ("system", "user", "assistant")

ERR_INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", '
    '"renderer", "parser", "parameter", "message", or "requires"'
)
ERR_INVALID_MESSAGE_ROLE = 'message role must be one of "system", "user", or "assistant"'
ERR_UNEXPECTED_EOF = "unexpected EOF"
ERR_MISSING_FROM = "no FROM line"

# Whitespace that can survive into Ollama's value buffer (other Unicode spaces are not
# printable and are dropped before TrimSpace ever sees them).
_BUFFER_WS = frozenset(" \t\r\n")

_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)


class Command(BaseModel):
    """One instruction as Ollama's ``ParseFile`` stores it.

    ``name`` is ``"model"`` for FROM, the lower-cased word for other commands and the
    PARAMETER name verbatim; MESSAGE ``args`` are ``"<role>: <text>"`` like Ollama's.
    ``line`` is where the instruction starts, in Ollama's numbering.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    args: str
    line: int
    # The instruction word, lower-cased ("from", "parameter", ...): Ollama drops it, but
    # forge needs it to refuse ``PARAMETER system x`` (which Ollama would run as SYSTEM).
    keyword: str = ""


class Comment(BaseModel):
    """A ``#`` comment line (text after the ``#``, verbatim) and the line it is on."""

    model_config = ConfigDict(frozen=True)

    text: str
    line: int


class ParsedFile(BaseModel):
    """Commands plus comments, and the line the first command starts on (None if none)."""

    model_config = ConfigDict(frozen=True)

    commands: list[Command]
    comments: list[Comment]
    first_command_line: int | None


def _is_alpha(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _go_byte_replace(exc: UnicodeError) -> tuple[str, int]:
    # Go's UTF-8 decoder yields one U+FFFD per invalid byte (utf8.DecodeRune width 1).
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("ollama_forge.go_replace", _go_byte_replace)


def decode_modelfile(data: bytes) -> str:
    """Decode like Ollama (``unicode.BOMOverride(UTF8)``): UTF-8, or UTF-16 LE/BE with a BOM."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="ollama_forge.go_replace")
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", errors="replace")
    return data.decode("utf-8", errors="ollama_forge.go_replace")


def unquote(text: str) -> tuple[str, bool]:
    """Ollama's ``unquote``: strip ``\"\"\"…\"\"\"`` or ``"…"``; no escapes; ok=False if unclosed."""
    if text.startswith('"""'):
        if len(text) >= 6 and text.endswith('"""'):
            return text[3:-3], True
        return "", False
    if text.startswith('"'):
        if len(text) >= 2 and text.endswith('"'):
            return text[1:-1], True
        return "", False
    return text, True


def _try_unquote(buf: list[str]) -> str | None:
    """``unquote(strings.TrimSpace(buf))`` without joining the buffer unless it succeeds."""
    i, j = 0, len(buf)
    while i < j and buf[i] in _BUFFER_WS:
        i += 1
    while j > i and buf[j - 1] in _BUFFER_WS:
        j -= 1
    size = j - i
    if size >= 3 and buf[i] == buf[i + 1] == buf[i + 2] == '"':
        if size >= 6 and buf[j - 3] == buf[j - 2] == buf[j - 1] == '"':
            return "".join(buf[i + 3 : j - 3])
        return None
    if size >= 1 and buf[i] == '"':
        if size >= 2 and buf[j - 1] == '"':
            return "".join(buf[i + 1 : j - 1])
        return None
    return "".join(buf[i:j])


def _invalid_command(word: str, line: int) -> ModelfileParseError:
    if word.lower() in COMMAND_WORDS:
        hint = (
            f"{word.upper()} must be followed by a space or tab and a value on the same line; "
            'multi-line text goes in """…""".'
        )
    else:
        hint = (
            "Start every instruction with FROM, PARAMETER, TEMPLATE, SYSTEM, ADAPTER, MESSAGE, "
            "LICENSE, REQUIRES, RENDERER, PARSER or DRAFT. If this line belongs to a quoted "
            'value, an earlier line ending in " or """ closed that value early.'
        )
    return ModelfileParseError(
        f"(line {line}): {ERR_INVALID_COMMAND}", hint=hint, line=line, word=word
    )


def scan_modelfile(text: str | bytes) -> ParsedFile:
    """Run Ollama's lexer; also keep comments (Ollama discards them). No FROM check."""
    if isinstance(text, bytes):
        text = decode_modelfile(text)
    commands: list[Command] = []
    comments: list[Comment] = []
    curr = _NIL
    line = 1
    buf: list[str] = []
    name = ""
    keyword = ""
    role = ""
    cmd_line = 1
    comment: list[str] | None = None
    comment_line = 1
    first_line: int | None = None

    for ch in text:
        newline = ch == "\n" or ch == "\r"
        space = ch == " " or ch == "\t"
        if newline:
            line += 1
        # parseRuneForState: (next state, rune to buffer or None)
        nxt = curr
        rune: str | None = ch
        if curr == _NIL:
            if ch == "#":
                nxt, rune = _COMMENT, None
                comment, comment_line = [], line
            elif space or newline:
                rune = None
            else:
                nxt = _NAME
                cmd_line = line
                if first_line is None:
                    first_line = line
        elif curr == _NAME:
            if space:
                nxt, rune = _VALUE, None
            elif not _is_alpha(ch):
                raise _invalid_command("".join(buf), line)
        elif curr == _VALUE:
            if newline or space:
                nxt = _NIL
        elif curr == _PARAMETER:
            if space:
                nxt, rune = _VALUE, None
            elif not (_is_alpha(ch) or "0" <= ch <= "9" or ch == "_"):
                partial = "".join(buf)
                raise ModelfileParseError(
                    f"{ERR_UNEXPECTED_EOF}: {partial}",
                    hint="PARAMETER names use only letters, digits and '_' and are followed by "
                    "a space and the value, e.g. PARAMETER top_k 40.",
                    line=line,
                    partial=partial,
                )
        elif curr == _MESSAGE:
            if space:
                nxt, rune = _VALUE, None
            elif not _is_alpha(ch):
                partial = "".join(buf)
                raise ModelfileParseError(
                    f"{ERR_UNEXPECTED_EOF}: {partial}",
                    hint='Write MESSAGE <role> <text> with role "system", "user" or "assistant".',
                    line=line,
                    partial=partial,
                )
        else:  # comment
            rune = None
            if newline:
                nxt = _NIL
                comments.append(Comment(text="".join(comment or []), line=comment_line))
                comment = None
            elif comment is not None:
                comment.append(ch)

        if nxt != curr:
            if curr == _NAME:
                word = "".join(buf)
                lowered = word.lower()
                if lowered not in COMMAND_WORDS:
                    raise _invalid_command(word, line)
                keyword = lowered
                if lowered == "from":
                    name = "model"
                elif lowered == "parameter":
                    nxt = _PARAMETER
                elif lowered == "message":
                    nxt = _MESSAGE
                    name = "message"
                else:
                    name = lowered
            elif curr == _PARAMETER:
                name = "".join(buf)
            elif curr == _MESSAGE:
                candidate = "".join(buf)
                if candidate not in MESSAGE_ROLES:
                    raise ModelfileParseError(
                        f"(line {line}): {ERR_INVALID_MESSAGE_ROLE}",
                        hint="Roles are lowercase: system, user or assistant.",
                        line=line,
                        role=candidate,
                    )
                role = candidate
            elif curr == _VALUE:
                value = _try_unquote(buf)
                if value is None or space:
                    # Not a terminator: the space/newline itself joins the value.
                    buf.append(ch)
                    continue
                if role:
                    value = f"{role}: {value}"
                    role = ""
                commands.append(Command(name=name, args=value, line=cmd_line, keyword=keyword))
            buf.clear()
            curr = nxt

        if rune is not None and is_print(rune):
            buf.append(rune)

    # flush, as Ollama does at EOF
    if curr == _COMMENT:
        comments.append(Comment(text="".join(comment or []), line=comment_line))
    elif curr == _VALUE:
        value = _try_unquote(buf)
        if value is None:
            raise ModelfileParseError(
                ERR_UNEXPECTED_EOF,
                hint='A quoted value is never closed. End it with the same quote (" or """) at '
                "the end of a line; text after a closing quote is not allowed.",
                line=cmd_line,
            )
        if role:
            value = f"{role}: {value}"
        commands.append(Command(name=name, args=value, line=cmd_line, keyword=keyword))
    elif curr != _NIL:
        raise ModelfileParseError(
            ERR_UNEXPECTED_EOF,
            hint="The last instruction has no value; write it as WORD <value> on one line.",
            line=cmd_line,
        )
    return ParsedFile(commands=commands, comments=comments, first_command_line=first_line)


def parse_commands(text: str | bytes) -> list[Command]:
    """Ollama's ``ParseFile``: the commands in order, or its exact error (incl. ``no FROM line``)."""
    parsed = scan_modelfile(text)
    if not any(cmd.name == "model" for cmd in parsed.commands):
        raise missing_from_error()
    return parsed.commands


def missing_from_error() -> ModelfileParseError:
    return ModelfileParseError(
        ERR_MISSING_FROM, hint="Add a FROM line naming the weights, e.g. FROM ./model.gguf."
    )
