"""Ollama's tool-call parser for models served through a Go TEMPLATE, ported from Go.

On the Go TEMPLATE path Ollama does not know a model's tool-call format: it derives a *tag*
from the TEMPLATE (the first non-blank text inside the ``{{ if .ToolCalls }}`` block, cut at
``{``; ``{`` when there is none) and scans the model's output for that tag, a tool name and a
JSON object of arguments. Port of ``tools/template.go`` (``parseTag``) and ``tools/tools.go``
(``Parser``) of ollama/ollama as read for v0.33.0-rc2, plus the way ``server/routes.go``
ChatHandler feeds it (:func:`simulate_chat`). Everything works on UTF-8 bytes, as Go does.

Where Go iterates a map (``findObject`` over a JSON object's values, the arguments handed to
``args.Set``) its order is random; this port uses the object's own order, so only outputs that
do not depend on that order are reproducible (the conformance cases avoid such inputs).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from ollama_forge.fidelity.ollama_prompt import ollama_parse
from ollama_forge.gotemplate import Template
from ollama_forge.gotemplate import nodes as n

__all__ = [
    "GO_SPACE",
    "ParsedToolCall",
    "ToolCallParser",
    "find_arguments",
    "go_trim_space",
    "parse_tag",
]

# unicode.IsSpace: Python's str.isspace also counts U+001C..U+001F, Go does not.
GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def go_trim_space(text: str) -> str:
    """strings.TrimSpace."""
    start, end = 0, len(text)
    while start < end and text[start] in GO_SPACE:
        start += 1
    while end > start and text[end - 1] in GO_SPACE:
        end -= 1
    return text[start:end]


def _decode(data: bytes) -> str:
    # Lossless: invalid UTF-8 survives as surrogate escapes (Go keeps raw bytes in strings).
    return data.decode("utf-8", "surrogateescape")


# --- tools/template.go ------------------------------------------------------------------------


def _is_tool_calls_if(node: n.IfNode) -> bool:
    for cmd in node.pipe.cmds if node.pipe is not None else []:
        for arg in cmd.args:
            if isinstance(arg, n.FieldNode) and "ToolCalls" in arg.ident:
                return True
    return False


def _branch_lists(node: n.BranchNode) -> list[list[n.Node]]:
    lists = [node.list.nodes if node.list is not None else []]
    if node.else_list is not None:
        lists.append(node.else_list.nodes)
    return lists


def _find_tool_call_node(nodes: Sequence[n.Node]) -> n.IfNode | None:
    """findToolCallNode: the first ``if`` whose pipeline names a ``.ToolCalls`` field."""
    for node in nodes:
        if isinstance(node, n.IfNode) and _is_tool_calls_if(node):
            return node
        if isinstance(node, n.BranchNode):  # if, range, with: body then else
            for body in _branch_lists(node):
                found = _find_tool_call_node(body)
                if found is not None:
                    return found
        elif isinstance(node, n.ListNode):
            found = _find_tool_call_node(node.nodes)
            if found is not None:
                return found
    return None


def _find_text_node(nodes: Sequence[n.Node]) -> n.TextNode | None:
    """findTextNode: depth-first first non-blank text, stopping at the first action or branch."""
    for node in nodes:
        if isinstance(node, n.TextNode):
            if not go_trim_space(node.text):
                continue
            return node
        if isinstance(node, n.BranchNode):
            for body in _branch_lists(node):
                found = _find_text_node(body)
                if found is not None:
                    return found
            return None
        if isinstance(node, n.ListNode):
            found = _find_text_node(node.nodes)
            if found is not None:
                return found
        elif isinstance(node, n.ActionNode):
            return None
    return None


def parse_tag(template: str | Template | None) -> str:
    """The tool-call tag Ollama derives from a Go TEMPLATE (``tools.parseTag``).

    A string is parsed as Ollama's ``template.Parse`` does (raises GoTemplateError if Ollama
    would reject it).
    """
    if template is None:
        return "{"
    if isinstance(template, str):
        template = ollama_parse(template)
    call = _find_tool_call_node(template.root.nodes)
    if call is None:
        return "{"
    text = _find_text_node(call.list.nodes if call.list is not None else [])
    if text is None:
        return "{"
    tag = text.text.replace("\r\n", "\n")
    tag = go_trim_space(tag.split("{", 1)[0])
    return tag or "{"


# --- tools/tools.go ---------------------------------------------------------------------------


class ParsedToolCall(BaseModel):
    """One tool call as Ollama returns it (``api.ToolCall`` without the random ``id``)."""

    index: int
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def go_json(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "arguments": self.arguments}


class _State(Enum):
    LOOKING_FOR_TAG = 0
    TOOL_CALLING = 1
    DONE = 2


class _Unmarshal(Exception):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Unmarshal("number out of range")  # Go: strconv.ParseFloat ErrRange
    return value


def _no_constant(_text: str) -> Any:
    raise _Unmarshal("NaN and Infinity are not JSON")


def _fix_surrogates(value: Any) -> Any:
    """Go replaces an unpaired \\uD800-style escape with U+FFFD; Python keeps it."""
    if isinstance(value, str):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fix_surrogates(v) for v in value]
    return value


def go_unmarshal(data: bytes) -> Any:
    """json.Unmarshal into ``any``: numbers are float64; raises _Unmarshal where Go errors."""
    text = data.decode("utf-8", "replace")  # Go decodes invalid UTF-8 in strings to U+FFFD
    try:
        value = json.loads(
            text, parse_float=_finite, parse_int=_finite, parse_constant=_no_constant
        )
    except (ValueError, RecursionError) as exc:  # hostile nesting: refused, never a crash
        raise _Unmarshal(str(exc)) from None
    return _fix_surrogates(value)


def _unmarshal_map(data: bytes) -> tuple[bool, dict[str, Any] | None]:
    """json.Unmarshal into map[string]any: (ok, map); ``null`` is ok with a nil map."""
    try:
        value = go_unmarshal(data)
    except _Unmarshal:
        return False, None
    if value is None or isinstance(value, dict):
        return True, value
    return False, None


def _find_object(tool_name: str, obj: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """findObject: the arguments inside a decoded JSON object (found is True even for nil args)."""

    def find_map(name: str) -> tuple[dict[str, Any] | None, bool]:
        value = obj.get(name)
        if isinstance(value, dict):
            return value, True
        if isinstance(value, str):
            ok, parsed = _unmarshal_map(value.encode("utf-8", "surrogateescape"))
            if ok:
                return parsed, True
        return None, False

    if "name" in obj:
        for key in ("arguments", "parameters"):
            args, ok = find_map(key)
            if ok:
                return args, True
        return None, True
    args, ok = find_map(tool_name)
    if ok:
        return args, True
    for child in obj.values():  # Go ranges over a map here: random order
        items = [child] if isinstance(child, dict) else child if isinstance(child, list) else []
        for item in items:
            if isinstance(item, dict):
                result, found = _find_object(tool_name, item)
                if found:
                    return result, True
    return None, False


def find_arguments(tool_name: str, buffer: bytes) -> tuple[dict[str, Any] | None, int]:
    """findArguments: the first JSON object's arguments and the index of its closing brace."""
    start, braces = -1, 0
    in_string = escaped = False
    for i, c in enumerate(buffer):
        if escaped:
            escaped = False
            continue
        if c == 0x5C:  # backslash, inside or outside strings alike
            escaped = True
            continue
        if c == 0x22:
            in_string = not in_string
            continue
        if in_string:
            continue
        if c == 0x7B:
            if braces == 0:
                start = i
            braces += 1
        elif c == 0x7D:
            braces -= 1
            if braces == 0 and start != -1:
                try:
                    data = go_unmarshal(buffer[start : i + 1])
                except _Unmarshal:
                    start = -1  # not a valid object, keep looking
                    continue
                if not isinstance(data, dict):  # cannot happen for '{'...'}' text
                    start = -1
                    continue
                args, found = _find_object(tool_name, data)
                return (args, i) if found else (data, i)
            if braces < 0:
                braces = 0
    return None, 0


