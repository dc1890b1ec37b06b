"""Quant names, shard names and sets, and the memory estimate."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType
from ggufs import write_gguf, write_split_gguf

from ollama_forge.errors import SplitError, UsageError
from ollama_forge.gguf import (
    QUANT_ORDER,
    estimate_memory,
    parse_shard_name,
    quant_bits,
    quant_from_file_type,
    quant_from_filename,
    read_gguf,
)
from ollama_forge.gguf.info import GGUFInfo
from ollama_forge.gguf.quant import quant_rank, tensor_types
from ollama_forge.gguf.split import check_shard_set, find_shards


def test_quant_from_file_type_follows_gguf_enum() -> None:
    for member in LlamaFileType:
        if member.name == "GUESSED":
            assert quant_from_file_type(int(member)) is None
            continue
        assert quant_from_file_type(int(member)) == member.name.removeprefix(
            "MOSTLY_"
        ).removeprefix("ALL_")
    assert quant_from_file_type(15) == "Q4_K_M"
    assert quant_from_file_type(0) == "F32"
    assert quant_from_file_type(4) == "Q4_1_SOME_F16"  # removed, still named
    assert quant_from_file_type(9999) is None and quant_from_file_type(None) is None


def test_tensor_types_match_gguf() -> None:
    table = tensor_types()
    for member in GGMLQuantizationType:
        assert table[int(member)] == (member.name, *GGML_QUANT_SIZES[member])


@pytest.mark.parametrize(
    ("name", "quant"),
    [
        ("gemma-3-270m-q4_k_m.gguf", "Q4_K_M"),
        ("Qwen3-8B-UD-Q4_K_XL.gguf", "Q4_K_XL"),
        ("Llama-3.2-3B-Instruct-IQ4_XS.gguf", "IQ4_XS"),
        ("model-Q6_K_L.gguf", "Q6_K_L"),
        ("Q8_0-distill-Q4_0.gguf", "Q4_0"),  # the last match wins
        ("Meta-Llama-3.1-8B-Instruct-Q4_0_4_4.gguf", "Q4_0_4_4"),
        ("phi-4-BF16-00001-of-00002.gguf", "BF16"),
        ("model.f16.gguf", "F16"),
        ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
        ("gpt-oss-20b-mxfp4_moe.gguf", "MXFP4_MOE"),
        ("mmproj-model-f16.gguf", "F16"),
        ("Q4_K_M_imatrix.gguf", "Q4_K_M"),
        ("model.gguf", None),
        ("DEF32X.gguf", None),
    ],
)
def test_quant_from_filename(name: str, quant: str | None) -> None:
    assert quant_from_filename(name) == quant


def test_quant_order_and_bits() -> None:
    assert QUANT_ORDER[0] == "F32" and QUANT_ORDER.index("Q4_K_M") < QUANT_ORDER.index("Q3_K_M")
    assert (
        quant_rank("q8_0") < quant_rank("Q4_K_M") < quant_rank("IQ2_XXS") < quant_rank("nonsense")
    )
    assert quant_bits("Q4_K_M") == pytest.approx(4.5)
    assert quant_bits("Q8_0") == pytest.approx(8.5)
    assert quant_bits("F16") == 16
    assert quant_bits("Q6_K") == pytest.approx(6.5625)
    assert quant_bits("bogus") is None


def test_parse_shard_name() -> None:
    parsed = parse_shard_name("Qwen3-235B-Q4_K_M-00002-of-00005.gguf")
    assert parsed is not None and (parsed.prefix, parsed.index, parsed.count) == (
        "Qwen3-235B-Q4_K_M",
        2,
        5,
    )
    assert parsed.filename(1) == "Qwen3-235B-Q4_K_M-00001-of-00005.gguf"
    assert parse_shard_name("model-1-of-2.gguf") is None
    assert parse_shard_name("model.gguf") is None


def test_check_shard_set_orders_a_real_split(tmp_path: Path) -> None:
    shards = write_split_gguf(tmp_path, "big", shards=3)
    pairs = [(p, read_gguf(p)) for p in reversed(shards)]
    assert check_shard_set(pairs, entry=shards[0]) == shards
    assert find_shards(shards[0]) == shards
    shards[1].unlink()
    assert find_shards(shards[0]) == [shards[0], shards[2]]
    with pytest.raises(SplitError, match="missing shard 2"):
        check_shard_set([(p, read_gguf(p)) for p in find_shards(shards[0])])


def test_check_shard_set_tensor_count(tmp_path: Path) -> None:
    shards = write_split_gguf(tmp_path, "big", shards=2)
    infos = [read_gguf(p) for p in shards]
    bad = infos[0].model_copy(
        update={"split": infos[0].split.model_copy(update={"tensors_count": 7})}
    )  # type: ignore[union-attr]
    with pytest.raises(SplitError, match=r"split\.tensors\.count 7"):
        check_shard_set([(shards[0], bad), (shards[1], infos[1])])


def _info(**kw: object) -> GGUFInfo:
    base: dict[str, object] = dict(
        path="x.gguf",
        file_size=1,
        version=3,
        alignment=32,
        data_offset=0,
        header_size=0,
        tensor_count=1,
        tensor_bytes=1000,
        architecture="llama",
    )
    base.update(kw)
    return GGUFInfo(**base)  # type: ignore[arg-type]


def test_memory_llama31_8b_worked_example() -> None:
    # gguf.md §7: 32 layers, 8 KV heads, head_dim 128 -> 128 KiB per token; 1 GiB at 8192.
    info = _info(
        block_count=32,
        head_count=32,
        head_count_kv=8,
        embedding_length=4096,
        context_length=131072,
        key_length=128,
        value_length=128,
    )
    est = estimate_memory(info, 8192)
    assert est.kv_bytes == 1 << 30
    assert est.total_bytes == 1000 + (1 << 30)
    assert est.kv_bytes_full_ctx == 16 << 30
    assert estimate_memory(info, 8192, "q8_0").kv_bytes == (1 << 29) * 34 // 32  # 2^29 elements
    assert estimate_memory(info, 8192, "q4_0").kv_bytes == (1 << 29) * 18 // 32


def test_memory_defaults_and_validation() -> None:
    info = _info(
        block_count=2, head_count=4, head_count_kv=2, embedding_length=256, context_length=2048
    )
    est = estimate_memory(info)
    assert est.ctx == 2048  # min(context_length, 4096)
    assert est.kv_bytes == 2 * (64 * 2 + 64 * 2) * 2 * 2048
    assert any("exceeds the trained" in n for n in estimate_memory(info, 4096).notes)
    with pytest.raises(UsageError):
        estimate_memory(info, 0)
    with pytest.raises(UsageError, match="cache type"):
        estimate_memory(info, 100, "q3_k")


def test_memory_per_layer_and_sliding_window() -> None:
    # Gemma 3 270M: 18 layers, pattern 6 -> 15 SWA + 3 full; window 512 + ubatch 512 = 1024 cells.
    info = _info(
        architecture="gemma3",
        block_count=18,
        head_count=4,
        head_count_kv=1,
        embedding_length=640,
        key_length=256,
        value_length=256,
        sliding_window=512,
        context_length=32768,
    )
    est = estimate_memory(info, 32768)
    per_token_layer = (256 + 256) * 2
    assert (est.full_attention_layers, est.sliding_window_layers) == (3, 15)
    assert est.kv_bytes == 3 * per_token_layer * 32768 + 15 * per_token_layer * 1024
    # a bool pattern array overrides the arch default; 0 KV heads = recurrent layer
    hybrid = _info(
        block_count=4,
        head_count=4,
        head_count_kv=[2, 0, 2, 0],
        embedding_length=256,
        sliding_window=128,
        sliding_window_pattern=[True, False, False, False],
    )
    est = estimate_memory(hybrid, 1000)
    assert (est.full_attention_layers, est.sliding_window_layers) == (1, 1)
    assert est.kv_bytes == 128 * 2 * 2 * (1000 + 768)
    assert any("without attention" in n for n in est.notes)


def test_memory_mla_recurrent_projector() -> None:
    mla = _info(
        architecture="deepseek2",
        block_count=2,
        head_count=16,
        head_count_kv=16,
        embedding_length=2048,
        kv_lora_rank=512,
        rope_dimension_count=64,
        key_length=192,
        value_length=128,
    )
    assert estimate_memory(mla, 100).kv_bytes == 2 * (512 + 64) * 2 * 100
    assert estimate_memory(_info(architecture="mamba", block_count=4), 100).kv_bytes == 0
    proj = estimate_memory(_info(architecture="clip", is_projector=True), 100)
    assert proj.kv_bytes == 0 and proj.total_bytes == 1000


def test_memory_from_fixture(tmp_path: Path) -> None:
    info = read_gguf(
        write_gguf(tmp_path / "m.gguf", block_count=2, head_count=4, head_count_kv=[1, 2])
    )
    est = estimate_memory(info, 100)
    assert est.weights_bytes == info.tensor_bytes
    assert est.kv_bytes == (64 * 1 * 2 + 64 * 2 * 2) * 2 * 100
