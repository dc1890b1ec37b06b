"""``forge check --tools`` / ``--think`` without Ollama: the embedded runtime, Ollama's parsers.

The same request :func:`ollama_forge.fidelity.live.live_check` sends to ``/api/chat``, served the
way Ollama's Go path serves it: a template without tools (or thinking) support is refused with
Ollama's own words; otherwise the prompt is the Modelfile TEMPLATE rendered with the request's
``tools`` / ``think`` (Ollama's prompt building), llama.cpp generates, and the reply goes through
the ports of Ollama's thinking and tool-call parsers for that TEMPLATE. So the verdict says what
a client of Ollama's Go-template path would get back: parsed ``tool_calls`` and a separate
``thinking``, or the call as plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..fidelity.chat_stream import simulate_chat
from ..fidelity.live import THINK_PROMPT, TOOL_PROMPT, WEATHER_TOOL, LiveResult, describe
from ..fidelity.ollama_prompt import render_prompt
from ..fidelity.server_path import go_template_capabilities
from ..modelfile import Modelfile
from ..runners.llama import LlamaRuntime
from .chat import resolve_model

if TYPE_CHECKING:
    from ..fidelity.ollama_prompt import ChatMessage, Tool

Kind = Literal["tools", "think"]


def embedded_live_check(
    target: str | Path | None,
    kind: Kind,
    *,
    modelfile: str | Path | Modelfile | None = None,
    max_tokens: int = 512,
    progress: Callable[[str], None] | None = None,
) -> LiveResult:
    """One tool request (``kind="tools"``) or thinking request (``"think"``) on the embedded runtime."""

    resolved = resolve_model(target, modelfile)
    mf = resolved.modelfile
    template = mf.template or "{{ .Prompt }}"
    result = LiveResult(kind=kind, model=resolved.target)
    wanted = "tools" if kind == "tools" else "thinking"
    if wanted not in go_template_capabilities(template).capabilities:
        # Ollama answers 400 before generating (routes.go: "does not support tools/thinking")
        result.refused = f'"{resolved.target}" does not support {wanted}'
        result.verdict = f"refused (the TEMPLATE has no {wanted} support): {result.refused}"
        return result
    messages: list[dict[str, Any] | ChatMessage] = [
        {"role": "user", "content": TOOL_PROMPT if kind == "tools" else THINK_PROMPT}
    ]
    tools: list[dict[str, Any] | Tool] = [WEATHER_TOOL] if kind == "tools" else []
    prompt = render_prompt(
        template,
        messages,
        system=mf.system,
        tools=tools or None,
        think=True if kind == "think" else None,
        model_messages=[m.model_dump() for m in mf.messages] or None,
    )
    if progress is not None:
        progress(f"loading {resolved.gguf_path.name} into llama.cpp")
    options = {"temperature": 0, "seed": 1}
    with LlamaRuntime(resolved, options=options) as runtime:
        if progress is not None:
            progress(f"generating the {kind} reply")
        reply = runtime.complete(prompt, max_tokens=max_tokens)
    outcome = simulate_chat(
        template, tools, [reply.text], think=True if kind == "think" else None, prompt=prompt
    )
    result.content = outcome.content
    result.thinking = outcome.thinking
    result.tool_calls = [
        {"function": call.go_json()} for call in outcome.tool_calls
    ]  # Ollama's shape
    result.done_reason = reply.done_reason
    return describe(result)
