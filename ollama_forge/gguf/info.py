"""The :class:`GGUFInfo` summary of a parsed header (JSON-stable field names, docs/inspect-json.md)."""

from __future__ import annotations

import math
from typing import Any, Protocol

from pydantic import BaseModel, Field

from .cursor import FIXED, ArrayRef, TensorInfo
from .quant import quant_from_file_type, quant_from_filename


class HeaderView(Protocol):
    """What :func:`build_info` reads of a parsed header (a :class:`~.reader.GGUFFile`).

    A protocol rather than the class: the reader builds its info with this module, so this
    module must not import the reader.
    """

    name: str
    version: int
    tensor_count: int
    kv: dict[str, Any]
    tensors: list[TensorInfo]
    alignment: int
    header_end: int
    data_offset: int
    file_size: int | None
    tensor_bytes: int
    size_checked: bool

    @property
    def vocab_size(self) -> int | None: ...

    def array(self, key: str) -> list[Any]: ...

    def token_text(self, token_id: int) -> str | None: ...

    def token_type(self, token_id: int) -> int | None: ...


# Special token kinds -> tokenizer.ggml.<key> (gguf-py Keys.Tokenizer; "seperator" is upstream's spelling).
SPECIAL_TOKEN_KEYS: dict[str, str] = {
    "bos": "bos_token_id",
    "eos": "eos_token_id",
    "eot": "eot_token_id",
    "eom": "eom_token_id",
    "pad": "padding_token_id",
    "unk": "unknown_token_id",
    "sep": "seperator_token_id",
    "cls": "cls_token_id",
    "mask": "mask_token_id",
    "fim_pre": "fim_pre_token_id",
    "fim_suf": "fim_suf_token_id",
    "fim_mid": "fim_mid_token_id",
    "fim_pad": "fim_pad_token_id",
    "fim_rep": "fim_rep_token_id",
    "fim_sep": "fim_sep_token_id",
}
_INLINE_ARRAY = 16  # arrays up to this length appear in full in ``metadata``
_PER_LAYER_MAX = 4096  # per-layer arrays read on demand when not decoded at parse time
_METADATA_TEXT = 1 << 20  # characters of strings shown in ``metadata`` in all
_METADATA_STRING = (
    4096  # long strings (templates) are cut in ``metadata``; full text has its own field
)


class SpecialToken(BaseModel):
    id: int
    text: str | None = None  # None when the id is outside the vocabulary
    type: int | None = None  # tokenizer.ggml.token_type of the id


class SplitInfo(BaseModel):
    no: int  # 0-based shard index (split.no)
    count: int
    tensors_count: int | None = None  # total over all shards


class TensorTypeCount(BaseModel):
    count: int
    bytes: int


