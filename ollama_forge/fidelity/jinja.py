"""A model's own Jinja chat template, rendered exactly as transformers renders it.

GGUF metadata is untrusted (CVE-2024-34359 "Llama Drama": an unsandboxed Jinja render of
``tokenizer.chat_template`` is code execution). The template therefore only ever runs inside
jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` configured like transformers
5.x ``_compile_jinja_template``: ``trim_blocks``, ``lstrip_blocks``, ``loopcontrols``, the
``{% generation %}`` tag (AssistantTracker), no loader (``include``/``import``/``extends`` fail),
the ``tojson`` override, the globals ``raise_exception``, ``strftime_now``, a restricted ``dict``
and an underscore-refusing ``namespace``. Inputs are rebuilt out of plain JSON types first.

DoS guards the sandbox lacks (security fact sheet §3):

* the template length is capped (:data:`MAX_TEMPLATE_CHARS`);
* rendering happens in a **persistent worker subprocess** with a wall-clock timeout. A thread
  cannot be stopped and ``sys.settrace`` slows every render, while a nested
  ``range(99999)`` loop emits nothing a generator-based guard could observe; killing a
  process is the one mechanism that really stops it. The worker stays alive between renders
  (one start per session, then a pipe round trip per render), so the common path is fast;
  on a timeout it is killed and a fresh one starts on the next call;
* one **budget per command**: renders costing more than :data:`FREE_RENDER_S` of CPU (real
  templates take milliseconds; a killed render counts its wall time) draw on
  :data:`RENDER_BUDGET_S` shared by every render of the process, or of a :func:`render_budget` scope; once it is spent a render fails at once, and a
  template that timed out fails at once on every later render. A hostile template therefore
  costs one command a few seconds, not a timeout per conversation;
* the worker runs under an address-space limit (where the OS supports ``RLIMIT_AS``) and
  stops rendering once the output exceeds :data:`MAX_OUTPUT_CHARS`.

Requests and answers cross the pipe as JSON, which also guarantees that only plain data
(str, int, float, bool, None, lists, dicts) ever reaches the template.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import ChatTemplateError
from ..text import scrub_surrogates
from .jinja_env import (
    DATE_MARK_CLOSE,
    DATE_MARK_OPEN,
    MAX_OUTPUT_CHARS,
    make_environment,
)
from .jinja_worker import WORKER_MEMORY_BYTES, _exchange

__all__ = [
    "DATE_MARK_CLOSE",
    "DATE_MARK_OPEN",
    "MAX_OUTPUT_CHARS",
    "WORKER_MEMORY_BYTES",
]  # re-exported

MAX_TEMPLATE_CHARS = 256 * 1024
DEFAULT_TIMEOUT_S = 5.0
RENDER_BUDGET_S = 8.0  # seconds of slow renders one command may spend, in all
FREE_RENDER_S = (
    0.05  # renders cheaper than this (real ones take milliseconds) do not draw on the budget
)

_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
# ChatTemplateError kinds that mean "broken or hostile template", never "this conversation is refused".
HOSTILE_KINDS = frozenset(
    {
        "Timeout",
        "OutputLimit",
        "MemoryError",
        "WorkerDied",
        "SecurityError",
        "TemplateTooLarge",
        "TemplateSyntaxError",
        "RecursionError",
    }
)
# GGUF special-token kinds a tokenizer's special_tokens_map exposes to templates (besides bos/eos)
TEMPLATE_TOKEN_KINDS = ("unk", "pad", "sep", "cls", "mask")


def special_token_kwargs(special_tokens: Mapping[str, str] | None) -> dict[str, Any]:
    """``unk_token``/``pad_token``/... template variables, as transformers passes special_tokens_map."""
    return {
        f"{k}_token": v
        for k, v in (special_tokens or {}).items()
        if k in TEMPLATE_TOKEN_KINDS and v
    }


# ---------------------------------------------------------------------------------------------
# Input preparation (mirrors transformers' _normalize_chat_messages / _plain_template_data /
# _alias_reasoning_fields)


def plain_data(value: Any) -> Any:
    """Rebuild ``value`` out of plain JSON types (anything else becomes ``"<TypeName>"``)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {plain_data(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(item) for item in value]
    if callable(getattr(value, "model_dump", None)):
        return plain_data(value.model_dump())
    return f"<{type(value).__name__}>"


def prepare_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Drop None-valued keys, reduce to plain data and alias reasoning fields, like transformers."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, Mapping):
            raise ChatTemplateError(
                f"chat messages must be objects, got {type(message).__name__}",
                hint='give each message as {"role": ..., "content": ...}',
            )
        clean = {k: v for k, v in plain_data(message).items() if v is not None}
        reasoning = next((clean[k] for k in _REASONING_FIELDS if clean.get(k) is not None), None)
        if reasoning is not None:
            clean = {"thinking": reasoning, **clean, "reasoning_content": reasoning}
        out.append(clean)
    return out


def check_template(template: str) -> None:
    """Refuse non-text, oversized or syntactically broken templates (parsing executes nothing)."""
    if isinstance(template, str) and template in _CHECKED:
        return
    if not isinstance(template, str):
        raise ChatTemplateError(
            "the chat template is not text", hint="pass the template as a string"
        )
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ChatTemplateError(
            f"the chat template is {len(template)} characters long, over forge's limit of {MAX_TEMPLATE_CHARS}",
            hint="real chat templates are a few KiB; this GGUF's template is suspicious",
            kind="TemplateTooLarge",
        )
    import jinja2

    try:
        _parse_env().parse(template)
    except jinja2.TemplateSyntaxError as exc:
        raise ChatTemplateError(
            f"the chat template does not parse: {exc.message} (line {exc.lineno})",
            hint="the GGUF's tokenizer.chat_template is broken; pass a Modelfile TEMPLATE or a family instead",
            kind="TemplateSyntaxError",
            line=exc.lineno,
        ) from None
    except RecursionError:
        raise ChatTemplateError(
            "the chat template nests too deeply to parse",
            hint="the template is not a real chat template",
            kind="RecursionError",
        ) from None
    if len(_CHECKED) > 256:
        _CHECKED.clear()
    _CHECKED.add(template)


_CHECKED: set[str] = set()


_PARSE_ENV: Any = None


def _parse_env() -> Any:
    global _PARSE_ENV
    if _PARSE_ENV is None:
        _PARSE_ENV = make_environment(date_marker=False)
    return _PARSE_ENV


def template_variables(template: str) -> frozenset[str]:
    """The undeclared variables a template reads (``messages``, ``tools``, ``enable_thinking``...)."""
    import jinja2.meta

    check_template(template)
    return frozenset(jinja2.meta.find_undeclared_variables(_parse_env().parse(template)))


# ---------------------------------------------------------------------------------------------
# One budget per command (the worker process itself is in jinja_worker.py)


class RenderBudget:
    """Slow-render seconds left to a command, and the templates that already ran out of time."""

    def __init__(self, seconds: float = RENDER_BUDGET_S) -> None:
        self.seconds = float(seconds)
        self.spent = 0.0
        self.failed: dict[str, dict[str, Any]] = {}  # template digest -> the error's arguments

    @property
    def left(self) -> float:
        return self.seconds - self.spent

    def charge(self, elapsed: float) -> None:
        if (
            elapsed > FREE_RENDER_S
        ):  # a slow render counts in full, so N renders just under a limit cannot add up
            self.spent += elapsed


_PROCESS_BUDGET = RenderBudget()
_BUDGET: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar(
    "forge_render_budget", default=None
)


@contextlib.contextmanager
def render_budget(seconds: float = RENDER_BUDGET_S) -> Iterator[RenderBudget]:
    """Give the renders inside the ``with`` block (one command) their own budget.

    Without a scope every render of the process shares one (a CLI process is one command).
    """
    budget = RenderBudget(seconds)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def _current_budget() -> RenderBudget:
    return _BUDGET.get() or _PROCESS_BUDGET


def _template_key(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8", "surrogatepass")).hexdigest()


def _run_request(request: dict[str, Any], timeout: float) -> dict[str, Any]:
    budget = _current_budget()
    key = _template_key(request["template"])
    failed = budget.failed.get(key)
    if failed is not None:
        raise ChatTemplateError(**failed)
    if budget.left <= 0:
        raise ChatTemplateError(
            f"this command already spent its chat-template render budget ({budget.seconds:g} s) on slow renders",
            hint="a chat template renders far slower than real ones (a CPU denial of service); "
            "do not use this GGUF's template",
            kind="Timeout",
            budget_s=budget.seconds,
        )
    # A render may overrun the remaining budget by the free allowance only.
    limit = max(0.05, min(timeout, budget.left + FREE_RENDER_S))
    start = time.monotonic()
    try:
        answer = _exchange(request, limit)
    except ChatTemplateError as exc:
        budget.charge(time.monotonic() - start)  # a killed render cost its whole wall time
        if exc.kind in ("Timeout", "WorkerDied"):
            budget.failed[key] = {
                "message": exc.message + " (earlier in this command)",
                "hint": exc.hint,
                **exc.fields,
            }
        raise
    # The worker's CPU time, not the wall clock: a loaded machine must not eat the budget.
    cpu = answer.get("cpu")
    budget.charge(float(cpu) if isinstance(cpu, (int, float)) else time.monotonic() - start)
    return answer


def render_chat_template(
    template: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    documents: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
    timeout: float = DEFAULT_TIMEOUT_S,
    max_output: int = MAX_OUTPUT_CHARS,
    date_marker: bool = False,
    **kwargs: Any,
) -> str:
    """Render a model's Jinja chat template like ``tokenizer.apply_chat_template(..., tokenize=False)``.

    ``messages`` use the transformers shape (``tool_calls`` as ``{"type": "function", "function":
    {"name", "arguments"}}``). Extra keyword arguments (``enable_thinking``, special tokens, ...)
    reach the template as variables, as transformers' ``**kwargs`` do. Raises
    :class:`ChatTemplateError` for syntax errors, sandbox refusals, ``raise_exception`` (with the
    template's own message in ``template_message``), timeouts and output/memory limits.
    """
    check_template(template)
    request = {
        "template": template,
        "messages": prepare_messages(messages),
        "tools": plain_data(list(tools)) if tools is not None else None,
        "documents": plain_data(list(documents)) if documents is not None else None,
        "add_generation_prompt": bool(add_generation_prompt),
        "kwargs": plain_data({"bos_token": bos_token, "eos_token": eos_token, **kwargs}),
        "max_output": int(max_output),
        "date_marker": bool(date_marker),
    }
    answer = _run_request(request, timeout)
    if answer.get("ok"):
        # Escapes in the template or the messages can make lone surrogates, which no encoder
        # accepts: they become U+FFFD, as a Go JSON decoder (Ollama) reads them.
        return scrub_surrogates(str(answer["text"]))
    kind = str(answer.get("kind", "Error"))
    message = str(answer.get("message", ""))
    if kind == "raise_exception":
        raise ChatTemplateError(
            f"the chat template refused the conversation: {message}",
            hint="the model's template does not accept this message sequence (its own rule)",
            kind=kind,
            template_message=message,
        )
    hints = {
        "SecurityError": "the template tried something the sandbox forbids; treat this GGUF as hostile",
        "OutputLimit": "the template produces unbounded output; do not use this GGUF's template",
        "MemoryError": "the template allocates without bound; do not use this GGUF's template",
        "TypeError": "the template needs something forge does not provide (loaders are disabled on purpose)",
    }
    raise ChatTemplateError(
        f"the chat template failed to render: {kind}: {message}",
        hint=hints.get(
            kind,
            "the GGUF's chat template cannot render this conversation; "
            "pass a family or a Modelfile TEMPLATE instead",
        ),
        kind=kind,
    )