def _find_tool(names: Sequence[bytes], buf: bytes) -> tuple[int | None, int]:
    """findTool: index of the tool whose name occurs first (longest on ties), and its end."""
    if not buf:
        return None, 0
    longest = max((len(name) for name in names), default=0)
    # A buffer ending in a proper prefix of a name must wait ("get" while "get_weather" streams).
    for i in range(1, min(len(buf), longest) + 1):
        tail = buf[len(buf) - i :]
        for name in names:
            if len(tail) < len(name) and name.startswith(tail):
                return None, 0
    found: int | None = None
    start = end = -1
    for index, name in enumerate(names):
        pos = buf.find(name)
        if pos == -1:
            continue
        if found is not None and (pos > start or (pos == start and len(name) <= len(names[found]))):
            continue
        found, start, end = index, pos, pos + len(name)
    return (found, end) if found is not None else (None, 0)


def _tool_name(tool: Any) -> str:
    if isinstance(tool, Mapping):
        function = tool.get("function") or {}
        return str(function.get("name", "") if isinstance(function, Mapping) else "")
    function = getattr(tool, "function", None)
    return str(getattr(function, "name", "") or "")


class ToolCallParser:
    """tools.Parser: streaming extraction of tool calls from model output."""

    def __init__(self, tools: Iterable[Any], tag: str) -> None:
        self.tag = tag
        self._tag = tag.encode("utf-8", "surrogateescape")
        self.tool_names = [_tool_name(t) for t in tools]
        self._names = [name.encode("utf-8", "surrogateescape") for name in self.tool_names]
        self._state = _State.LOOKING_FOR_TAG
        self._buffer = b""
        self._n = 0

    @classmethod
    def from_template(cls, template: str | Template | None, tools: Iterable[Any]) -> ToolCallParser:
        """tools.NewParser(m.Template.Template, req.Tools)."""
        return cls(tools, parse_tag(template))

    def add(self, chunk: str | bytes) -> tuple[list[ParsedToolCall], str]:
        """Parser.Add: the tool calls completed by this chunk and the content to pass on."""
        calls, content = self.add_bytes(
            chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "surrogateescape")
        )
        return calls, _decode(content)

    def add_bytes(self, chunk: bytes) -> tuple[list[ParsedToolCall], bytes]:
        if self._state is _State.DONE:
            return [], chunk
        self._buffer += chunk
        content = b""
        if self._state is _State.LOOKING_FOR_TAG:
            i, found = self._find_tag()
            if i == -1:
                content, self._buffer = self._buffer, b""
            else:
                content, self._buffer = self._buffer[:i], self._buffer[i:]
            # With { or [ as the tag, tool calls are only parsed when they come first.
            if self.tag in ("{", "[") and go_trim_space(_decode(content)):
                self._state = _State.DONE
                return [], content + self._buffer
            if not found:
                return [], content
            self._state = _State.TOOL_CALLING
        calls: list[ParsedToolCall] = []
        while (call := self._parse_tool_call()) is not None:
            calls.append(call)
        if self._done():
            self._state = _State.DONE
            content, self._buffer = self._buffer, b""
        return calls, content

    def content(self) -> str:
        """Parser.Content: what is still owed to the user when generation ends."""
        return _decode(self.content_bytes())

    def content_bytes(self) -> bytes:
        if self._n > 0:
            return b""
        return self._buffer if self.tag in ("{", "[") else b""

    def _find_tag(self) -> tuple[int, bool]:
        i = self._buffer.find(self._tag)
        if i > -1:
            return i, True
        for size in range(min(len(self._buffer), len(self._tag)), 0, -1):
            if self._buffer.endswith(self._tag[:size]):
                return len(self._buffer) - size, False
        return -1, False

    def _parse_tool_call(self) -> ParsedToolCall | None:
        index, end = _find_tool(self._names, self._buffer)
        if index is None:
            return None
        args, i = find_arguments(self.tool_names[index], self._buffer)
        if args is None:
            return None
        end = max(end, i)  # the buffer keeps the closing brace, as in Go
        call = ParsedToolCall(index=self._n, name=self.tool_names[index], arguments=args)
        self._n += 1
        self._buffer = self._buffer[end:]
        return call

    def _done(self) -> bool:
        pairs = {"{": (0x7B, 0x7D), "[": (0x5B, 0x5D)}
        if self.tag not in pairs:
            return False
        opening, closing = pairs[self.tag]
        count = 0
        for c in self._buffer:
            if c == opening:
                count += 1
            elif c == closing:
                count -= 1
                if count == 0:
                    return True
        return False
