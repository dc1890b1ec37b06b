"""text/template's builtin functions (funcs.go) and Ollama's FuncMap (template/template.go).

Each function receives already-evaluated arguments and raises :class:`FuncError` where the
Go function returns an error; the executor wraps it as "error calling NAME: ...".
"""

from __future__ import annotations

import datetime as _dt
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import gojson
from .gofmt import sprint, sprintf, sprintln
from .goprint import is_print
from .values import GoBytes, GoMap, GoSlice, GoUint8, Struct, kind, type_name


class FuncError(Exception):
    """The Go function returned an error (message as Go formats it)."""


@dataclass(frozen=True)
class Func:
    fn: Callable[..., Any]
    fixed: tuple[str, ...]  # parameter kinds: "value" (reflect.Value), "any", "string"
    variadic: str | None = None


# -- comparison (funcs.go basicKind / eq / lt) ------------------------------------------

_BAD_CMP = "incompatible types for comparison"
_BAD_CMP_TYPE = "invalid type for comparison"


def _basic_kind(v: Any) -> str:
    k = kind(v)
    if k in ("bool", "int", "float", "string"):
        return k
    return "invalid"


def _eq(arg1: Any, *others: Any) -> bool:
    if not others:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in others:
        k2 = _basic_kind(arg)
        truth = False
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise FuncError(f"{_BAD_CMP}: {type_name(arg1)} and {type_name(arg)}")
        elif k1 != "invalid":
            truth = arg1 == arg
        else:
            # Non-basic kinds (structs, pointers, slices, maps): Go's == with its rules.
            if kind(arg1) != kind(arg) and arg1 is not None and arg is not None:
                raise FuncError(
                    f"non-comparable types {_v(arg1)}: {type_name(arg1)}, {type_name(arg)}: {_v(arg)}"
                )
            if arg1 is None or arg is None or _nil(arg1) or _nil(arg):
                truth = (arg1 is None or _nil(arg1)) == (arg is None or _nil(arg))
            else:
                if not _comparable(arg):
                    raise FuncError(f"non-comparable type {_v(arg)}: {type_name(arg)}")
                truth = arg1 == arg
        if truth:
            return True
    return False


def _comparable(v: Any) -> bool:
    """reflect.Type.Comparable: pointers yes; slices and maps no; structs if every
    non-interface field is."""
    if isinstance(v, Struct):
        if v.pointer:
            return True
        return all(f.iface or _comparable(v.values.get(f.name)) for f in v.stype.fields)
    return not isinstance(v, (list, dict, bytes))


def _nil(v: Any) -> bool:
    return isinstance(v, (GoSlice, GoMap)) and v.nil


def _v(v: Any) -> str:
    """fmt's %s of a reflect.Value (the verb applies to each element)."""
    from .gofmt import _Spec, format_value

    spec = _Spec()
    spec.verb = "s"
    return format_value(v, spec, 0)


def _lt(arg1: Any, arg2: Any) -> bool:
    k1 = _basic_kind(arg1)
    if k1 == "invalid":
        raise FuncError(_BAD_CMP_TYPE)
    k2 = _basic_kind(arg2)
    if k2 == "invalid":
        raise FuncError(_BAD_CMP_TYPE)
    if k1 != k2:
        raise FuncError(f"{_BAD_CMP}: {type_name(arg1)} and {type_name(arg2)}")
    if k1 == "bool":
        raise FuncError(_BAD_CMP_TYPE)
    if k1 == "string":
        # Go compares strings bytewise (UTF-8), which orders like code points.
        return bool(arg1 < arg2)
    return bool(arg1 < arg2)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


# -- len / index / slice -------------------------------------------------------------------


