"""Go literal syntax: strconv.Quote, strconv.Unquote and the number rules of parse.newNumber."""

from __future__ import annotations

import re

from .goprint import is_print


def go_quote(s: str) -> str:
    """strconv.Quote: double-quoted Go string literal with Go's escapes."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\v":
            out.append("\\v")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF or (o == 0xFFFD and ch != "\ufffd"):
            out.append("\\ufffd")
        elif not is_print(ch):
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) syntax (range checked by the caller)."""
    body = text[1:] if text[:1] in "+-" else text
    sign = -1 if text.startswith("-") else 1
    if re.fullmatch(r"0[0-7_]+", body) and not body.endswith("_") and "__" not in body:
        return sign * int(body[1:].replace("_", ""), 8)
    if re.fullmatch(r"[0-9a-fA-FxXoObB_]+", body) is None:
        return None
    try:
        return sign * int(body, 0)
    except ValueError:
        return None


def _go_parse_float(text: str) -> float | None:
    try:
        if re.match(r"[+-]?0[xX]", text):
            return float.fromhex(text.replace("_", ""))
        if re.fullmatch(r"[+-]?[0-9_.eE+-]+", text) is None:
            return None
        return float(text)
    except ValueError:
        return None


def parse_go_number(text: str) -> tuple[bool, int, bool, float]:
    """(is_int, int, is_float, float) as parse.newNumber decides; ValueError(message) if bad."""
    ival = _go_parse_int(text)
    if ival is not None and -(2**63) <= ival < 2**63:
        return True, ival, True, float(ival)
    if ival is not None and 0 <= ival < 2**64:
        return False, 0, True, float(ival)  # uint only: idealConstant reports the overflow
    fval = _go_parse_float(text)
    if fval is None or fval != fval or fval in (float("inf"), float("-inf")):
        raise ValueError(f"illegal number syntax: {go_quote(text)}")
    if not any(c in text for c in ".eEpP"):
        raise ValueError(f"integer overflow: {go_quote(text)}")
    if fval == int(fval) and -(2**63) <= fval < 2**63:
        return True, int(fval), True, fval
    return False, 0, True, fval


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


def go_unquote(quoted: str) -> str | None:
    """strconv.Unquote for "...", `...` and '...' literals (None when invalid)."""
    if len(quoted) < 2 or quoted[0] != quoted[-1] or quoted[0] not in "\"'`":
        return None
    q, body = quoted[0], quoted[1:-1]
    if q == "`":
        return None if "`" in body else body.replace("\r", "")
    if "\n" in body:
        return None
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == q:
            return None
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            return None
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e == q:
            out.append(q)
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or re.fullmatch(r"[0-9a-fA-F]+", digits) is None:
                return None
            code = int(digits, 16)
            if e != "x" and (code > 0x10FFFF or 0xD800 <= code <= 0xDFFF):
                return None
            # A \x byte >= 0x80 is a raw byte in Go; keep it as a surrogate escape.
            out.append(chr(0xDC00 + code) if e == "x" and code >= 0x80 else chr(code))
            i += 2 + width
        elif e in "01234567":
            digits = body[i + 1 : i + 4]
            if (
                len(digits) != 3
                or re.fullmatch(r"[0-7]{3}", digits) is None
                or int(digits, 8) > 255
            ):
                return None
            code = int(digits, 8)
            out.append(chr(0xDC00 + code) if code >= 0x80 else chr(code))
            i += 4
        else:
            return None
    value = "".join(out)
    if q == "'" and len(value) != 1:
        return None
    return value
