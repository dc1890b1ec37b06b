"""The tool and thinking conversation suite, in both request shapes, and the comparison.

Each conversation is written once, as a client sends it to Ollama's ``/api/chat``
(``tools``, ``tool_calls`` with object arguments, ``thinking``, ``think``), and mapped to what
the same client hands transformers' ``apply_chat_template`` (``tools``, ``tool_calls`` with
``type: function``, ``reasoning_content``, ``enable_thinking``). Tools are written in the key
order clients use (``properties`` before ``required``) with a nested object parameter and
enums; arguments are not all strings; two calls are answered by two tool results.

:func:`compare_tool_suite` renders both sides and reports byte identity per conversation,
counting a request the server would refuse (tools or think to a model without that capability)
as not identical; :func:`tool_call_round_trip` checks that what the model emits for a call is
recovered by Ollama's tool-call parser for the TEMPLATE.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from ollama_forge.errors import ChatTemplateError, TemplateError
from ollama_forge.fidelity.compare import chat_template_capabilities
from ollama_forge.fidelity.conversations import Conversation, think_kwargs
from ollama_forge.fidelity.jinja import HOSTILE_KINDS, render_chat_template
from ollama_forge.fidelity.ollama_prompt import render_prompt

from .chat_stream import simulate_chat
from .server_path import ServerPath, go_template_capabilities, predict_server_path

__all__ = [
    "RoundTrip",
    "ToolConversationResult",
    "ToolSuiteReport",
    "compare_tool_suite",
    "to_transformers",
    "tool_call_round_trip",
    "tool_conversation_suite",
]

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather forecast for a place",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {
                    "type": "object",
                    "description": "Where to look",
                    "properties": {
                        "city": {"type": "string", "description": "City name"},
                        "country": {
                            "type": "string",
                            "description": "ISO country code",
                            "enum": ["FR", "DE", "JP"],
                        },
                    },
                    "required": ["city"],
                },
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "description": "Number of days, 1 to 7"},
            },
            "required": ["location", "days"],
        },
    },
}
TIME_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_local_time",
        "description": "Get the local time in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "twenty_four_hour": {"type": "boolean", "description": "24-hour clock"},
            },
            "required": ["city"],
        },
    },
}
TOOLS = [WEATHER_TOOL, TIME_TOOL]

SYSTEM = "You are a helpful travel assistant."
ASK = "What will the weather be in Paris for the next 3 days, and what time is it there?"
ASK_ONE = "What will the weather be in Paris for the next 3 days?"
WEATHER_ARGS: dict[str, Any] = {
    "location": {"city": "Paris", "country": "FR"},
    "unit": "celsius",
    "days": 3,
}
TIME_ARGS: dict[str, Any] = {"city": "Paris", "twenty_four_hour": True}
WEATHER_RESULT = '{"forecast": ["sunny", "cloudy", "rain"], "high_c": [21, 19, 16]}'
TIME_RESULT = '{"time": "14:05"}'
ANSWER = "Sunny today, then clouds and rain; it is 14:05 in Paris."
FOLLOW_UP = "Should I pack an umbrella?"
REASONING = "The user asks about Paris. I should check the forecast first."
CALL_IDS = ("call12345", "call67890")  # Mistral templates want 9 alphanumeric characters


def _call(i: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": CALL_IDS[i], "function": {"name": name, "arguments": copy.deepcopy(arguments)}}


def _result(i: int, name: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "content": content, "tool_name": name, "tool_call_id": CALL_IDS[i]}


def tool_conversation_suite() -> list[Conversation]:
    """Tools offered; one and two calls with results; the follow-up; reasoning; think on/off."""
    system = {"role": "system", "content": SYSTEM}
    one = {
        "role": "assistant",
        "content": "",
        "tool_calls": [_call(0, "get_weather", WEATHER_ARGS)],
    }
    two = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            _call(0, "get_weather", WEATHER_ARGS),
            _call(1, "get_local_time", TIME_ARGS),
        ],
    }
    results = [_result(0, "get_weather", WEATHER_RESULT), _result(1, "get_local_time", TIME_RESULT)]
    ask = {"role": "user", "content": ASK}
    first_user = {"role": "user", "content": "Hello!"}
    reply = {"role": "assistant", "content": "Hello! How can I help?"}
    suite = [
        Conversation(
            name="tools_offered",
            description="system + user, tools offered",
            needs="tools",
            messages=[system, ask],
            tools=TOOLS,
        ),
        Conversation(
            name="one_tool_call",
            description="one call (object, enum, integer arguments) and its result",
            needs="tools",
            messages=[system, {"role": "user", "content": ASK_ONE}, one, results[0]],
            tools=TOOLS,
        ),
        Conversation(
            name="two_tool_calls",
            description="two calls in one turn, two results",
            needs="tools",
            messages=[system, ask, two, *results],
            tools=TOOLS,
        ),
        Conversation(
            name="tool_follow_up",
            description="calls, results, the answer, the next question",
            needs="tools",
            messages=[
                system,
                ask,
                two,
                *results,
                {"role": "assistant", "content": ANSWER},
                {"role": "user", "content": FOLLOW_UP},
            ],
            tools=TOOLS,
        ),
        Conversation(
            name="reasoning_in_history",
            description="an earlier answer with its reasoning",
            needs="thinking",
            messages=[
                first_user,
                {**reply, "thinking": REASONING},
                {"role": "user", "content": ASK_ONE},
            ],
        ),
        Conversation(
            name="think_on",
            description="generation prompt, thinking on",
            needs="thinking",
            messages=[first_user],
            think=True,
        ),
        Conversation(
            name="think_off",
            description="generation prompt, thinking off",
            needs="thinking",
            messages=[first_user],
            think=False,
        ),
    ]
    return [c.model_copy(deep=True) for c in suite]


def to_transformers(conversation: Conversation) -> dict[str, Any]:
    """The same request in transformers' shape: messages, tools and template kwargs."""
    messages: list[dict[str, Any]] = []
    for message in conversation.messages:
        out: dict[str, Any] = {"role": message["role"], "content": message.get("content", "")}
        if message.get("thinking"):
            out["reasoning_content"] = message["thinking"]
        if message.get("tool_calls"):
            out["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {
                        "name": c["function"]["name"],
                        "arguments": copy.deepcopy(c["function"]["arguments"]),
                    },
                }
                for c in message["tool_calls"]
            ]
        if message["role"] == "tool":
            out["name"] = message.get("tool_name", "")
            out["tool_call_id"] = message.get("tool_call_id", "")
        messages.append(out)
    return {
        "messages": messages,
        "tools": copy.deepcopy(conversation.tools),
        "kwargs": think_kwargs(conversation.think),
    }


