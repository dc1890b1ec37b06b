"""``forge check --tools`` / ``--think``: a real tool request and a real thinking request through ``/api/chat``.

What the user's client would see decides: a ``tools`` request must come back with parsed
``message.tool_calls`` (not the call as plain text), a ``think: true`` request with a separate
``message.thinking``. A 400 ``does not support tools|thinking`` is a refusal; both are reported
with the text that did come back, so the user sees whether the model tried and Ollama failed to
parse it, or the model answered in prose.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import ForgeError, OllamaResponseError
from ..ollama.client import OllamaHTTP, resolve_host
from ..ollama.models import registered_names
from ..text import safe_text

__all__ = ["LiveResult", "describe", "live_check"]

#: seconds one reply may take in total (num_predict bounds its length)
REPLY_DEADLINE = 120.0

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
TOOL_PROMPT = "What is the weather in Paris right now? Use the get_weather tool."
THINK_PROMPT = "Is 391 a prime number? Answer yes or no."


class LiveResult(BaseModel):
    kind: Literal["tools", "think"]
    model: str
    ok: bool = False
    refused: str | None = Field(default=None, description="Ollama's 400 answer")
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    thinking: str = ""
    content: str = ""
    done_reason: str | None = None
    verdict: str = ""


def _exchange(
    http: Any, name: str, body: dict[str, Any]
) -> tuple[str, str, list[dict[str, Any]], str | None]:
    content: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    reason: str | None = None
    for part in http.generate_stream(
        "/api/chat", body, deadline=REPLY_DEADLINE, action=f"chatting with {name}"
    ):
        message = part.get("message")
        if isinstance(message, dict):
            if isinstance(message.get("content"), str):
                content.append(message["content"])
            if isinstance(message.get("thinking"), str):
                thinking.append(message["thinking"])
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    calls.append(call)
        if part.get("done") is True and isinstance(part.get("done_reason"), str):
            reason = part["done_reason"]
    return "".join(content), "".join(thinking), calls, reason


def live_check(
    name: str, kind: Literal["tools", "think"], host: str | None = None, *, max_tokens: int = 512
) -> LiveResult:
    """Send one tool request (``kind="tools"``) or thinking request (``"think"``) to Ollama's model ``name``."""

    prompt = TOOL_PROMPT if kind == "tools" else THINK_PROMPT
    body: dict[str, Any] = {
        "model": name,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "options": {"num_predict": max_tokens, "temperature": 0, "seed": 1},
    }
    if kind == "tools":
        body["tools"] = [WEATHER_TOOL]
    else:
        body["think"] = True
    result = LiveResult(kind=kind, model=name)
    with OllamaHTTP(resolve_host(host)) as http:
        try:
            result.content, result.thinking, result.tool_calls, result.done_reason = _exchange(
                http, name, body
            )
        except OllamaResponseError as exc:
            refusal = str(exc.server_error or "")
            if exc.status != 400 or "does not support" not in refusal:
                raise
            result.refused = refusal
            result.verdict = f"refused by Ollama: {refusal}"
            return result
    return describe(result)


def describe(result: LiveResult) -> LiveResult:
    """Set ``ok`` and ``verdict`` from what came back (shared with the embedded runtime's check)."""

    if result.kind == "tools":
        names = [str((c.get("function") or {}).get("name", "")) for c in result.tool_calls]
        result.ok = bool(result.tool_calls)
        result.verdict = (
            f"parsed tool_calls came back: {', '.join(names)}"
            if result.ok
            else "no parsed tool_calls came back"
            + (
                f"; the reply was text: {safe_text(result.content, keep_newlines=False, limit=120)!r}"
                if result.content.strip()
                else ""
            )
        )
    else:
        result.ok = bool(result.thinking.strip())
        result.verdict = (
            "a separate thinking came back"
            if result.ok
            else "no separate thinking came back"
            + (
                f"; the reply was: {safe_text(result.content, keep_newlines=False, limit=120)!r}"
                if result.content.strip()
                else ""
            )
        )
    return result


def live_checks(
    name: str,
    kinds: list[Literal["tools", "think"]],
    host: str | None = None,
    *,
    max_tokens: int = 512,
) -> list[LiveResult]:
    """:func:`live_check` for each kind, on the first of the store's registrations / ``name`` Ollama knows."""

    where = resolve_host(host)
    chosen = name
    with OllamaHTTP(where) as http:
        for candidate in registered_names(name, where):
            try:
                http.post_json("/api/show", {"model": candidate}, action=f"looking up {candidate}")
            except ForgeError:
                continue
            chosen = candidate
            break
    return [live_check(chosen, kind, where, max_tokens=max_tokens) for kind in kinds]
