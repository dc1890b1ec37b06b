"""Synthetic GGUF fixtures written with gguf-py's real ``GGUFWriter``.

Shared by every test module (reader, families, hub, ollama, runners)::

    from ggufs import write_gguf, write_split_gguf, write_projector, chatml_vocab

    path = write_gguf(tmp_path / "m.gguf", arch="qwen2", chat_template=TPL,
                      tokens=chatml_vocab(), eos="<|im_end|>")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType, TokenType

BASE_TOKENS = ["<unk>", "<s>", "</s>"] + [f"tok{i}" for i in range(29)]


def chatml_vocab() -> list[str]:
    return [*BASE_TOKENS, "<|im_start|>", "<|im_end|>", "<|endoftext|>"]


def chatml_gguf(path: str | Path, chat_template: str, *, arch: str, name: str) -> Path:
    """A GGUF with a ChatML vocabulary (eos <|im_end|>, no BOS) and ``chat_template``."""
    return write_gguf(
        path,
        arch=arch,
        name=name,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
        bos=None,
        add_bos=False,
        chat_template=chat_template,
    )


def _token_types(tokens: Sequence[str]) -> list[int]:
    types = []
    for text in tokens:
        control = (text.startswith("<") and text.endswith(">")) or (
            text.startswith("[") and text.endswith("]") and text.isupper()
        )
        types.append(int(TokenType.CONTROL if control else TokenType.NORMAL))
    return types


def write_gguf(
    path: str | Path,
    *,
    arch: str = "llama",
    name: str | None = "Test Model",
    file_type: int | None = int(LlamaFileType.MOSTLY_Q4_K_M),
    context_length: int | None = 4096,
    block_count: int | None = 2,
    embedding_length: int | None = 256,
    head_count: int | None = 4,
    head_count_kv: int | Sequence[int] | None = 2,
    tokens: Sequence[str] | None = None,
    bos: str | None = "<s>",
    eos: str | None = "</s>",
    eot: str | None = None,
    eom: str | None = None,
    add_bos: bool | None = True,
    chat_template: str | None = None,
    named_chat_templates: Mapping[str, str] | None = None,
    extra_kv: Mapping[str, Any] | None = None,
    tensors: bool = True,
    general_type: str | None = None,
) -> Path:
    """A small but well-formed GGUF: metadata, a vocabulary and two tiny Q4_K/Q6_K tensors."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(str(path), arch)
    if name is not None:
        writer.add_name(name)
    if general_type is not None:
        writer.add_type(general_type)
    if file_type is not None:
        writer.add_file_type(file_type)
        writer.add_quantization_version(2)
    if context_length is not None:
        writer.add_context_length(context_length)
    if block_count is not None:
        writer.add_block_count(block_count)
    if embedding_length is not None:
        writer.add_embedding_length(embedding_length)
    if head_count is not None:
        writer.add_head_count(head_count)
    if head_count_kv is not None:
        if isinstance(head_count_kv, int):
            writer.add_head_count_kv(head_count_kv)
        else:
            writer.add_array(f"{arch}.attention.head_count_kv", list(head_count_kv))
    vocab = list(tokens) if tokens is not None else list(BASE_TOKENS)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab)
    writer.add_token_types(_token_types(vocab))
    writer.add_token_scores([0.0] * len(vocab))
    for kind, text in (("bos", bos), ("eos", eos), ("eot", eot), ("eom", eom)):
        if text is not None:
            getattr(writer, f"add_{kind}_token_id")(vocab.index(text))
    if add_bos is not None:
        writer.add_add_bos_token(add_bos)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    if named_chat_templates:
        writer.add_chat_template(
            [{"name": "default", "template": chat_template or ""}]
            + [{"name": k, "template": v} for k, v in named_chat_templates.items()]
        )
    for key, value in (extra_kv or {}).items():
        _add_value(writer, key, value)
    if tensors:
        writer.add_tensor(
            "blk.0.attn_q.weight", np.zeros((2, 144), np.uint8), raw_dtype=GGMLQuantizationType.Q4_K
        )
        writer.add_tensor(
            "blk.0.ffn_down.weight",
            np.zeros((1, 210), np.uint8),
            raw_dtype=GGMLQuantizationType.Q6_K,
        )
        writer.add_tensor("output_norm.weight", np.zeros((256,), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add_value(writer: GGUFWriter, key: str, value: Any) -> None:
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value) if value >= 0 else writer.add_int32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, (list, tuple)):
        writer.add_array(key, list(value))
    else:
        raise TypeError(f"unsupported fixture value for {key}: {value!r}")


def write_split_gguf(
    folder: str | Path, prefix: str, *, shards: int = 3, arch: str = "llama", **kw: Any
) -> list[Path]:
    """A split GGUF ``{prefix}-0000i-of-0000N.gguf`` written by GGUFWriter's own splitter."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(str(folder / f"{prefix}.gguf"), arch, split_max_tensors=1)
    writer.add_name(kw.get("name", "Split Model"))
    writer.add_file_type(int(kw.get("file_type", LlamaFileType.MOSTLY_Q4_K_M)))
    writer.add_context_length(kw.get("context_length", 4096))
    writer.add_block_count(kw.get("block_count", 2))
    writer.add_embedding_length(256)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    vocab = list(kw.get("tokens", BASE_TOKENS))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab)
    writer.add_eos_token_id(vocab.index(kw.get("eos", "</s>")))
    if kw.get("chat_template"):
        writer.add_chat_template(kw["chat_template"])
    for i in range(shards):
        writer.add_tensor(
            f"blk.{i}.attn_q.weight",
            np.full((2, 144), i, np.uint8),
            raw_dtype=GGMLQuantizationType.Q4_K,
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sorted(folder.glob(f"{prefix}-*-of-*.gguf"))


def write_projector(
    path: str | Path, *, name: str = "mmproj", file_type: int = int(LlamaFileType.MOSTLY_F16)
) -> Path:
    """A llama.cpp-style mmproj file: arch 'clip', vision encoder, no text blocks."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(str(path), "clip")
    writer.add_name(name)
    writer.add_type("mmproj")
    writer.add_file_type(file_type)
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_uint32("clip.vision.block_count", 2)
    writer.add_tensor("v.blk.0.attn_q.weight", np.zeros((4, 4), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def big_gguf(path: Path, *, megabytes: int, file_type: int | None = None, seed: int = 0) -> Path:
    """A valid GGUF with ``megabytes`` MiB of random Q8_0 tensor data (for resume/throughput)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(str(path), "llama")
    writer.add_name("Big")
    writer.add_file_type(int(file_type if file_type is not None else LlamaFileType.MOSTLY_Q8_0))
    writer.add_context_length(2048)
    writer.add_block_count(1)
    writer.add_embedding_length(256)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(["<unk>", "<s>", "</s>"])
    rows = megabytes * 1024 * 1024 // 34
    data = np.random.default_rng(seed).integers(0, 256, size=(rows, 34), dtype=np.uint8)
    writer.add_tensor("blk.0.attn_q.weight", data, raw_dtype=GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