class GGUFInfo(BaseModel):
    """Everything forge needs from a GGUF header. Field names are stable (docs/inspect-json.md)."""

    path: str
    file_size: int | None
    version: int
    architecture: str | None = None
    name: str | None = None
    basename: str | None = None
    size_label: str | None = None
    finetune: str | None = None
    organization: str | None = None
    general_type: str | None = None
    is_projector: bool = False
    is_adapter: bool = False
    file_type: int | None = None
    quant: str | None = None
    quant_from_filename: str | None = None
    quantization_version: int | None = None
    parameter_count: int = 0
    context_length: int | None = None
    block_count: int | None = None
    embedding_length: int | None = None
    feed_forward_length: int | list[int] | None = None
    head_count: int | list[int] | None = None
    head_count_kv: int | list[int] | None = None
    key_length: int | None = None
    value_length: int | None = None
    key_length_swa: int | None = None
    value_length_swa: int | None = None
    sliding_window: int | None = None
    sliding_window_pattern: int | list[bool] | None = None
    kv_lora_rank: int | None = None
    rope_dimension_count: int | None = None
    rope_freq_base: float | None = None
    rope_scaling_type: str | None = None
    rope_scaling_factor: float | None = None
    expert_count: int | None = None
    expert_used_count: int | None = None
    vocab_size: int | None = None
    tokenizer_model: str | None = None
    tokenizer_pre: str | None = None
    special_tokens: dict[str, SpecialToken] = Field(default_factory=dict)
    add_bos_token: bool | None = None
    add_eos_token: bool | None = None
    chat_template: str | None = None
    chat_templates: dict[str, str] = Field(default_factory=dict)
    split: SplitInfo | None = None
    alignment: int
    data_offset: int
    header_size: int
    tensor_count: int
    tensor_bytes: int
    tensor_types: dict[str, TensorTypeCount] = Field(default_factory=dict)
    size_checked: bool = True  # False when the file size was unknown (remote prefix)
    sampling: dict[str, Any] = Field(default_factory=dict)
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return int(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_list(handle: HeaderView, key: str) -> int | list[int] | None:
    value = handle.kv.get(key)
    if isinstance(value, ArrayRef):
        values = _small_values(handle, value)
        if values is None or not all(_int(v) is not None for v in values):
            return None
        return [int(v) for v in values]
    return _int(value)


def _small_values(handle: HeaderView, ref: Any) -> list[Any] | None:
    """A per-layer array's values: decoded at parse time, or read now when small and fixed-width."""
    if ref.values is not None:
        return list(ref.values)
    if ref.elem_type in FIXED and ref.count <= _PER_LAYER_MAX:
        return handle.array(ref.key)
    return None


def _metadata(handle: HeaderView) -> dict[str, Any]:
    out: dict[str, Any] = {}
    budget = _METADATA_TEXT  # characters of strings shown in all, so the report stays small
    for key, value in handle.kv.items():
        if isinstance(value, str):
            shown = min(len(value), _METADATA_STRING)
            if shown > budget:
                out[key] = {"type": "string", "length": len(value)}
                continue
            budget -= shown
            if len(value) > _METADATA_STRING:
                value = (
                    value[:_METADATA_STRING]
                    + f"… ({len(value) - _METADATA_STRING} more characters)"
                )
            out[key] = value
        elif isinstance(value, ArrayRef):
            items = value.values if value.count <= _INLINE_ARRAY else None
            text = sum(len(v) for v in items if isinstance(v, str)) if items is not None else 0
            if (
                items is not None
                and text <= budget
                and not any(isinstance(v, ArrayRef) for v in items)
            ):
                budget -= text
                out[key] = [
                    v if not isinstance(v, float) or math.isfinite(v) else None for v in items
                ]
            else:
                out[key] = value.summary()
        elif isinstance(value, float) and not math.isfinite(value):
            out[key] = None  # JSON has no NaN/Infinity
        else:
            out[key] = value
    return out


def build_info(handle: HeaderView) -> GGUFInfo:
    kv = handle.kv
    arch = _str(kv.get("general.architecture"))
    warnings: list[str] = []
    if arch is None:
        warnings.append(
            "general.architecture is missing: llama.cpp and Ollama cannot load this file"
        )

    def a(suffix: str) -> Any:
        return kv.get(f"{arch}.{suffix}") if arch else None

    general_type = _str(kv.get("general.type"))
    block_count = _int(a("block_count"))
    head_count = _int_or_list(handle, f"{arch}.attention.head_count")
    head_count_kv = _int_or_list(handle, f"{arch}.attention.head_count_kv")
    embedding = _int(a("embedding_length"))
    for label, value in (("head_count", head_count), ("head_count_kv", head_count_kv)):
        if isinstance(value, list) and block_count is not None and len(value) != block_count:
            warnings.append(
                f"{label} has {len(value)} per-layer entries but block_count is {block_count}"
            )
    key_length, value_length = _int(a("attention.key_length")), _int(a("attention.value_length"))
    if isinstance(head_count, int) and head_count > 0 and embedding:
        # llama.cpp's default head size when the keys are absent.
        key_length = key_length if key_length is not None else embedding // head_count
        value_length = value_length if value_length is not None else embedding // head_count

    file_type = _int(kv.get("general.file_type"))
    file_name = handle.name.replace("\\", "/").rsplit("/", 1)[-1]
    quant = quant_from_file_type(file_type)
    by_name = quant_from_filename(file_name)

    vocab = handle.vocab_size
    specials: dict[str, SpecialToken] = {}
    for kind, suffix in SPECIAL_TOKEN_KEYS.items():
        token_id = _int(kv.get(f"tokenizer.ggml.{suffix}"))
        if token_id is None:
            continue
        text = handle.token_text(token_id)
        if vocab is not None and text is None:
            warnings.append(
                f"{kind}_token_id {token_id} is outside the vocabulary ({vocab} tokens)"
            )
        specials[kind] = SpecialToken(id=token_id, text=text, type=handle.token_type(token_id))

    chat_templates: dict[str, str] = {}
    for key, value in kv.items():
        if key.startswith("tokenizer.chat_template.") and isinstance(value, str):
            chat_templates[key.removeprefix("tokenizer.chat_template.")] = value

    split = None
    split_no = _first_int(kv, "split.no", f"{arch}.split.no")
    split_count = _first_int(kv, "split.count", f"{arch}.split.count")
    if split_no is not None or split_count is not None:
        split = SplitInfo(
            no=split_no if split_no is not None else -1,
            count=split_count if split_count is not None else 0,
            tensors_count=_first_int(kv, "split.tensors.count", f"{arch}.split.tensors.count"),
        )

    counts: dict[str, list[int]] = {}
    parameters = 0
    for t in handle.tensors:
        parameters += t.n_elements
        entry = counts.get(t.type_name)
        if entry is None:
            entry = counts[t.type_name] = [0, 0]
        entry[0] += 1
        entry[1] += t.n_bytes
    type_counts = {name: TensorTypeCount(count=c, bytes=b) for name, (c, b) in counts.items()}
    if handle.file_size is not None and parameters > handle.file_size * 8:
        warnings.append(
            f"parameter count {parameters} is implausible for a {handle.file_size}-byte file"
        )

    context_length = _int(a("context_length"))
    if context_length == 0:
        warnings.append("context_length is 0")
    if (
        general_type in (None, "model")
        and block_count == 0
        and not _is_projector(kv, arch, general_type, block_count)
    ):
        warnings.append("block_count is 0 for a model file")

    sampling: dict[str, Any] = {}
    for key, value in kv.items():
        if not key.startswith("general.sampling."):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            # The file's defect, not the user's: leave it out and say so.
            warnings.append(f"{key} is {value} (not a finite number): ignored")
        elif isinstance(value, (int, float, str, bool)):
            sampling[key.removeprefix("general.sampling.")] = value
    pattern_raw = a("attention.sliding_window_pattern")
    pattern: int | list[bool] | None = _int(pattern_raw)
    if pattern is None and isinstance(pattern_raw, ArrayRef):
        flags = _small_values(handle, pattern_raw)
        pattern = [bool(v) for v in flags] if flags is not None else None
    scaling_factor = _num(a("rope.scaling.factor"))

    return GGUFInfo(
        path=handle.name,
        file_size=handle.file_size,
        version=handle.version,
        architecture=arch,
        name=_str(kv.get("general.name")),
        basename=_str(kv.get("general.basename")),
        size_label=_str(kv.get("general.size_label")),
        finetune=_str(kv.get("general.finetune")),
        organization=_str(kv.get("general.organization")),
        general_type=general_type,
        is_projector=_is_projector(kv, arch, general_type, block_count),
        is_adapter=general_type == "adapter",
        file_type=file_type,
        quant=quant,
        quant_from_filename=by_name,
        quantization_version=_int(kv.get("general.quantization_version")),
        parameter_count=parameters,
        context_length=context_length,
        block_count=block_count,
        embedding_length=embedding,
        feed_forward_length=_int_or_list(handle, f"{arch}.feed_forward_length"),
        head_count=head_count,
        head_count_kv=head_count_kv,
        key_length=key_length,
        value_length=value_length,
        key_length_swa=_int(a("attention.key_length_swa")),
        value_length_swa=_int(a("attention.value_length_swa")),
        sliding_window=_int(a("attention.sliding_window")),
        sliding_window_pattern=pattern,
        kv_lora_rank=_int(a("attention.kv_lora_rank")),
        rope_dimension_count=_int(a("rope.dimension_count")),
        rope_freq_base=_num(a("rope.freq_base")),
        rope_scaling_type=_str(a("rope.scaling.type")),
        rope_scaling_factor=scaling_factor,
        expert_count=_int(a("expert_count")),
        expert_used_count=_int(a("expert_used_count")),
        vocab_size=vocab if vocab is not None else _int(a("vocab_size")),
        tokenizer_model=_str(kv.get("tokenizer.ggml.model")),
        tokenizer_pre=_str(kv.get("tokenizer.ggml.pre")),
        special_tokens=specials,
        add_bos_token=_bool(kv.get("tokenizer.ggml.add_bos_token")),
        add_eos_token=_bool(kv.get("tokenizer.ggml.add_eos_token")),
        chat_template=_str(kv.get("tokenizer.chat_template")),
        chat_templates=chat_templates,
        split=split,
        alignment=handle.alignment,
        data_offset=handle.data_offset,
        header_size=handle.header_end,
        tensor_count=handle.tensor_count,
        tensor_bytes=handle.tensor_bytes,
        tensor_types=type_counts,
        size_checked=handle.size_checked,
        sampling=sampling,
        license=_str(kv.get("general.license")),
        license_name=_str(kv.get("general.license.name")),
        license_link=_str(kv.get("general.license.link")),
        metadata=_metadata(handle),
        warnings=warnings,
    )


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _first_int(kv: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = _int(kv.get(key))
        if value is not None:
            return value
    return None


def _is_projector(
    kv: dict[str, Any], arch: str | None, general_type: str | None, block_count: int | None
) -> bool:
    """Ollama's ``isProjectorGGUF`` rules (ollama.md §3.5)."""
    if general_type in ("projector", "mmproj"):
        return True
    if general_type == "adapter":
        return False
    no_blocks = not block_count  # Go reads a missing key as 0
    if no_blocks and arch and (_int(kv.get(f"{arch}.vision.block_count")) or 0) > 0:
        return True
    return bool(
        arch == "clip"
        and no_blocks
        and (kv.get("clip.has_vision_encoder") is True or kv.get("clip.has_audio_encoder") is True)
    )