def _len(item: Any) -> int:
    if item is None:
        raise FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogateescape"))
    if isinstance(item, GoMap) and getattr(item, "opaque", False):
        raise FuncError(f"len of type {item.type_name[1:]}")
    if isinstance(item, (list, dict, bytes)):
        return len(item)
    if isinstance(item, Struct):
        raise FuncError(f"len of type {item.stype.name}")
    raise FuncError(f"len of type {type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None:
        raise FuncError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise FuncError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("index of untyped nil")
    for index in indexes:
        if isinstance(item, (str, list, bytes)):
            seq = item.encode("utf-8", "surrogateescape") if isinstance(item, str) else item
            x = _index_arg(index, len(seq))
            if x == len(seq):  # reflect's Index panics; text/template reports the panic
                raise FuncError(
                    f"reflect: {'string' if isinstance(item, str) else 'slice'} index out of range"
                )
            item = GoUint8(seq[x]) if isinstance(item, (str, bytes)) else seq[x]
        elif isinstance(item, dict) and not getattr(item, "opaque", False):
            if index is None:
                raise FuncError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise FuncError(f"value has type {type_name(index)}; should be string")
            if index in item:
                item = item[index]
            else:
                zero = getattr(item, "zero", None)
                item = zero() if zero is not None else None
        elif item is None:
            raise FuncError("index of nil pointer")
        else:
            name = item.type_name if isinstance(item, (Struct, GoMap)) else type_name(item)
            raise FuncError(
                f"can't index item of type {name.lstrip('*') if isinstance(item, Struct) else name}"
            )
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode("utf-8", "surrogateescape")
    elif isinstance(item, (list, bytes)):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(seq), len(seq)]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(seq))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = seq[idx[0] : idx[1]]
    if isinstance(item, str):
        return part.decode("utf-8", "surrogateescape")
    if isinstance(item, GoSlice):
        return GoSlice(
            part, type_name=item.type_name, elem_iface=item.elem_iface, stringer=item.stringer
        )
    if isinstance(item, GoBytes):
        return GoBytes(part, item.type_name)
    return part


def _not(arg: Any) -> bool:
    from .values import is_true

    return not is_true(arg)


def _no_value_args(args: tuple[Any, ...]) -> str:
    """evalArgs in funcs.go: one string is used as is, else fmt.Sprint of printable values."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(["<no value>" if a is None else a for a in args])


def _html(*args: Any) -> str:
    s = _no_value_args(args)
    table = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in s)


def _js(*args: Any) -> str:
    s = _no_value_args(args)
    out = []
    for c in s:
        if c in "\\'\"":
            out.append("\\" + c)
        elif c in "<>&=" or ord(c) < 0x20 or (not is_print(c) and ord(c) >= 0x80):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_no_value_args(args), safe="-_.~")


def _call(fn: Any, *args: Any) -> Any:
    raise FuncError(f"non-function of type {type_name(fn)}")


# -- Ollama's functions --------------------------------------------------------------------


def _json(v: Any) -> str:
    try:
        return gojson.marshal(v)
    except gojson.UnsupportedValue:
        return ""  # Ollama discards json.Marshal's error


def _current_date(*_format: str) -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d")


def _yesterday_date(*_format: str) -> str:
    return (_dt.datetime.now() - _dt.timedelta(days=1)).strftime("%Y-%m-%d")


_TS = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "array": "any[]",
    "object": "Record<string, any>",
    "null": "null",
}


def to_typescript_type(v: Any) -> str:
    """api.ToolProperty.ToTypeScriptType for a ToolProperty struct, else "any"."""
    if not isinstance(v, Struct) or v.stype.name != "api.ToolProperty":
        return "any"
    any_of = v.values.get("AnyOf") or []
    if any_of:
        return " | ".join(to_typescript_type(p) for p in any_of)
    types = list(v.values.get("Type") or [])
    if not types:
        return "any"
    return " | ".join(_TS.get(t, "any") for t in types)


BUILTINS: dict[str, Func] = {
    "and": Func(lambda *a: a[-1], ("value",), "value"),
    "or": Func(lambda *a: a[-1], ("value",), "value"),
    "not": Func(_not, ("value",)),
    "len": Func(_len, ("value",)),
    "index": Func(_index, ("value",), "value"),
    "slice": Func(_slice, ("value",), "value"),
    "eq": Func(_eq, ("value",), "value"),
    "ne": Func(_ne, ("value", "value")),
    "lt": Func(_lt, ("value", "value")),
    "le": Func(_le, ("value", "value")),
    "gt": Func(_gt, ("value", "value")),
    "ge": Func(_ge, ("value", "value")),
    "print": Func(lambda *a: sprint(list(a)), (), "any"),
    "println": Func(lambda *a: sprintln(list(a)), (), "any"),
    "printf": Func(lambda f, *a: sprintf(f, list(a)), ("string",), "any"),
    "html": Func(_html, (), "any"),
    "js": Func(_js, (), "any"),
    "urlquery": Func(_urlquery, (), "any"),
    "call": Func(_call, ("value",), "value"),
}

OLLAMA_FUNCS: dict[str, Func] = {
    "json": Func(_json, ("any",)),
    "currentDate": Func(_current_date, (), "string"),
    "yesterdayDate": Func(_yesterday_date, (), "string"),
    "toTypeScriptType": Func(to_typescript_type, ("any",)),
}
