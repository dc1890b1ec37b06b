"""``/api/generate`` and ``/api/chat`` of the local Ollama test server: checks, runners, a fake model.

The fake model answers ``state.replies[<last user text>]`` (else ``state.chat_reply``, or JSON
for ``format``), token by token (a token is a word with its leading space), ending with an
end-of-generation token unless ``faults.endless_generation``. The server applies what a real
one does: ``num_predict`` (``done_reason: length``), stop strings (cut, not included,
``done_reason: stop``), load/unload on an empty prompt, options type checks (500), capability
checks (400) and the recorded error texts. Runners follow /api/ps as recorded: one per model
blob and context size, ``keep_alive`` kept by later requests that send none.

On the Go TEMPLATE path a chat reply goes through Ollama's parsers as ChatHandler runs them:
thinking tags and the tool-call tag are inferred from the TEMPLATE, so ``message.thinking`` and
``message.tool_calls`` come back parsed, or the call comes back as text when the TEMPLATE hides
its tag. The parsers are forge's ports, each checked against Go's in tests/fidelity and
tests/gotemplate; the native path's llama.cpp parsers are not played.
"""

from __future__ import annotations

import json
import random
import re
import string
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from .ollama_state import (
    DEFAULT_KEEP_ALIVE,
    ModelRecord,
    OllamaState,
    full_as_typed,
    go_caps,
    instance_for,
    jinja_caps,
    parse_keep_alive,
    parse_name,
)

