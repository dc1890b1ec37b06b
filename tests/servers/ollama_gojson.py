"""Go's encoding/json as Ollama's server speaks it, for the local Ollama test server.

* :func:`dumps`: compact, struct fields in the order given (Python dicts keep it), maps sorted
  when wrapped in :class:`GoMap`, ``<>&`` escaped as ``\\u003c``..., floats in Go's format
  (``0.00001``, ``1e-7``), no trailing newline (gin's ``c.JSON``);
* :func:`decode`: the first JSON value of a request body with Go's error texts (``unexpected
  EOF``, ``invalid character 'h' in literal true (expecting 'r')``, ``json: cannot unmarshal
  array into Go struct field ShowRequest.verbose of type bool``), trailing data ignored like
  ``json.Decoder``.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any


class GoMap(dict):  # type: ignore[type-arg,unused-ignore]
    """A Go map: encoded with sorted keys."""


def _string(s: str) -> str:
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
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'f' or 'e', -1, 64) as encoding/json picks it."""
    if f == 0:
        return "0"
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        mant, _, exp = repr(f).partition("e")
        if not exp:
            mant, _, exp = f"{f:e}".partition("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        return f"{mant}e{sign}{digits}"
    text = format(Decimal(repr(f)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def dumps(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("json: unsupported value")
        return go_float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        keys = sorted(value) if isinstance(value, GoMap) else list(value)
        return "{" + ",".join(f"{_string(str(k))}:{dumps(value[k])}" for k in keys) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")


def go_quote(s: str) -> str:
    """strconv.Quote (printable runes kept, others escaped)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_v(value: Any) -> str:
    """fmt ``%#v`` of a JSON-decoded value (what /api/show's ``parameters`` prints)."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)
        if "e" in text:
            mant, _, exp = text.partition("e")
            return f"{mant}e{exp[0]}{exp[1:].zfill(2)}"
        return text
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_v(v) for v in value) + "}"
    if isinstance(value, dict):
        return (
            "map[string]interface {}{"
            + ", ".join(f"{go_quote(k)}:{go_v(v)}" for k, v in sorted(value.items()))
            + "}"
        )
    if value is None:
        return "<nil>"
    return str(value)


# --- decoding ---------------------------------------------------------------------------------


class GoDecodeError(ValueError):
    """A request body Go's decoder refuses; ``str()`` is Go's message."""


def _quote_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    q = go_quote(ch)
    return "'" + q[1:-1] + "'"


class _Scanner:
    """Enough of encoding/json's scanner to report its messages for the first value."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def _ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def _peek(self) -> str:
        if self.i >= len(self.s):
            raise GoDecodeError("unexpected EOF")
        return self.s[self.i]

    def value(self) -> None:
        self._ws()
        ch = self._peek()
        if ch == "{":
            self.i += 1
            self._object()
        elif ch == "[":
            self.i += 1
            self._array()
        elif ch == '"':
            self._string()
        elif ch in "-0123456789":
            self._number()
        elif ch in "tfn":
            self._literal({"t": "true", "f": "false", "n": "null"}[ch])
        else:
            raise GoDecodeError(
                f"invalid character {_quote_char(ch)} looking for beginning of value"
            )

    def _literal(self, word: str) -> None:
        for k, expected in enumerate(word):
            ch = self._peek()
            if ch != expected:
                raise GoDecodeError(
                    f"invalid character {_quote_char(ch)} in literal {word} (expecting {_quote_char(expected)})"
                )
            self.i += 1
            del k

    def _string(self) -> None:
        self.i += 1
        while True:
            ch = self._peek()
            self.i += 1
            if ch == '"':
                return
            if ch == "\\":
                esc = self._peek()
                self.i += 1
                if esc == "u":
                    for _ in range(4):
                        h = self._peek()
                        if h not in "0123456789abcdefABCDEF":
                            raise GoDecodeError(
                                f"invalid character {_quote_char(h)} in \\u hexadecimal character escape"
                            )
                        self.i += 1
                elif esc not in '"\\/bfnrt':
                    raise GoDecodeError(
                        f"invalid character {_quote_char(esc)} in string escape code"
                    )
            elif ord(ch) < 0x20:
                raise GoDecodeError(f"invalid character {_quote_char(ch)} in string literal")

    def _number(self) -> None:
        m = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?").match(self.s, self.i)
        if not m or not m.group(0) or m.group(0) == "-":
            self.i += 1
            ch = self._peek()
            raise GoDecodeError(f"invalid character {_quote_char(ch)} in numeric literal")
        self.i = m.end()

    def _object(self) -> None:
        self._ws()
        if self._peek() == "}":
            self.i += 1
            return
        while True:
            self._ws()
            ch = self._peek()
            if ch != '"':
                raise GoDecodeError(
                    f"invalid character {_quote_char(ch)} looking for beginning of object key string"
                )
            self._string()
            self._ws()
            ch = self._peek()
            if ch != ":":
                raise GoDecodeError(f"invalid character {_quote_char(ch)} after object key")
            self.i += 1
            self.value()
            self._ws()
            ch = self._peek()
            self.i += 1
            if ch == "}":
                return
            if ch != ",":
                raise GoDecodeError(
                    f"invalid character {_quote_char(ch)} after object key:value pair"
                )

    def _array(self) -> None:
        self._ws()
        if self._peek() == "]":
            self.i += 1
            return
        while True:
            self.value()
            self._ws()
            ch = self._peek()
            self.i += 1
            if ch == "]":
                return
            if ch != ",":
                raise GoDecodeError(f"invalid character {_quote_char(ch)} after array element")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


#: Go field types of the request structs forge and the recordings use (api/types.go)
_STRING, _BOOL, _MAP = "string", "bool", "map[string]interface {}"
SCHEMAS: dict[str, dict[str, str]] = {
    "GenerateRequest": {
        "model": _STRING,
        "prompt": _STRING,
        "suffix": _STRING,
        "system": _STRING,
        "template": _STRING,
        "context": "[]int",
        "stream": _BOOL,
        "raw": _BOOL,
        "images": "[]api.ImageData",
        "options": _MAP,
        "truncate": _BOOL,
        "shift": _BOOL,
    },
    "ChatRequest": {
        "model": _STRING,
        "messages": "[]api.Message",
        "stream": _BOOL,
        "tools": "api.Tools",
        "options": _MAP,
        "truncate": _BOOL,
        "shift": _BOOL,
    },
    "ShowRequest": {
        "model": _STRING,
        "name": _STRING,
        "system": _STRING,
        "template": _STRING,
        "verbose": _BOOL,
        "options": _MAP,
    },
    "CreateRequest": {
        "model": _STRING,
        "name": _STRING,
        "stream": _BOOL,
        "quantize": _STRING,
        "from": _STRING,
        "files": "map[string]string",
        "adapters": "map[string]string",
        "draft_files": "map[string]string",
        "template": _STRING,
        "system": _STRING,
        "parameters": _MAP,
        "messages": "[]api.Message",
        "renderer": _STRING,
        "parser": _STRING,
        "requires": _STRING,
        "info": _MAP,
    },
    "DeleteRequest": {"model": _STRING, "name": _STRING},
    "CopyRequest": {"source": _STRING, "destination": _STRING},
}
_ACCEPTS = {
    _STRING: ("string",),
    _BOOL: ("bool",),
    _MAP: ("object",),
    "map[string]string": ("object",),
    "[]int": ("array",),
    "[]api.ImageData": ("array",),
    "[]api.Message": ("array",),
    "api.Tools": ("array",),
}


def decode(body: bytes, struct: str) -> dict[str, Any]:
    """The request object, or :class:`GoDecodeError` with Go's message (gin ShouldBindJSON)."""
    text = body.decode("utf-8", "replace")
    if not text.strip():
        raise GoDecodeError("missing request body")
    scanner = _Scanner(text)
    scanner.value()
    start = len(text) - len(text.lstrip(" \t\r\n"))
    value, _ = json.JSONDecoder().raw_decode(text, start)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GoDecodeError(
            f"json: cannot unmarshal {_kind(value)} into Go value of type api.{struct}"
        )
    for key, go_type in SCHEMAS.get(struct, {}).items():
        if key in value and value[key] is not None and _kind(value[key]) not in _ACCEPTS[go_type]:
            raise GoDecodeError(
                f"json: cannot unmarshal {_kind(value[key])} into Go struct field {struct}.{key} of type {go_type}"
            )
    return value