class ToolConversationResult(BaseModel):
    name: str
    needs: str | None = None
    identical: bool = False
    skipped_reason: str | None = Field(
        default=None, description="the model's own template refuses it"
    )
    refused: str | None = Field(default=None, description="the Ollama server would answer 400")
    error: str | None = None
    offset: int | None = Field(default=None, description="first differing character")
    expected_context: str | None = None
    actual_context: str | None = None


class RoundTrip(BaseModel):
    """Whether Ollama's parser for the TEMPLATE recovers the calls the model emits."""

    conversation: str
    tag: str
    emitted: str | None = None
    recovered: bool = False
    parsed: list[dict[str, Any]] = Field(default_factory=list)
    reason: str | None = None


class ToolSuiteReport(BaseModel):
    capabilities: list[str]
    server_path: ServerPath
    results: list[ToolConversationResult]
    round_trips: list[RoundTrip] = Field(default_factory=list)

    @property
    def compared(self) -> list[ToolConversationResult]:
        return [r for r in self.results if r.skipped_reason is None]

    @property
    def identical(self) -> bool:
        return bool(self.compared) and all(r.identical for r in self.compared)


def _jinja(
    chat_template: str,
    request: Mapping[str, Any],
    tokens: Mapping[str, Any],
    *,
    generation: bool = True,
) -> str:
    text = render_chat_template(
        chat_template,
        request["messages"],
        tools=request["tools"],
        add_generation_prompt=generation,
        bos_token=tokens["bos"],
        eos_token=tokens["eos"],
        **request["kwargs"],
    )
    bos = tokens["bos"]
    if tokens["add_bos"] and bos and text.startswith(bos):  # llama.cpp adds BOS itself
        text = text[len(bos) :]
    return text


def _difference(result: ToolConversationResult, expected: str, actual: str) -> None:
    offset = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    result.offset = offset
    result.expected_context = expected[max(0, offset - 40) : offset + 40]
    result.actual_context = actual[max(0, offset - 40) : offset + 40]


