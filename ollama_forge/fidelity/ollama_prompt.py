"""Ollama's prompt building on top of the Go template engine.

``render_prompt`` returns exactly what ``/api/chat`` feeds the model (server/routes.go +
server/prompt.go ``chatPrompt`` without truncation + template/template.go ``Execute``):
the model SYSTEM goes first unless the conversation starts with a system message, Modelfile
MESSAGEs come before the request's, images get ``[img-N]`` tags, consecutive same-role
messages are collated, and templates without ``.Messages`` run turn by turn (legacy path).
``render_generate`` is the ``/api/generate`` path (including fill-in-the-middle).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ollama_forge.errors import GoTemplateError, UsageError
from ollama_forge.gotemplate import Template
from ollama_forge.gotemplate import nodes as n
from ollama_forge.gotemplate.funcs import BUILTINS
from ollama_forge.gotemplate.ollama import messages_value, tools_value
from ollama_forge.gotemplate.template import parse

__all__ = [
    "ChatMessage",
    "Tool",
    "ToolCall",
    "ToolCallFunction",
    "ToolFunction",
    "check_template",
    "infer_thinking_tags",
    "ollama_parse",
    "render_generate",
    "render_prompt",
    "template_capabilities",
]

ThinkArg = bool | str | None


class ToolCallFunction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    index: int = 0
    name: str = ""
    arguments: dict[str, Any] | None = None

    @field_validator("arguments", mode="before")
    @classmethod
    def _decode(cls, v: Any) -> Any:
        # OpenAI clients send arguments as a JSON string; Ollama's shape is an object.
        return json.loads(v) if isinstance(v, str) else v


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = ""
    function: ToolCallFunction


class ChatMessage(BaseModel):
    """One /api/chat message in Ollama's JSON shape."""

    model_config = ConfigDict(extra="ignore")
    role: str
    content: str = ""
    thinking: str = ""
    images: list[str | bytes] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_name: str = ""
    tool_call_id: str = ""

    @field_validator("images", "tool_calls", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return [] if v is None else v


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class Tool(BaseModel):
    """A tool definition ({"type": "function", "function": {...}})."""

    model_config = ConfigDict(extra="allow")
    type: str = "function"
    function: ToolFunction


_RESPONSE = n.ActionNode(
    0, 0, n.PipeNode(0, 0, cmds=[n.CommandNode(0, [n.FieldNode(0, ["Response"])])])
)


def ollama_parse(template: str) -> Template:
    """template.Parse in Ollama: name "", and ``{{ .Response }}`` appended when the template
    references neither ``.Messages`` nor ``.Response``."""
    tmpl = parse(template, "")
    names = tmpl.vars()
    if "messages" not in names and "response" not in names:
        tmpl.root.nodes.append(_RESPONSE)
    return tmpl


def _think(think: ThinkArg) -> tuple[bool, str, bool]:
    """(Think, ThinkLevel, IsThinkSet) from api.ThinkValue."""
    if think is None:
        return False, "", False
    if isinstance(think, bool):
        return think, "medium" if think else "", True
    return think != "", think, True


def _messages(items: list[Any] | None, what: str) -> list[ChatMessage]:
    out = []
    for i, item in enumerate(items or []):
        try:
            out.append(
                item.model_copy(deep=True)
                if isinstance(item, ChatMessage)
                else ChatMessage.model_validate(item)
            )
        except ValidationError as err:
            raise UsageError(
                f"{what}[{i}] is not a valid chat message: {err.errors()[0]['msg']}",
                hint='Use Ollama\'s message shape: {"role": ..., "content": ...}.',
            ) from None
    return out


def _tools(tools: list[Any] | None) -> list[dict[str, Any]] | None:
    if tools is None:
        return None
    return [t.model_dump(exclude_none=True) if isinstance(t, Tool) else t for t in tools]


def _collate(msgs: list[ChatMessage]) -> tuple[str, list[ChatMessage]]:
    system: list[str] = []
    collated: list[ChatMessage] = []
    for m in msgs:
        if m.role == "system":
            system.append(m.content)
        if collated and collated[-1].role == m.role and m.role != "tool":
            collated[-1].content += "\n\n" + m.content
        else:
            collated.append(m)
    return "\n\n".join(system), collated


def _execute(
    tmpl: Template,
    messages: list[ChatMessage],
    tools: list[dict[str, Any]] | None,
    think: ThinkArg,
    prompt: str = "",
    suffix: str = "",
) -> str:
    """template.Template.Execute in Ollama."""
    think_on, level, is_set = _think(think)
    base = {"Think": think_on, "ThinkLevel": level, "IsThinkSet": is_set}
    system, collated = _collate(messages)
    if prompt and suffix:
        return tmpl.execute({"Prompt": prompt, "Suffix": suffix, "Response": "", **base})
    if "messages" in tmpl.vars():
        return tmpl.execute(
            {
                "System": system,
                "Messages": messages_value(collated),
                "Tools": tools_value(tools),
                "Response": "",
                **base,
            }
        )
    out: list[str] = []
    turn = {"System": "", "Prompt": "", "Response": ""}

    def run() -> None:
        out.append(tmpl.execute({**turn, **base}))
        turn.update(System="", Prompt="", Response="")

    for m in collated:
        if m.role == "system":
            if turn["Prompt"] or turn["Response"]:
                run()
            turn["System"] = m.content
        elif m.role == "user":
            if turn["Response"]:
                run()
            turn["Prompt"] = m.content
        elif m.role == "assistant":
            turn["Response"] = m.content
    # The final turn runs the tree cut at the first .Response, in a bare template (builtin
    # functions only, default missingkey), exactly like Ollama's AddParseTree call.
    cut = _cut_at_response(tmpl.root)
    final = Template(
        tmpl.text, "", {"": cut}, dict(BUILTINS), missingkey_zero=False, parse_name=tmpl.name
    )
    out.append(final.execute({**turn, **base}))
    return "".join(out)


def _cut_at_response(root: n.ListNode) -> n.ListNode:
    """Ollama's deleteNode: keep everything up to the first .Response field, drop the rest."""
    import copy

    state = {"cut": False}

    def pred(node: n.Node) -> bool:
        if isinstance(node, n.FieldNode) and "Response" in node.ident:
            state["cut"] = True
            return False
        return state["cut"]

    def walk(node: n.Node) -> n.Node | None:
        if pred(node):
            return None
        if isinstance(node, n.ListNode):
            node.nodes = [c for c in (walk(x) for x in node.nodes) if c is not None]
            return node
        if isinstance(node, n.BranchNode):
            # Ollama visits the branch node, then its lists (never the condition). A list
            # reached after the cut makes Go's type assertion panic.
            if pred(node):
                raise GoTemplateError(
                    "template: legacy template cannot be cut at {{ .Response }} (Ollama panics)",
                    hint="Do not put {{ .Response }} inside a branch that has later branches.",
                )
            for attr in ("list", "else_list"):
                lst = getattr(node, attr)
                if lst is not None:
                    new = walk(lst)
                    if new is None:
                        raise GoTemplateError(
                            "template: legacy template cannot be cut at {{ .Response }} (Ollama panics)",
                            hint="Do not put {{ .Response }} inside a branch that has later branches.",
                        )
                    setattr(node, attr, new)
            return node
        if isinstance(node, n.ActionNode):
            pipe = walk(node.pipe) if node.pipe is not None else None
            if pipe is None:
                return None
            node.pipe = pipe  # type: ignore[assignment]
            return node
        if isinstance(node, n.PipeNode):
            cmds = []
            for cmd in node.cmds:
                args = [a for a in (walk(x) for x in cmd.args) if a is not None]
                if not args:
                    return None
                cmd.args = args
                cmds.append(cmd)
            if not cmds:
                return None
            node.cmds = cmds
            return node
        return node

    result = walk(copy.deepcopy(root))
    assert isinstance(result, n.ListNode) or result is None
    return result if result is not None else n.ListNode(0)


def _with_images(msgs: list[ChatMessage]) -> list[ChatMessage]:
    """chatPrompt's [img-N] tags: replace [img] placeholders in order, else prefix."""
    count = 0
    for m in msgs:
        prefix, text = "", m.content
        for _ in m.images:
            tag = f"[img-{count}]"
            if "[img]" not in text:
                prefix += tag
            else:
                text = text.replace("[img]", tag, 1)
            count += 1
        m.content = prefix + text
    return msgs


def render_prompt(
    template: str,
    messages: list[dict[str, Any] | ChatMessage],
    *,
    system: str | None = None,
    tools: list[dict[str, Any] | Tool] | None = None,
    think: ThinkArg = None,
    model_messages: list[dict[str, Any] | ChatMessage] | None = None,
) -> str:
    """The prompt Ollama's /api/chat builds from a Modelfile TEMPLATE (and SYSTEM/MESSAGEs).

    Raises GoTemplateError when the template does not parse or execute, as Ollama would.
    """
    tmpl = ollama_parse(template)
    req = _messages(list(messages), "messages")
    msgs = _messages(model_messages, "model_messages") + req
    if req and req[0].role != "system" and system:
        msgs.insert(0, ChatMessage(role="system", content=system))
    return _execute(
        tmpl, _with_images(msgs), _tools(list(tools) if tools is not None else None), think
    )


def render_generate(
    template: str,
    prompt: str,
    *,
    system: str | None = None,
    suffix: str | None = None,
    think: ThinkArg = None,
    model_messages: list[dict[str, Any] | ChatMessage] | None = None,
) -> str:
    """The prompt /api/generate builds (``system`` = request system or the Modelfile SYSTEM)."""
    tmpl = ollama_parse(template)
    if suffix:
        return _execute(tmpl, [], None, think, prompt=prompt, suffix=suffix)
    msgs: list[ChatMessage] = []
    if system:
        msgs.append(ChatMessage(role="system", content=system))
    msgs += _messages(model_messages, "model_messages")
    msgs.append(ChatMessage(role="user", content=prompt))
    return _execute(tmpl, msgs, None, think)


def infer_thinking_tags(template: str | Template) -> tuple[str, str]:
    """Ollama's thinking.InferTags: the text around ``.Thinking`` inside ``range .Messages``."""
    root = (template if isinstance(template, Template) else parse(template, "")).root
    ancestors: list[n.Node] = []
    tags = ["", ""]

    def uses_messages(r: n.RangeNode) -> bool:
        found = []

        def enter(x: n.Node) -> None:
            if isinstance(x, n.FieldNode) and x.ident[0] == "Messages":
                found.append(x)

        _visit(r.pipe, enter, None)
        return bool(found)

    def enter(x: n.Node) -> None:
        ancestors.append(x)
        if isinstance(x, n.FieldNode) and x.ident and x.ident[0] == "Thinking":
            rng = next((a for a in reversed(ancestors) if isinstance(a, n.RangeNode)), None)
            if rng is None or not uses_messages(rng):
                return
            lst = next((a for a in reversed(ancestors) if isinstance(a, n.ListNode)), None)
            if lst is not None and lst.nodes:
                if isinstance(lst.nodes[0], n.TextNode):
                    tags[0] = lst.nodes[0].text.strip()
                if isinstance(lst.nodes[-1], n.TextNode):
                    tags[1] = lst.nodes[-1].text.strip()

    _visit(root, enter, lambda _x: ancestors.pop())
    return tags[0], tags[1]


def _visit(node: n.Node | None, enter: Any, exit_: Any) -> None:
    """thinking.templateVisit: If/Range/With are visited as the node, then its branch."""
    if node is None:
        return
    enter(node)
    if isinstance(node, n.ListNode):
        for c in node.nodes:
            _visit(c, enter, exit_)
    elif isinstance(node, n.BranchNode):
        # Go visits the IfNode and then its embedded BranchNode: two ancestors.
        enter(node)
        for part in (node.pipe, node.list, node.else_list):
            _visit(part, enter, exit_)
        if exit_ is not None:
            exit_(node)
    elif isinstance(node, (n.ActionNode, n.TemplateNode)):
        _visit(node.pipe, enter, exit_)
    elif isinstance(node, n.PipeNode):
        for c in node.cmds:
            _visit(c, enter, exit_)
    elif isinstance(node, n.CommandNode):
        for a in node.args:
            _visit(a, enter, exit_)
    if exit_ is not None:
        exit_(node)


def template_capabilities(template: str) -> set[str]:
    """Capabilities Ollama derives from a Go TEMPLATE: tools, insert, thinking."""
    tmpl = parse(template, "")
    names = tmpl.vars()
    caps = set()
    if "tools" in names:
        caps.add("tools")
    if "suffix" in names:
        caps.add("insert")
    opening, closing = infer_thinking_tags(tmpl)
    if opening and closing:
        caps.add("thinking")
    return caps


def check_template(template: str) -> None:
    """Raise GoTemplateError if Ollama would reject ``template`` (template.Parse fails)."""
    ollama_parse(template)
