"""The conversation suite forge verifies templates on, and message-shape conversion.

Conversations are written once in Ollama's ``/api/chat`` JSON shape (what ``render_prompt``
takes) and converted to the transformers shape for the model's own Jinja template:

* assistant ``tool_calls`` ``[{"id", "function": {"name", "arguments": {...}}}]`` become
  ``[{"id", "type": "function", "function": {"name", "arguments": {...}}}]``;
* a ``tool`` message's ``tool_name`` becomes ``name`` (``tool_call_id`` is kept);
* ``thinking`` is kept (transformers aliases it to ``reasoning_content`` too).

Tool definitions are written with their keys in the order Go's ``encoding/json`` marshals
Ollama's ``api.Tool`` struct (type, function{name, description, parameters{type, required,
properties}}; property{type, description, enum}), so a template's ``tojson`` and Ollama's
``json`` see the same object.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

Message = dict[str, Any]

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "required": ["city"],
            "properties": {
                "city": {"type": "string", "description": "The city name, e.g. Paris"},
                "unit": {
                    "type": "string",
                    "description": "Temperature unit",
                    "enum": ["celsius", "fahrenheit"],
                },
            },
        },
    },
}

SYSTEM_TEXT = "You are a concise assistant. Answer in one sentence."
USER_1 = "What is the capital of France?"
ASSISTANT_1 = "The capital of France is Paris."
USER_2 = "And what about Germany?\nList one fact."
TOOL_USER = "What's the weather in Paris right now?"
TOOL_CALL_ID = "call12345"  # Mistral templates insist on 9 alphanumeric characters
TOOL_RESULT = '{"temperature": 18, "unit": "celsius", "condition": "cloudy"}'
TOOL_ANSWER = "It is 18 °C and cloudy in Paris."
THINKING_1 = "The user asks for a capital. France's capital is Paris."


class Conversation(BaseModel):
    """One conversation of the suite, in Ollama's message shape."""

    name: str
    description: str
    messages: list[Message]
    tools: list[dict[str, Any]] | None = None
    think: bool | None = None
    needs: str | None = Field(
        default=None,
        description="'tools' or 'thinking' when the conversation needs that capability",
    )

    @property
    def has_system(self) -> bool:
        return any(m.get("role") == "system" for m in self.messages)


def _tool_call_message(content: str = "") -> Message:
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {
                "id": TOOL_CALL_ID,
                "function": {
                    "name": "get_weather",
                    "arguments": {"city": "Paris", "unit": "celsius"},
                },
            }
        ],
    }


def _tool_result() -> Message:
    return {
        "role": "tool",
        "content": TOOL_RESULT,
        "tool_name": "get_weather",
        "tool_call_id": TOOL_CALL_ID,
    }


def conversation_suite() -> list[Conversation]:
    """The suite: basic chat shapes for every model, tool and thinking shapes where supported."""
    system: Message = {"role": "system", "content": SYSTEM_TEXT}
    user1: Message = {"role": "user", "content": USER_1}
    asst1: Message = {"role": "assistant", "content": ASSISTANT_1}
    user2: Message = {"role": "user", "content": USER_2}
    tool_user: Message = {"role": "user", "content": TOOL_USER}
    suite = [
        Conversation(name="user", description="one user message", messages=[user1]),
        Conversation(name="system_user", description="system + user", messages=[system, user1]),
        Conversation(
            name="multi_turn", description="user, assistant, user", messages=[user1, asst1, user2]
        ),
        Conversation(
            name="multi_turn_system",
            description="system, user, assistant, user",
            messages=[system, user1, asst1, user2],
        ),
        Conversation(
            name="tools_defined",
            description="tool definitions + user",
            messages=[tool_user],
            tools=[WEATHER_TOOL],
            needs="tools",
        ),
        Conversation(
            name="tool_call",
            description="user, assistant tool call, tool result",
            messages=[tool_user, _tool_call_message(), _tool_result()],
            tools=[WEATHER_TOOL],
            needs="tools",
        ),
        Conversation(
            name="tool_round_trip",
            description="tool call, result, answer, next user turn",
            messages=[
                system,
                tool_user,
                _tool_call_message(),
                _tool_result(),
                {"role": "assistant", "content": TOOL_ANSWER},
                user2,
            ],
            tools=[WEATHER_TOOL],
            needs="tools",
        ),
        Conversation(
            name="thinking_history",
            description="an earlier assistant turn with thinking",
            messages=[
                user1,
                {"role": "assistant", "content": ASSISTANT_1, "thinking": THINKING_1},
                user2,
            ],
            needs="thinking",
        ),
        Conversation(
            name="think_on",
            description="user message with think=true",
            messages=[user1],
            think=True,
            needs="thinking",
        ),
        Conversation(
            name="think_off",
            description="user message with think=false",
            messages=[user1],
            think=False,
            needs="thinking",
        ),
    ]
    return [c.model_copy(deep=True) for c in suite]


def to_hf_messages(messages: list[Message]) -> list[Message]:
    """Ollama /api/chat messages -> the transformers chat-template message shape."""
    out: list[Message] = []
    for message in messages:
        converted: Message = {
            "role": message.get("role", "user"),
            "content": message.get("content", ""),
        }
        if message.get("thinking"):
            converted["thinking"] = message["thinking"]
        calls = message.get("tool_calls")
        if calls:
            converted["tool_calls"] = []
            for call in calls:
                function = call.get("function", {})
                hf_call: dict[str, Any] = {}
                if call.get("id"):
                    hf_call["id"] = call["id"]
                hf_call["type"] = "function"
                hf_call["function"] = {
                    "name": function.get("name", ""),
                    "arguments": copy.deepcopy(function.get("arguments", {})),
                }
                converted["tool_calls"].append(hf_call)
        if message.get("role") == "tool":
            if message.get("tool_name"):
                converted["name"] = message["tool_name"]
            if message.get("tool_call_id"):
                converted["tool_call_id"] = message["tool_call_id"]
        out.append(converted)
    return out


def think_kwargs(think: bool | None) -> dict[str, Any]:
    """Template variables that express Ollama's ``think`` to a Jinja chat template.

    Templates disagree on the name (Qwen3/GLM: ``enable_thinking``; DeepSeek-V3.1/Granite:
    ``thinking``), so both are set; ``None`` leaves the template's own default.
    """
    if think is None:
        return {}
    return {"enable_thinking": bool(think), "thinking": bool(think)}