def compare_tool_suite(
    chat_template: str,
    go_template: str,
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_bos_token: bool = False,
    system: str | None = None,
    server_version: str | None = None,
) -> ToolSuiteReport:
    """Render the suite through the model's Jinja and through the Go TEMPLATE; report identity.

    Conversations needing a capability the model's template lacks are not run. ``system`` is
    the Modelfile SYSTEM (only used where a conversation has none). The Ollama side is the Go
    TEMPLATE path, refusals included, and ``think`` on by default for a thinking TEMPLATE as
    ChatHandler does; ``server_path`` says which path the server would take.
    """
    caps = sorted(chat_template_capabilities(chat_template))
    tokens = {"bos": bos_token, "eos": eos_token, "add_bos": add_bos_token}
    path = predict_server_path(
        go_template=go_template, chat_template=chat_template, server_version=server_version
    )
    go_caps = go_template_capabilities(go_template).capabilities  # what the Go path would accept
    results: list[ToolConversationResult] = []
    round_trips: list[RoundTrip] = []
    for conv in tool_conversation_suite():
        if conv.needs not in caps:
            continue
        result = ToolConversationResult(name=conv.name, needs=conv.needs)
        results.append(result)
        try:
            expected = _jinja(chat_template, to_transformers(conv), tokens)
        except ChatTemplateError as exc:
            if exc.kind in HOSTILE_KINDS:
                result.error = f"the model's chat template failed: {exc.message}"
            else:
                result.skipped_reason = exc.message
            continue
        if conv.tools and "tools" not in go_caps:
            result.refused = "does not support tools (the TEMPLATE never uses .Tools)"
        elif conv.think and "thinking" not in go_caps:
            result.refused = "does not support thinking (no .Thinking inside range .Messages)"
        if result.refused:
            continue
        think = conv.think
        if think is None and "thinking" in go_caps:
            think = True  # ChatHandler: a thinking model gets think=true when the request has none
        try:
            actual = render_prompt(
                go_template,
                list[Any](conv.messages),
                system=system,
                tools=None if conv.tools is None else list[Any](conv.tools),
                think=think,
            )
        except TemplateError as exc:
            result.error = f"the Go template failed: {exc.message}"
            continue
        result.identical = expected == actual
        if not result.identical:
            _difference(result, expected, actual)
        if conv.name in ("one_tool_call", "two_tool_calls"):
            round_trips.append(tool_call_round_trip(chat_template, go_template, conv, tokens))
    return ToolSuiteReport(
        capabilities=caps, server_path=path, results=results, round_trips=round_trips
    )


def _same_arguments(parsed: Any, sent: Any) -> bool:
    # Ollama decodes arguments as float64: 3 and 3.0 are the same call
    if isinstance(sent, dict):
        return (
            isinstance(parsed, dict)
            and parsed.keys() == sent.keys()
            and all(_same_arguments(parsed[k], sent[k]) for k in sent)
        )
    if isinstance(sent, list):
        return (
            isinstance(parsed, list)
            and len(parsed) == len(sent)
            and all(_same_arguments(p, s) for p, s in zip(parsed, sent, strict=True))
        )
    if isinstance(sent, bool) or isinstance(parsed, bool):
        return parsed is sent
    return bool(parsed == sent)


def tool_call_round_trip(
    chat_template: str, go_template: str, conversation: Conversation, tokens: Mapping[str, Any]
) -> RoundTrip:
    """Emit the conversation's tool calls as the model's template writes them, parse as Ollama.

    The emitted text is the Jinja rendering of the assistant turn (the turn's text after the
    generation prompt), streamed to the parser three characters at a time like tokens.
    """
    index = next(i for i, m in enumerate(conversation.messages) if m.get("tool_calls"))
    head = conversation.model_copy(update={"messages": conversation.messages[:index]})
    turn = conversation.model_copy(update={"messages": conversation.messages[: index + 1]})
    calls = conversation.messages[index]["tool_calls"]
    trip = RoundTrip(conversation=conversation.name, tag="")
    try:
        prompt = _jinja(chat_template, to_transformers(head), tokens)
        full = _jinja(chat_template, to_transformers(turn), tokens, generation=False)
    except ChatTemplateError as exc:
        trip.reason = f"the model's template cannot render the turn: {exc.message}"
        return trip
    if not full.startswith(prompt):
        trip.reason = (
            "the model's template rewrites earlier turns: the emitted text cannot be isolated"
        )
        return trip
    emitted = full[len(prompt) :]
    if tokens["eos"] and tokens["eos"] in emitted:  # generation stops at the end-of-turn token
        emitted = emitted[: emitted.index(tokens["eos"])]
    trip.emitted = emitted
    chunks = [emitted[i : i + 3] for i in range(0, len(emitted), 3)]
    try:
        outcome = simulate_chat(go_template, conversation.tools or [], chunks)
    except TemplateError as exc:
        trip.reason = f"Ollama cannot build a parser: {exc.message}"
        return trip
    trip.tag = outcome.tag
    trip.parsed = [c.model_dump() for c in outcome.tool_calls]
    want = [(c["function"]["name"], c["function"]["arguments"]) for c in calls]
    got = [(c.name, c.arguments) for c in outcome.tool_calls]
    trip.recovered = len(got) == len(want) and all(
        g[0] == w[0] and _same_arguments(g[1], w[1]) for g, w in zip(got, want, strict=True)
    )
    if not trip.recovered:
        trip.reason = (
            f"parsed {len(got)} of {len(want)} calls with tag {outcome.tag!r}"
            + (
                f"; {len(outcome.dropped_calls)} dropped with content"
                if outcome.dropped_calls
                else ""
            )
            + (f"; returned as text: {outcome.content[:80]!r}" if outcome.content.strip() else "")
        )
    return trip
