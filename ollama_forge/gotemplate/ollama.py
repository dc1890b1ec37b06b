"""Ollama's template-facing Go types (template/template.go, api/types.go) as engine values.

``.Messages`` holds ``[]*template.templateMessage``, ``.Tools`` is ``template.templateTools``
(prints as JSON), tool-call arguments are ``template.templateArgs`` (prints as JSON) and tool
parameter properties are ``template.templateProperties`` of ``api.ToolProperty`` structs.
Modelling them as typed structs makes ``.Foo`` on a message fail exactly as in Ollama.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ollama_forge.errors import UsageError

from . import gojson
from .values import FieldSpec, GoBytes, GoMap, GoSlice, Struct, StructType, from_json

S, ANY = "string", "interface {}"


def _json_or_empty(v: Any) -> str:
    return "{}" if getattr(v, "nil", False) else gojson.marshal(v)


def _property_type_str(v: Any) -> str:
    if len(v) == 0:
        return ""
    return v[0] if len(v) == 1 else "[" + " ".join(v) + "]"


def _property_type_json(v: Any) -> str:
    if len(v) == 1:
        return gojson.encode_string(v[0])
    return "null" if getattr(v, "nil", False) else gojson.marshal(list(v))


TOOL_PROPERTY = StructType(
    "api.ToolProperty",
    (
        FieldSpec("AnyOf", "[]api.ToolProperty", "anyOf", True),
        FieldSpec("Type", "api.PropertyType", "type", True),
        FieldSpec("Items", ANY, "items", True),
        FieldSpec("Description", S, "description", True),
        FieldSpec("Enum", "[]interface {}", "enum", True),
        FieldSpec("Properties", "*api.ToolPropertiesMap", "properties", True),
        FieldSpec("Required", "[]string", "required", True),
    ),
)
PARAMETERS = StructType(
    "template.templateToolFunctionParameters",
    (
        FieldSpec("Type", S, "type"),
        FieldSpec("Defs", ANY, "$defs", True),
        FieldSpec("Items", ANY, "items", True),
        FieldSpec("Required", "[]string", "required", True),
        FieldSpec("Properties", "template.templateProperties", "properties"),
    ),
)
TOOL_FUNCTION = StructType(
    "template.templateToolFunction",
    (
        FieldSpec("Name", S, "name"),
        FieldSpec("Description", S, "description"),
        FieldSpec("Parameters", PARAMETERS.name, "parameters"),
    ),
)
TOOL = StructType(
    "template.templateTool",
    (
        FieldSpec("Type", S, "type"),
        FieldSpec("Items", ANY, "items", True),
        FieldSpec("Function", TOOL_FUNCTION.name, "function"),
    ),
)
TOOL_CALL_FUNCTION = StructType(
    "template.templateToolCallFunction",
    (
        FieldSpec("Index", "int"),
        FieldSpec("Name", S),
        FieldSpec("Arguments", "template.templateArgs"),
    ),
)
TOOL_CALL = StructType(
    "template.templateToolCall",
    (
        FieldSpec("ID", S),
        FieldSpec("Function", TOOL_CALL_FUNCTION.name),
    ),
)
MESSAGE = StructType(
    "template.templateMessage",
    (
        FieldSpec("Role", S),
        FieldSpec("Content", S),
        FieldSpec("Thinking", S),
        FieldSpec("Images", "[]api.ImageData"),
        FieldSpec("ToolCalls", "[]template.templateToolCall"),
        FieldSpec("ToolName", S),
        FieldSpec("ToolCallID", S),
    ),
)


def _strings(v: Any, what: str) -> GoSlice:
    if v is None:
        return GoSlice(type_name="[]string", nil=True)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _bad(what, "a list of strings")
    return GoSlice(v, type_name="[]string")


def _bad(what: str, expected: str) -> UsageError:
    return UsageError(
        f"{what} must be {expected}",
        hint="Use Ollama's JSON shapes for messages and tools (/api/chat).",
    )


def tool_property(d: Any, what: str = "tool property") -> Struct:
    if not isinstance(d, dict):
        raise _bad(what, "an object")
    raw_type = d.get("type")
    if raw_type is None:
        ptype = GoSlice(type_name="api.PropertyType", nil=True)
    elif isinstance(raw_type, str):
        ptype = GoSlice([raw_type], type_name="api.PropertyType")
    else:
        ptype = GoSlice(_strings(raw_type, f"{what}.type"), type_name="api.PropertyType")
    ptype.stringer = _property_type_str
    ptype.json_hook = _property_type_json  # type: ignore[attr-defined]
    any_of = d.get("anyOf")
    props = d.get("properties")
    nested: GoMap | None = None
    if props is not None:
        if not isinstance(props, dict):
            raise _bad(f"{what}.properties", "an object")
        # *api.ToolPropertiesMap: an ordered map behind a pointer (no fields, not rangeable).
        nested = GoMap(
            {k: tool_property(v, f"{what}.properties.{k}") for k, v in props.items()},
            type_name="*api.ToolPropertiesMap",
        )
        nested.ordered = True  # type: ignore[attr-defined]
        nested.opaque = True  # type: ignore[attr-defined]
    enum = d.get("enum")
    desc = d.get("description", "")
    if not isinstance(desc, str):
        raise _bad(f"{what}.description", "a string")
    return Struct(
        TOOL_PROPERTY,
        {
            "AnyOf": GoSlice(
                [tool_property(p, f"{what}.anyOf") for p in any_of] if any_of else [],
                type_name="[]api.ToolProperty",
                nil=not any_of,
            ),
            "Type": ptype,
            "Items": from_json(d.get("items")),
            "Description": desc,
            "Enum": GoSlice(
                from_json(enum) if enum else [],
                type_name="[]interface {}",
                elem_iface=True,
                nil=not enum,
            ),
            "Properties": nested,
            "Required": _strings(d.get("required"), f"{what}.required"),
        },
    )


def _zero_property() -> Struct:
    return tool_property({})


def tools_value(tools: list[dict[str, Any]] | None) -> GoSlice:
    """convertToolsForTemplate: ``template.templateTools`` (nil when no tools)."""
    out = GoSlice(
        type_name="template.templateTools", nil=tools is None, stringer=lambda v: gojson.marshal(v)
    )
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, dict):
            raise _bad(f"tools[{i}]", "an object")
        fn = tool.get("function") or {}
        params = fn.get("parameters") or {}
        if not isinstance(fn, dict) or not isinstance(params, dict):
            raise _bad(f"tools[{i}].function", "an object with an object 'parameters'")
        raw_props = params.get("properties")
        props = GoMap(
            {
                k: tool_property(v, f"tools[{i}].parameters.properties.{k}")
                for k, v in (raw_props or {}).items()
            },
            type_name="template.templateProperties",
            nil=raw_props is None,
            stringer=_json_or_empty,
        )
        props.zero = _zero_property  # type: ignore[attr-defined]
        out.append(
            Struct(
                TOOL,
                {
                    "Type": str(tool.get("type", "")),
                    "Items": from_json(tool.get("items")),
                    "Function": Struct(
                        TOOL_FUNCTION,
                        {
                            "Name": str(fn.get("name", "")),
                            "Description": str(fn.get("description", "")),
                            "Parameters": Struct(
                                PARAMETERS,
                                {
                                    "Type": str(params.get("type", "")),
                                    "Defs": from_json(params.get("$defs")),
                                    "Items": from_json(params.get("items")),
                                    "Required": _strings(
                                        params.get("required"), f"tools[{i}].parameters.required"
                                    ),
                                    "Properties": props,
                                },
                            ),
                        },
                    ),
                },
            )
        )
    return out


def _image(data: Any) -> GoBytes:
    if isinstance(data, (bytes, bytearray)):
        return GoBytes(bytes(data), "api.ImageData")
    try:
        return GoBytes(base64.b64decode(str(data), validate=True), "api.ImageData")
    except (binascii.Error, ValueError) as err:
        raise _bad("images[]", "base64-encoded image data") from err


def message_value(msg: Any) -> Struct:
    """A collated ChatMessage as ``*template.templateMessage``."""
    calls = GoSlice(type_name="[]template.templateToolCall", nil=not msg.tool_calls)
    for call in msg.tool_calls:
        args = call.function.arguments
        arguments = GoMap(
            from_json(args) if args is not None else {},
            type_name="template.templateArgs",
            elem_iface=True,
            nil=args is None,
            stringer=_json_or_empty,
        )
        calls.append(
            Struct(
                TOOL_CALL,
                {
                    "ID": call.id,
                    "Function": Struct(
                        TOOL_CALL_FUNCTION,
                        {
                            "Index": call.function.index,
                            "Name": call.function.name,
                            "Arguments": arguments,
                        },
                    ),
                },
            )
        )
    images = GoSlice(
        [_image(i) for i in msg.images], type_name="[]api.ImageData", nil=not msg.images
    )
    return Struct(
        MESSAGE,
        {
            "Role": msg.role,
            "Content": msg.content,
            "Thinking": msg.thinking,
            "Images": images,
            "ToolCalls": calls,
            "ToolName": msg.tool_name,
            "ToolCallID": msg.tool_call_id,
        },
        pointer=True,
    )


def messages_value(messages: list[Any]) -> GoSlice:
    return GoSlice(
        [message_value(m) for m in messages],
        type_name="[]*template.templateMessage",
        nil=not messages,
    )
