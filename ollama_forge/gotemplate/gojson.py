"""encoding/json.Marshal as Ollama's ``json`` template function sees it.

Compact output, map keys sorted, HTML-escaped strings (<, >, & as \\u003c ...), struct
fields by their json tags with omitempty, []byte as base64, NaN/Inf unsupported.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from .values import GoMap, GoSlice, Struct


class UnsupportedValue(ValueError):
    """json.Marshal would fail (NaN or infinite float)."""


def marshal(value: Any) -> str:
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def encode_string(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif o < 0x20 or ch in "<>&":
            out.append(f"\\u00{o:02x}")
        elif o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")  # invalid UTF-8 (a raw byte) becomes U+FFFD
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def encode_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        raise UnsupportedValue(f"json: unsupported value: {f}")
    from .gofmt import _exp_form, _shortest_digits, _shortest_fixed

    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        digits, exp = _shortest_digits(f)
        s = _exp_form(f, digits, exp)
        # Go cleans e-09 to e-9 (and e+21 keeps its form).
        mant, _, e = s.partition("e")
        sign, num = e[0], e[1:].lstrip("0") or "0"
        return f"{mant}e{sign}{num}"
    return _shortest_fixed(f)


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, (str, list, dict, bytes)):
        return len(value) == 0
    return False


def _encode(value: Any, out: list[str]) -> None:
    hook = getattr(value, "json_hook", None)
    if hook is not None:
        out.append(hook(value))
        return
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(encode_float(value))
    elif isinstance(value, str):
        out.append(encode_string(value))
    elif isinstance(value, bytes):
        out.append('"' + base64.b64encode(value).decode("ascii") + '"')
    elif isinstance(value, Struct):
        out.append("{")
        first = True
        for f in value.stype.fields:
            if f.json == "-":
                continue
            v = value.values.get(f.name)
            if f.omitempty and _empty(v):
                continue
            if not first:
                out.append(",")
            first = False
            out.append(encode_string(f.json or f.name) + ":")
            _encode(v, out)
        out.append("}")
    elif isinstance(value, (GoSlice, GoMap)) and value.nil:
        out.append("null")
    elif isinstance(value, dict):
        keys = list(value) if getattr(value, "ordered", False) else sorted(value)
        out.append("{")
        for i, k in enumerate(keys):
            if i:
                out.append(",")
            out.append(encode_string(k) + ":")
            _encode(value[k], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    else:
        raise UnsupportedValue(f"json: unsupported type: {type(value).__name__}")
