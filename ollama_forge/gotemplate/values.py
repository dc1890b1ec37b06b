"""The Go data model the engine executes against.

Plain Python values stand for what ``encoding/json`` decodes into ``any``: str -> string,
bool, int -> int, float -> float64, None -> nil, list -> []interface {}, dict ->
map[string]interface {}. Go's *typed* values (Ollama's structs, named slice and map types
with String() methods) are modelled by :class:`Struct`, :class:`GoSlice`, :class:`GoMap`
and :class:`GoBytes` so field errors, printing and JSON follow the real types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type_name: str  # Go static type, e.g. "string", "[]string", "interface {}"
    json: str | None = None  # JSON key; None = the Go field name
    omitempty: bool = False

    @property
    def iface(self) -> bool:
        return self.type_name == "interface {}"


@dataclass(frozen=True)
class StructType:
    name: str  # qualified, e.g. "template.templateMessage"
    fields: tuple[FieldSpec, ...]
    stringer: Callable[[Struct], str] | None = None  # a String() method, if any

    def field(self, name: str) -> FieldSpec | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


class Struct:
    """A Go struct value (or pointer to one when ``pointer``)."""

    __slots__ = ("pointer", "stype", "values")

    def __init__(self, stype: StructType, values: dict[str, Any], pointer: bool = False) -> None:
        self.stype = stype
        self.values = values
        self.pointer = pointer

    @property
    def type_name(self) -> str:
        return ("*" if self.pointer else "") + self.stype.name

    def __repr__(self) -> str:
        return f"Struct({self.type_name}, {self.values!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Struct):
            return NotImplemented
        if self.pointer or other.pointer:
            return self is other
        return self.stype is other.stype and self.values == other.values

    __hash__ = None  # type: ignore[assignment]


class GoSlice(list[Any]):
    """A typed Go slice: ``type_name`` like "[]string"; ``nil`` for a nil slice."""

    def __init__(
        self,
        items: Any = (),
        *,
        type_name: str,
        elem_iface: bool = False,
        nil: bool = False,
        stringer: Callable[[GoSlice], str] | None = None,
    ) -> None:
        super().__init__(items)
        self.type_name = type_name
        self.elem_iface = elem_iface
        self.nil = nil and not self
        self.stringer = stringer


class GoMap(dict[str, Any]):
    """A typed Go map with string keys."""

    def __init__(
        self,
        items: Any = (),
        *,
        type_name: str,
        elem_iface: bool = False,
        nil: bool = False,
        stringer: Callable[[GoMap], str] | None = None,
    ) -> None:
        super().__init__(items)
        self.type_name = type_name
        self.elem_iface = elem_iface
        self.nil = nil and not self
        self.stringer = stringer


class GoBytes(bytes):
    """A named []byte type (api.ImageData)."""

    type_name = "[]uint8"

    def __new__(cls, data: bytes, type_name: str = "[]uint8") -> GoBytes:
        obj = super().__new__(cls, data)
        obj.type_name = type_name
        return obj


class GoUint8(int):
    """A byte (uint8), what ``index`` yields on a string or []byte."""

    __slots__ = ()


def type_name(value: Any) -> str:
    """The Go dynamic type of ``value`` as reflect prints it."""
    if value is None:
        return "<nil>"
    if isinstance(value, GoUint8):
        return "uint8"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (Struct, GoSlice, GoMap, GoBytes)):
        return value.type_name
    if isinstance(value, bytes):
        return "[]uint8"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if callable(value):
        return "func"
    return type(value).__name__


def kind(value: Any) -> str:
    """reflect.Kind of a (non-interface) value."""
    if value is None:
        return "invalid"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Struct):
        return "ptr" if value.pointer else "struct"
    if isinstance(value, (list, bytes)):
        return "slice"
    if isinstance(value, dict):
        return "map"
    return "func"


def is_true(value: Any) -> bool:
    """text/template's truth: zero values and empty containers are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, (str, list, dict, bytes)):
        return len(value) > 0
    return True  # structs and non-nil pointers


def from_json(value: Any) -> Any:
    """Convert json.loads output to what Go's json decoding into ``any`` yields (numbers
    become float64)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): from_json(v) for k, v in value.items()}
    return value
