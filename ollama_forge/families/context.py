"""Choosing ``num_ctx`` deliberately instead of leaving it to Ollama's default.

Ollama's default context depends on the server version and the GPU (2048, 4096, or a VRAM tier;
reference §2.4) and silently truncates long prompts. forge always writes ``PARAMETER num_ctx``:

* an explicit request (``--param num_ctx=N`` / ``num_ctx=``) is kept (capped at the trained
  context, with a warning);
* otherwise the model's trained context, capped at ``max_ctx`` (``--num-ctx``, default
  :data:`DEFAULT_MAX_CTX`), then reduced until weights + KV cache fit the memory budget
  (``--mem``; default: the memory free on this machine, when known).

The reason is returned for the CLI to explain on stderr and recorded in the Modelfile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ..budget import detect_budget
from ..errors import UsageError
from ..gguf.memory import estimate_memory

if TYPE_CHECKING:
    from ..gguf import GGUFInfo

DEFAULT_MAX_CTX = 8192
MIN_CTX = 512
_STEP = 256


class ContextChoice(BaseModel):
    num_ctx: int
    trained: int | None = None
    cap: int | None = None
    budget_bytes: int | None = None
    budget_source: str | None = None
    estimated_bytes: int | None = None
    reason: str
    warnings: list[str] = Field(default_factory=list)


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"


def _total(info: GGUFInfo, ctx: int, weights_bytes: int | None) -> int | None:

    estimate = estimate_memory(info, ctx, weights_bytes=weights_bytes)
    if estimate.kv_bytes is None:
        return None
    return int(estimate.total_bytes)


def choose_num_ctx(
    info: GGUFInfo,
    *,
    requested: int | None = None,
    max_ctx: int | None = None,
    mem: int | str | None = None,
    weights_bytes: int | None = None,
    use_free_memory: bool = True,
) -> ContextChoice:
    """The ``num_ctx`` to write for ``info`` and why (see the module docstring)."""
    trained = info.context_length if info.context_length and info.context_length > 0 else None
    if requested is not None:
        if isinstance(requested, bool) or requested < 1:
            raise UsageError(
                f"Invalid num_ctx {requested!r}", hint="Pass a positive number of tokens."
            )
        warnings = []
        if trained and requested > trained:
            warnings.append(
                f"num_ctx {requested} exceeds the model's trained context {trained}; "
                "quality degrades past it and Ollama caps it there"
            )
        return ContextChoice(
            num_ctx=requested,
            trained=trained,
            reason=f"num_ctx {requested} as requested",
            warnings=warnings,
        )
    if max_ctx is not None and (isinstance(max_ctx, bool) or max_ctx < MIN_CTX):
        raise UsageError(
            f"Invalid --num-ctx {max_ctx!r}",
            hint=f"Pass at least {MIN_CTX} tokens, e.g. --num-ctx 8192.",
        )
    cap = max_ctx if max_ctx is not None else DEFAULT_MAX_CTX
    cap_text = (
        f"--num-ctx {cap}"
        if max_ctx is not None
        else f"forge's default cap {cap} (raise it with --num-ctx)"
    )
    if trained is None:
        ctx = cap
        reason = f"the GGUF does not state its trained context; using {cap_text}"
    elif trained <= cap:
        ctx = trained
        reason = f"the model's trained context {trained} (within {cap_text})"
    else:
        ctx = cap
        reason = f"trained context {trained}, capped at {cap_text}"
    choice = ContextChoice(num_ctx=ctx, trained=trained, cap=cap, reason=reason)

    if mem is None and not use_free_memory:
        return choice
    detected = detect_budget(mem)  # the same budget `forge quants` fits variants in
    budget = detected.bytes
    label = {"--mem": "--mem", "vram": "free VRAM", "ram": "free memory"}[detected.source]
    choice.budget_source = f"{label} {_gib(budget)}"
    choice.budget_bytes = budget
    total = _total(info, ctx, weights_bytes)
    if total is None:
        choice.warnings.append(
            "the GGUF lacks what the KV-cache estimate needs; the memory budget was not applied"
        )
        return choice
    choice.estimated_bytes = total
    if total <= budget:
        if mem is not None:  # free memory changes from run to run: keep it out of the Modelfile
            choice.reason += f"; weights + KV cache ≈ {_gib(total)} fit {choice.budget_source}"
        return choice
    # Largest multiple of _STEP (>= MIN_CTX) whose estimate fits: the estimate grows with ctx.
    lo, hi = MIN_CTX // _STEP, ctx // _STEP
    if (_total(info, lo * _STEP, weights_bytes) or 0) > budget:
        choice.num_ctx = MIN_CTX
        choice.estimated_bytes = _total(info, MIN_CTX, weights_bytes)
        choice.reason += f"; even {MIN_CTX} tokens exceed {choice.budget_source}, so the minimum {MIN_CTX} is used"
        choice.warnings.append(
            f"the model needs more than {choice.budget_source} even at num_ctx {MIN_CTX}; "
            "it will run partly on the CPU or fail to load"
        )
        return choice
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if (_total(info, mid * _STEP, weights_bytes) or 0) <= budget:
            lo = mid
        else:
            hi = mid - 1
    choice.num_ctx = lo * _STEP
    choice.estimated_bytes = _total(info, choice.num_ctx, weights_bytes)
    choice.reason += (
        f"; reduced to {choice.num_ctx} so weights + KV cache "
        f"(≈ {_gib(choice.estimated_bytes or 0)}) fit {choice.budget_source}"
    )
    return choice