INT_OPTIONS = {
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "num_thread",
    "num_keep",
    "seed",
    "num_predict",
    "top_k",
    "repeat_last_n",
    "draft_num_predict",
}
FLOAT_OPTIONS = {
    "temperature",
    "top_p",
    "min_p",
    "typical_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
}
BOOL_OPTIONS = {"use_mmap"}
KNOWN_RENDERERS = {
    "gemma4",
    "laguna",
    "nemotron-3-nano",
    "harmony",
    "qwen3-coder",
    "qwen3-vl-instruct",
    "qwen3-vl-thinking",
    "deepseek3.1",
    "cogito",
    "olmo3",
    "olmo3-think",
}


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def now_text() -> str:
    """Go's RFC3339Nano in UTC: nanoseconds, trailing zeros trimmed."""
    ns = time.time_ns()
    base = datetime.fromtimestamp(ns // 1_000_000_000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    return f"{base}.{frac}Z" if frac else f"{base}Z"


def _check_options(options: dict[str, Any]) -> None:
    for name, value in options.items():
        if name in INT_OPTIONS and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise Refused(500, f'option "{name}" must be of type integer')
        if name in FLOAT_OPTIONS and (
            isinstance(value, bool) or not isinstance(value, (int, float))
        ):
            raise Refused(500, f'option "{name}" must be of type float32')
        if name == "stop" and not isinstance(value, list):
            raise Refused(500, 'option "stop" must be of type array')
        if name in BOOL_OPTIONS and not isinstance(value, bool):
            raise Refused(500, f'option "{name}" must be of type boolean')


def _check_format(fmt: Any) -> None:
    if fmt in (None, "", "json") or isinstance(fmt, dict):
        return
    shown = json.dumps(fmt, separators=(",", ":"))
    raise Refused(
        500,
        f'invalid format: "{shown.replace(chr(34), chr(92) + chr(34))}"; expected "json" or a valid JSON Schema object',
    )


def plan(
    state: OllamaState, kind: str, req: dict[str, Any]
) -> tuple[int, Any] | Iterator[dict[str, Any]]:
    """``(status, json)`` for a single answer, else an iterator of NDJSON objects."""
    try:
        return _plan(state, kind, req)
    except Refused as exc:
        return exc.status, {"error": str(exc)}


def _plan(
    state: OllamaState, kind: str, req: dict[str, Any]
) -> tuple[int, Any] | Iterator[dict[str, Any]]:
    name = req.get("model") or ""
    try:
        keep_alive = parse_keep_alive(req.get("keep_alive"))
    except ValueError as exc:
        raise Refused(400, str(exc)) from None
    if not name:
        raise (
            Refused(400, "model is required")
            if kind == "chat"
            else Refused(404, "model '' not found")
        )
    if parse_name(name) is None:
        raise Refused(400, "invalid model name")
    model = state.model(name)
    if model is None:
        raise Refused(404, f"model '{name}' not found")
    if not model.runnable:
        raise Refused(400, f'"{name}" does not support {"chat" if kind == "chat" else "generate"}')
    empty = not req.get("messages") if kind == "chat" else not req.get("prompt")
    if empty and not req.get("suffix"):
        if keep_alive == 0:
            _unload(state, model)
            reason = "unload"
        else:
            _check_options(model.parameters)
            _check_options(req.get("options") or {})
            _load(state, model, req, keep_alive)
            reason = "load"
        out: dict[str, Any] = {"model": name, "created_at": now_text()}
        out["message" if kind == "chat" else "response"] = (
            {"role": "assistant", "content": ""} if kind == "chat" else ""
        )
        out.update(done=True, done_reason=reason)
        return 200, out
    if (
        kind == "generate"
        and req.get("raw")
        and (req.get("template") or req.get("system") or req.get("context"))
    ):
        raise Refused(400, "raw mode does not support template, system, or context")
    think = req.get("think")
    if think not in (None, False) and "thinking" not in model.capabilities:
        raise Refused(400, f'"{name}" does not support thinking')
    if kind == "chat" and req.get("tools") and "tools" not in model.capabilities:
        raise Refused(400, f"{full_as_typed(name)} does not support tools")
    if kind == "generate" and req.get("suffix") and "insert" not in model.capabilities:
        raise Refused(400, f"{full_as_typed(name)} does not support insert")
    _check_format(req.get("format"))
    # the model's stored parameters are decoded on their own first (a bad one fails every request)
    _check_options(model.parameters)
    _check_options(req.get("options") or {})
    options = {**model.parameters, **(req.get("options") or {})}
    if kind == "chat" and model.renderer and model.renderer not in KNOWN_RENDERERS:
        raise Refused(500, f'unknown renderer "{model.renderer}"')
    images = (
        req.get("images")
        if kind == "generate"
        else [i for m in req.get("messages") or [] for i in m.get("images") or []]
    )
    if images and "vision" not in model.capabilities:
        message = json.dumps(
            {
                "error": {
                    "code": 400,
                    "message": "Multimodal data provided, but model does not support "
                    "multimodal requests.",
                    "type": "invalid_request_error",
                }
            },
            separators=(",", ":"),
        )
        raise Refused(400, message)
    _load(state, model, req, keep_alive)
    return _generate(state, kind, name, req, options, model)


def _last_user_text(kind: str, req: dict[str, Any]) -> str:
    """The text the fake model answers: the prompt, or the last message's content."""
    if kind == "generate":
        return str(req.get("prompt") or "")
    messages = req.get("messages") or []
    return str(messages[-1].get("content") or "") if messages else ""


def _tokens(state: OllamaState, kind: str, req: dict[str, Any]) -> Iterator[str]:
    if state.faults.endless_generation:
        while True:
            yield " word"
    prompt = _last_user_text(kind, req)
    fmt = req.get("format")
    scripted = state.replies.get((str(req.get("model")), prompt), state.replies.get(prompt))
    if scripted is not None:
        text = scripted
    elif fmt == "json":
        text = json.dumps({"reply": state.chat_reply})
    elif isinstance(fmt, dict):
        text = json.dumps(instance_for(fmt))
    else:
        text = state.chat_reply
    yield from re.findall(r"\s*\S+", text)


def _generate(
    state: OllamaState,
    kind: str,
    name: str,
    req: dict[str, Any],
    options: dict[str, Any],
    model: ModelRecord,
) -> tuple[int, Any] | Iterator[dict[str, Any]]:
    started = time.monotonic_ns()
    limit = options.get("num_predict")
    limit = (
        int(limit)
        if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit >= 0
        else None
    )
    stops = [s for s in options.get("stop") or [] if isinstance(s, str) and s]

    def pieces() -> Iterator[tuple[str, str | None]]:
        """(text, None) per token, then ("", done_reason)."""
        text, count = "", 0
        for token in _tokens(state, kind, req):
            if limit is not None and count >= limit:
                yield "", "length"
                return
            if state.faults.token_delay:
                time.sleep(state.faults.token_delay)
            candidate = text + token
            hit = min((candidate.find(s) for s in stops if s in candidate), default=-1)
            if hit >= 0:
                if hit > len(text):
                    yield candidate[len(text) : hit], None
                yield "", "stop"
                return
            text, count = candidate, count + 1
            yield token, None
        yield "", "stop"

    def line(text: str) -> dict[str, Any]:
        out: dict[str, Any] = {"model": name, "created_at": now_text()}
        out["message" if kind == "chat" else "response"] = (
            {"role": "assistant", "content": text} if kind == "chat" else text
        )
        out["done"] = False
        return out

    def final(text: str, reason: str, count: int) -> dict[str, Any]:
        out = line(text)
        out.update(done=True, done_reason=reason)
        if kind == "generate" and not req.get("raw"):
            out["context"] = [1, 2, 3] + [100 + i for i in range(count)]
        elapsed = time.monotonic_ns() - started
        out.update(
            total_duration=elapsed + 3000,
            load_duration=1000,
            prompt_eval_count=len(_last_user_text(kind, req).split()) + 1,
            prompt_eval_duration=1000,
            eval_count=count,
            eval_duration=max(1, elapsed // 1000) * 1000,
        )
        return out

    if kind == "chat" and _parses_on_go_path(state, model, req):
        return _parsed_chat(state, req, model, pieces, line, final)

    if req.get("stream", True) is False:
        text, count, reason = "", 0, "stop"
        for piece, done in pieces():
            if done:
                reason = done
                break
            text += piece
            count += 1
        return 200, final(text, reason, count)

    def stream() -> Iterator[dict[str, Any]]:
        for count, (piece, done) in enumerate(pieces()):
            if done:
                yield final("", done, count)
                return
            yield line(piece)
            if (
                state.faults.kill_runner_after is not None
                and count + 1 >= state.faults.kill_runner_after
            ):
                # the runner process died; /api/ps still lists it until it expires (recorded)
                yield {"error": "an error was encountered while running the model: unexpected EOF"}
                return

    return stream()


def _parses_on_go_path(state: OllamaState, model: ModelRecord, req: dict[str, Any]) -> bool:
    """ChatHandler's parsers run on the Go TEMPLATE path: before v0.30 always, from v0.30 while the
    GGUF's Jinja shows no more capabilities than the TEMPLATE (shouldPreferChatTemplate, counted).
    The native path's llama.cpp parsers are not played: such replies come back as text."""
    if not model.go_template or not model.template:
        return False
    if state.llama_server and len(jinja_caps(model.chat_template)) > len(go_caps(model.template)):
        return False
    return bool(req.get("tools")) or "thinking" in go_caps(model.template)


def _call_id() -> str:
    return "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def _message(content: str, thinking: str, calls: list[Any]) -> dict[str, Any]:
    """api.Message field order: role, content, thinking, tool_calls (empty ones omitted)."""
    out: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        out["thinking"] = thinking
    if calls:
        out["tool_calls"] = [
            {
                "id": _call_id(),
                "function": {"index": c.index, "name": c.name, "arguments": c.arguments},
            }
            for c in calls
        ]
    return out


def _parsed_chat(
    state: OllamaState,
    req: dict[str, Any],
    model: ModelRecord,
    pieces: Callable[[], Iterator[tuple[str, str | None]]],
    line: Callable[[str], dict[str, Any]],
    final: Callable[[str, str, int], dict[str, Any]],
) -> tuple[int, Any] | Iterator[dict[str, Any]]:
    """The fake model's tokens through Ollama's thinking and tool-call parsers for the TEMPLATE
    (server/routes.go ChatHandler, ported as ollama_forge.fidelity.chat_stream and checked
    against Go's parsers in tests/fidelity)."""
    from ollama_forge.fidelity.chat_stream import simulate_chat

    tokens, reason = [], "stop"
    for piece, done in pieces():
        if done:
            reason = done
            break
        tokens.append(piece)
    think = req.get("think")
    outcome = simulate_chat(
        model.template,
        req.get("tools") or [],
        tokens,
        think=think if isinstance(think, bool) else None,
    )
    if req.get("stream", True) is False:
        out = final("", reason, len(tokens))
        out["message"] = _message(outcome.content, outcome.thinking, outcome.tool_calls)
        return 200, out

    def stream() -> Iterator[dict[str, Any]]:
        for event in outcome.events:
            out = final("", reason, len(tokens)) if event.done else line("")
            out["message"] = _message(event.content, event.thinking, event.tool_calls)
            yield out

    return stream()


def _runner_key(model: ModelRecord) -> tuple[str, ...]:
    return tuple(
        layer["digest"]
        for layer in model.layers
        if layer["mediaType"].endswith(("model", "projector", "adapter"))
    )


def _load(
    state: OllamaState, model: ModelRecord, req: dict[str, Any], keep_alive: float | None
) -> None:
    if state.faults.runner_signal:
        raise Refused(
            500, f"llama-server process has terminated: signal: {state.faults.runner_signal}"
        )
    for layer in model.kind("projector"):
        tensors = state.gguf(state.blob_path(layer["digest"]))[1]
        if not any(
            t["name"].startswith("v.blk.") for t in tensors
        ):  # no vision encoder: llama-server fails
            path = state.blob_path(layer["digest"])
            line = f"error: Failed to load CLIP model from {path}"
            raise Refused(
                500, f"llama-server process has terminated: exit status 1: {line}\n{line}"
            )
    ctx_raw = (req.get("options") or {}).get("num_ctx") or model.parameters.get("num_ctx") or 4096
    ctx = int(ctx_raw) if isinstance(ctx_raw, (int, float)) else 4096
    key = _runner_key(model)
    now = datetime.now(timezone.utc)
    with state.lock:
        current = next((r for r in state.running if r.get("key") == key), None)
        if current is not None and current["context_length"] == ctx:
            duration = keep_alive if keep_alive is not None else current["duration"]
            current.update(duration=duration, expires_at=_expiry(now, duration))
            return
        state.running = [r for r in state.running if r.get("key") != key]
        duration = keep_alive if keep_alive is not None else DEFAULT_KEEP_ALIVE
        size = model.size + ctx * 2048
        state.running.append(
            {
                "key": key,
                "name": model.display,
                "size": size,
                "size_vram": size if state.gpu else 0,
                "digest": model.digest,
                "details": dict(model.details),
                "duration": duration,
                "expires_at": _expiry(now, duration),
                "context_length": ctx,
            }
        )


def _expiry(now: datetime, duration: float) -> datetime:
    return now + timedelta(days=365 * 290) if duration < 0 else now + timedelta(seconds=duration)


def _unload(state: OllamaState, model: ModelRecord) -> None:
    key = _runner_key(model)
    with state.lock:
        state.running = [r for r in state.running if r.get("key") != key]
