"""A Go text/template engine in pure Python, faithful to Go's output and error texts.

``parse(text, name)`` returns a :class:`Template`; ``Template.execute(data)`` renders it.
Data follows Go's JSON decoding into ``any`` (see :mod:`.values` for typed structs).
"""

from ollama_forge.errors import GoTemplateError

from .template import Template, parse
from .values import FieldSpec, GoBytes, GoMap, GoSlice, Struct, StructType, from_json

__all__ = [
    "FieldSpec",
    "GoBytes",
    "GoMap",
    "GoSlice",
    "GoTemplateError",
    "Struct",
    "StructType",
    "Template",
    "from_json",
    "parse",
]
