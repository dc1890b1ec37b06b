"""Memory to run a GGUF at a context length: weights + KV cache (gguf.md §7, llama.cpp rules).

``KV ≈ Σ_layers (head_dim_k + head_dim_v) × n_head_kv(layer) × cells(layer) × bytes/elem``
with per-layer KV head counts, sliding-window layers holding only about
``sliding_window + ubatch`` cells, MLA models caching a compressed latent, and recurrent
layers caching nothing that grows. Compute buffers are not included (see ``notes``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..errors import UsageError
from .info import GGUFInfo

# cache type -> (block elements, bytes per block) as in ggml
CACHE_TYPES: dict[str, tuple[int, int]] = {
    "f32": (1, 4),
    "f16": (1, 2),
    "bf16": (1, 2),
    "q8_0": (32, 34),
    "q5_1": (32, 24),
    "q5_0": (32, 22),
    "q4_1": (32, 20),
    "q4_0": (32, 18),
    "iq4_nl": (32, 18),
}
# llama.cpp's hard-coded SWA period per architecture when the GGUF has no
# attention.sliding_window_pattern (set_swa_pattern in src/llama-model.cpp).
ARCH_SWA_PERIOD: dict[str, int] = {
    "gemma2": 2,
    "gemma3": 6,
    "gemma3n": 5,
    "gemma-embedding": 6,
    "cohere2": 4,
    "gpt-oss": 2,
    "exaone4": 4,
    "llama4": 4,
}
RECURRENT_ARCHS = {"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"}
UBATCH = 512  # llama.cpp's default n_ubatch: SWA caches keep window + ubatch cells
_PAD = 256
MAX_LAYERS = 16384  # real models have at most a few hundred; bounds the per-layer loop


class MemoryEstimate(BaseModel):
    ctx: int
    cache_type: str = "f16"
    weights_bytes: int
    kv_bytes: int | None  # None when the header lacks what the estimate needs
    total_bytes: int  # weights + KV (compute buffers not included)
    kv_bytes_full_ctx: int | None = None  # KV at the model's trained context_length
    full_attention_layers: int | None = None
    sliding_window_layers: int | None = None
    notes: list[str] = Field(default_factory=list)


def _layer_value(value: int | list[int] | None, il: int) -> int | None:
    if isinstance(value, list):
        return value[il] if il < len(value) else None
    return value


def _is_swa(info: GGUFInfo, il: int, period: int | None) -> bool:
    pattern = info.sliding_window_pattern
    if isinstance(pattern, list):
        return bool(pattern[il]) if il < len(pattern) else False
    if period is None:
        return False
    return period == 0 or il % period < period - 1


def _kv_bytes(
    info: GGUFInfo, ctx: int, block: int, size: int, notes: list[str]
) -> tuple[int | None, int, int]:
    """(KV bytes, full layers, SWA layers) or (None, 0, 0) when unknown."""
    n_layer = info.block_count
    if not n_layer:
        notes.append("block_count is missing or 0: KV cache size unknown")
        return None, 0, 0
    if n_layer > MAX_LAYERS:
        notes.append(
            f"block_count {n_layer} is implausible (> {MAX_LAYERS}): KV cache size unknown"
        )
        return None, 0, 0
    window = info.sliding_window or 0
    period: int | None = None
    if window > 0:
        pattern = info.sliding_window_pattern
        if isinstance(pattern, int):
            period = pattern
        elif pattern is None:
            period = ARCH_SWA_PERIOD.get(info.architecture or "")
            if period is None:
                notes.append(
                    f"sliding_window={window} but no layer pattern is known for "
                    f"{info.architecture!r}: all layers counted at full context (upper bound)"
                )
    mla = info.kv_lora_rank is not None and info.kv_lora_rank > 0
    total = 0
    full_layers = swa_layers = 0
    no_attention = 0
    for il in range(n_layer):
        n_head = _layer_value(info.head_count, il)
        n_kv = _layer_value(info.head_count_kv, il)
        if n_kv is None:
            n_kv = n_head
        if n_kv is None:
            notes.append("head_count is missing: KV cache size unknown")
            return None, 0, 0
        if n_kv == 0:
            no_attention += 1  # recurrent / non-attention layer in a hybrid
            continue
        swa = window > 0 and _is_swa(info, il, period)
        if mla:
            k_row = (info.kv_lora_rank or 0) + (info.rope_dimension_count or 0)
            v_row = 0
        else:
            k_dim = info.key_length_swa if swa and info.key_length_swa else info.key_length
            v_dim = info.value_length_swa if swa and info.value_length_swa else info.value_length
            if (k_dim is None or v_dim is None) and n_head and info.embedding_length:
                k_dim = k_dim if k_dim is not None else info.embedding_length // n_head
                v_dim = v_dim if v_dim is not None else info.embedding_length // n_head
            if not k_dim or not v_dim:
                notes.append(
                    "head size unknown (no key_length and head_count is 0): KV cache size unknown"
                )
                return None, 0, 0
            k_row, v_row = k_dim * n_kv, v_dim * n_kv
        cells = min(ctx, _pad(window + UBATCH)) if swa else ctx
        swa_layers += swa
        full_layers += not swa
        total += (k_row * size // block + v_row * size // block) * cells
    if mla:
        notes.append(
            "MLA model: the cache holds the compressed latent (kv_lora_rank + rope dims); approximate"
        )
    if no_attention:
        notes.append(
            f"{no_attention} layer(s) without attention (recurrent/SSM): their fixed state is not counted"
        )
    return total, full_layers, swa_layers


def _pad(value: int) -> int:
    return value + (_PAD - value % _PAD) % _PAD


def estimate_memory(
    info: GGUFInfo,
    ctx: int | None = None,
    cache_type: str = "f16",
    *,
    weights_bytes: int | None = None,
) -> MemoryEstimate:
    """Weights + KV cache for ``ctx`` tokens (default: min(context_length, 4096), Ollama's usual).

    ``weights_bytes`` overrides the header's tensor bytes (e.g. the sum over a split model's shards).
    """
    if isinstance(ctx, bool) or (ctx is not None and (not isinstance(ctx, int) or ctx < 1)):
        raise UsageError(
            f"Invalid context length {ctx!r}",
            hint="Pass a positive number of tokens, e.g. --num-ctx 8192.",
        )
    cache = cache_type.lower()
    if cache not in CACHE_TYPES:
        raise UsageError(
            f"Unknown KV cache type {cache_type!r}",
            hint=f"Use one of: {', '.join(CACHE_TYPES)}.",
        )
    block, size = CACHE_TYPES[cache]
    notes: list[str] = []
    trained = info.context_length if info.context_length and info.context_length > 0 else None
    if ctx is None:
        ctx = min(trained, 4096) if trained else 4096
        notes.append(
            f"ctx {ctx}: Ollama's default num_ctx (4096) capped at the trained context; pass --num-ctx to change"
        )
    elif trained and ctx > trained:
        notes.append(
            f"ctx {ctx} exceeds the trained context_length {trained}: quality degrades past it"
        )
    weights = info.tensor_bytes if weights_bytes is None else weights_bytes
    if info.tensor_count == 0 and weights_bytes is None:
        notes.append("the file has no tensors (vocab-only or metadata-only): weights are 0")
    kv: int | None
    kv_full: int | None = None
    full = swa = 0
    if info.is_projector or info.is_adapter:
        kv = 0
        notes.append(
            f"{'projector' if info.is_projector else 'adapter'} file: no KV cache of its own"
        )
    elif (info.architecture or "") in RECURRENT_ARCHS:
        kv = 0
        notes.append(
            f"{info.architecture} is recurrent: a fixed-size state instead of a growing KV cache"
        )
    else:
        kv, full, swa = _kv_bytes(info, ctx, block, size, notes)
        if kv is not None and trained and trained != ctx and trained <= 1 << 24:
            kv_full, _, _ = _kv_bytes(info, trained, block, size, [])
    if swa:
        notes.append(
            f"{swa} sliding-window layer(s) keep min(ctx, window {info.sliding_window} + ubatch {UBATCH}) cells "
            "(llama-server/Ollama default; with swa_full, as in llama-cpp-python, they keep ctx cells)"
        )
    notes.append(
        "not included: compute buffers (model-dependent, often hundreds of MiB) and any projector"
    )
    result: dict[str, Any] = {
        "ctx": ctx,
        "cache_type": cache,
        "weights_bytes": weights,
        "kv_bytes": kv,
        "total_bytes": weights + (kv or 0),
        "kv_bytes_full_ctx": kv_full,
        "full_attention_layers": full if kv is not None and not info.is_projector else None,
        "sliding_window_layers": swa if kv is not None and not info.is_projector else None,
        "notes": notes,
    }
    return MemoryEstimate(**result)
