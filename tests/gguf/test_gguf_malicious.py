"""gguf.md §10: one test per malicious-input catalogue item. Each must raise our own error quickly."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from gguf_craft import (
    ARRAY,
    STRING,
    UINT8,
    UINT32,
    UINT64,
    base_kvs,
    gstr,
    header,
    kv,
    kv_arr,
    kv_str,
    kv_u32,
    model,
    tensor,
    valid_file,
)

from ollama_forge.errors import (
    GGUFError,
    GGUFFormatError,
    GGUFTruncatedError,
    NotGGUFError,
    SplitError,
)
from ollama_forge.gguf import BytesSource, estimate_memory, open_gguf, read_gguf
from ollama_forge.gguf.split import check_shard_set
from ollama_forge.text import safe_text

pytestmark = pytest.mark.timeout(30)


def parse(data: bytes) -> object:
    return read_gguf(BytesSource(data, name="evil.gguf"))


def test_valid_baseline_parses() -> None:
    info = read_gguf(BytesSource(valid_file()))
    assert info.tensor_count == 1 and info.parameter_count == 8


# 1. Short file
@pytest.mark.parametrize("data", [b"", b"G", b"GG", b"GGU"])
def test_01_short_file(data: bytes) -> None:
    with pytest.raises(GGUFTruncatedError) as err:
        parse(data)
    assert err.value.hint


@pytest.mark.parametrize("cut", [4, 7, 12, 23, 30, 40, 60])
def test_01_eof_inside_any_field(cut: int) -> None:
    data = valid_file()
    with pytest.raises(GGUFTruncatedError, match="truncated") as err:
        parse(data[:cut])
    assert err.value.needed > cut


def test_01_truncated_local_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(valid_file()[:50])
    with pytest.raises(GGUFTruncatedError):
        read_gguf(path)


# 2. Wrong magic
@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (
            b"version https://git-lfs.github.com/spec/v1\noid sha256:"
            + b"a" * 64
            + b"\nsize 123\n",
            "git-lfs-pointer",
        ),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "html"),
        (struct.pack("<Q", 40) + b'{"__metadata__":{"format":"pt"}}', "safetensors"),
        (b"PK\x03\x04" + b"\x00" * 40, "zip"),
        (b"\x80\x02}q\x00.", "pickle"),
        (b"tjgg" + b"\x00" * 20, "ggml-legacy"),
        (b"\x00\x01\x02\x03\x04\x05", "unknown"),
    ],
)
def test_02_wrong_magic(data: bytes, kind: str) -> None:
    with pytest.raises(NotGGUFError) as err:
        parse(data)
    assert err.value.kind == kind
    assert err.value.hint


def test_02_lfs_pointer_says_not_downloaded(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 5\n")
    with pytest.raises(NotGGUFError, match="not downloaded") as err:
        read_gguf(path)
    assert "git lfs pull" in (err.value.hint or "")


# 3. Version
@pytest.mark.parametrize(
    ("version", "match"),
    [
        (0, "unsupported GGUF version 0"),
        (1, "version 1"),
        (4, "version 4"),
        (0xFFFFFFFF, "version"),
    ],
)
def test_03_bad_version(version: int, match: str) -> None:
    with pytest.raises(GGUFFormatError, match=match):
        parse(header(0, 0, version=version))


def test_03_byte_swapped_version_is_big_endian() -> None:
    data = b"GGUF" + struct.pack(">IQQ", 3, 0, 0)
    with pytest.raises(GGUFFormatError, match="big-endian") as err:
        parse(data)
    assert "gguf-convert-endian" in (err.value.hint or "")


# 4. Huge counts
@pytest.mark.parametrize("field", ["tensors", "kv"])
@pytest.mark.parametrize("count", [1 << 63, (1 << 64) - 1, 2_000_000, 1000])
def test_04_huge_counts(field: str, count: int) -> None:
    n_t, n_kv = (count, 0) if field == "tensors" else (0, count)
    error = (
        GGUFTruncatedError if count == 1000 else GGUFFormatError
    )  # 1000 is merely too many for the bytes
    with pytest.raises(error, match="count"):
        parse(header(n_t, n_kv) + b"\x00" * 64)


# 5. String bomb
@pytest.mark.parametrize("length", [1 << 62, (1 << 64) - 1, 17 * 1024 * 1024, 500])
def test_05_string_bomb(length: int) -> None:
    data = header(0, 1) + gstr("general.name") + struct.pack("<IQ", STRING, length) + b"x" * 100
    with pytest.raises((GGUFFormatError, GGUFTruncatedError)):
        parse(data)


def test_05_string_bomb_on_unknown_size_source() -> None:
    class Prefix(BytesSource):
        def size(self) -> int | None:
            return None

    data = header(0, 1) + gstr("general.name") + struct.pack("<IQ", STRING, 1 << 62)
    with pytest.raises(GGUFFormatError, match="limit"):
        read_gguf(Prefix(data))


# 6. Array bomb
def test_06_u8_array_of_2_pow_63_in_49_bytes() -> None:
    data = header(0, 1) + gstr("a") + struct.pack("<IIQ", ARRAY, UINT8, 1 << 63)
    assert len(data) == 49  # 24 header + 9 key + 4 type + 12 array header
    with pytest.raises(GGUFFormatError, match="elements"):
        parse(data)


def test_06_string_array_larger_than_the_file() -> None:
    data = header(0, 1) + kv_arr("tokenizer.ggml.tokens", STRING, 1_000_000, gstr("a") * 10)
    with pytest.raises(GGUFTruncatedError, match="remain"):
        parse(data)


def test_06_array_count_over_cap_even_on_prefix_source() -> None:
    class Prefix(BytesSource):
        def size(self) -> int | None:
            return None

    data = header(0, 1) + kv_arr("x", UINT32, 1 << 40, b"")
    with pytest.raises(GGUFFormatError, match="limit"):
        read_gguf(Prefix(data))


# 7. Nested arrays
def test_07_nested_arrays_depth_1000() -> None:
    nested = b"".join(struct.pack("<IQ", ARRAY, 1) for _ in range(1000))
    data = header(0, 1) + gstr("deep") + struct.pack("<I", ARRAY) + nested
    with pytest.raises(GGUFFormatError, match="nests arrays deeper"):
        parse(data)


def test_07_shallow_nesting_is_readable() -> None:
    inner = struct.pack("<IQ", UINT32, 2) + struct.pack("<II", 7, 8)
    data = (
        header(0, 2)
        + kv_str("general.architecture", "llama")
        + kv("pairs", ARRAY, struct.pack("<IQ", ARRAY, 2) + inner + inner)
    )
    with open_gguf(BytesSource(data)) as g:
        assert g.array("pairs") == [[7, 8], [7, 8]]


# 8. Bad value type
@pytest.mark.parametrize("vtype", [13, 99, 0xFFFFFFFF])
def test_08_bad_value_type(vtype: int) -> None:
    with pytest.raises(GGUFFormatError, match="value type"):
        parse(header(0, 1) + kv("k", vtype, b"\x00" * 16))


def test_08_bad_array_element_type() -> None:
    with pytest.raises(GGUFFormatError, match="element type"):
        parse(header(0, 1) + kv_arr("k", 42, 1, b"\x00" * 16))


# 9. Keys
@pytest.mark.parametrize(
    ("key", "match"),
    [
        (b"", "empty key"),
        (b"caf\xc3\xa9", "non-ASCII"),
        (b"\xff\xfe", "non-ASCII"),
        (b"a\x1b[2Jb", "control"),
    ],
)
def test_09_bad_keys(key: bytes, match: str) -> None:
    with pytest.raises(GGUFFormatError, match=match):
        parse(header(0, 1) + kv(key, UINT8, b"\x01"))


def test_09_huge_key() -> None:
    data = header(0, 1) + struct.pack("<Q", 65536) + b"k" * 65536 + struct.pack("<IB", UINT8, 1)
    with pytest.raises(GGUFFormatError, match="65536 bytes"):
        parse(data)


def test_09_duplicate_key() -> None:
    with pytest.raises(GGUFFormatError, match="duplicate metadata key"):
        parse(header(0, 2) + kv_u32("a.b", 1) + kv_u32("a.b", 2))


# 10. Alignment
@pytest.mark.parametrize("value", [0, 24, 0x80000000, 3])
def test_10_bad_alignment_value(value: int) -> None:
    with pytest.raises(GGUFFormatError, match="alignment"):
        parse(model([*base_kvs(), kv_u32("general.alignment", value)]))


@pytest.mark.parametrize(
    "entry",
    [
        kv("general.alignment", UINT64, struct.pack("<Q", 32)),
        kv_str("general.alignment", "32"),
        kv_arr("general.alignment", UINT32, 1, struct.pack("<I", 32)),
    ],
)
def test_10_alignment_wrong_type(entry: bytes) -> None:
    with pytest.raises(GGUFFormatError, match="UINT32"):
        parse(model([*base_kvs(), entry]))


def test_10_custom_alignment_is_used() -> None:
    data = model(
        [*base_kvs(), kv_u32("general.alignment", 64)],
        [tensor("t", [8], 0, 0)],
        b"\x00" * 64,
        align=64,
    )
    info = read_gguf(BytesSource(data))
    assert info.alignment == 64 and info.data_offset % 64 == 0


# 11. Tensor name
@pytest.mark.parametrize(("name", "match"), [("x" * 64, "64 bytes"), ("", "0 bytes")])
def test_11_bad_tensor_name(name: str, match: str) -> None:
    with pytest.raises(GGUFFormatError, match=match):
        parse(model(base_kvs(), [tensor(name, [8], 0, 0)], b"\x00" * 64))


def test_11_duplicate_tensor_name() -> None:
    data = model(base_kvs(), [tensor("t", [8], 0, 0), tensor("t", [8], 0, 32)], b"\x00" * 64)
    with pytest.raises(GGUFFormatError, match="duplicate tensor"):
        parse(data)


# 12. Dims
def test_12_too_many_dims() -> None:
    bad = gstr("t") + struct.pack("<I", 0xFFFFFFFF) + b"\x00" * 64
    data = header(1, 2) + b"".join(base_kvs()) + bad
    with pytest.raises(GGUFFormatError, match="dimensions"):
        parse(data)


def test_12_dimension_over_2_pow_63() -> None:
    with pytest.raises(GGUFFormatError, match="2\\^63"):
        parse(model(base_kvs(), [tensor("t", [1 << 63, 1], 0, 0)], b"\x00" * 64))


def test_12_product_overflow_is_not_wrapped() -> None:
    # [2^64-1, 2, 1, 1] wraps to a small size in 64-bit readers (zackshen/gguf #15).
    with pytest.raises(GGUFFormatError):
        parse(model(base_kvs(), [tensor("t", [(1 << 64) - 1, 2, 1, 1], 0, 0)], b"\x00" * 64))
    with pytest.raises(GGUFFormatError, match="more than 2\\^63"):
        parse(model(base_kvs(), [tensor("t", [1 << 62, 4, 1, 1], 0, 0)], b"\x00" * 64))


def test_12_huge_but_representable_tensor_exceeds_file() -> None:
    with pytest.raises(GGUFTruncatedError, match="exceeds the file size"):
        parse(model(base_kvs(), [tensor("t", [1 << 40], 0, 0)], b"\x00" * 64))


# 13. Zero dimension
def test_13_zero_dimension_is_zero_elements() -> None:
    data = model(base_kvs(), [tensor("t", [0, 5], 0, 0), tensor("u", [8, 0, 3], 0, 0)], b"")
    info = read_gguf(BytesSource(data))
    assert info.parameter_count == 0 and info.tensor_bytes == 0


# 14. Tensor type
@pytest.mark.parametrize("ggml_type", [4, 5, 31, 32, 33, 36, 37, 38, 999, 0xFFFFFFFF])
def test_14_unknown_tensor_type(ggml_type: int) -> None:
    with pytest.raises(GGUFFormatError, match="unknown tensor type"):
        parse(model(base_kvs(), [tensor("t", [256], ggml_type, 0)], b"\x00" * 1024))


def test_14_row_not_multiple_of_block() -> None:
    with pytest.raises(GGUFFormatError, match="block size 256"):
        parse(model(base_kvs(), [tensor("t", [100], 12, 0)], b"\x00" * 1024))  # Q4_K


# 15. Offsets
@pytest.mark.parametrize(
    ("offsets", "match"),
    [
        ([0, 16], "multiple of the alignment"),
        ([0, 64], "expected 32"),  # gap
        ([32, 0], "expected 0"),  # out of order / overlap
        ([0, (1 << 64) - 32], "expected 32"),  # wrap-around
    ],
)
def test_15_bad_offsets(offsets: list[int], match: str) -> None:
    tensors = [tensor("a", [8], 0, offsets[0]), tensor("b", [8], 0, offsets[1])]
    with pytest.raises(GGUFFormatError, match=match):
        parse(model(base_kvs(), tensors, b"\x00" * 64))


def test_15_offset_plus_size_beyond_file_bleeding_llama() -> None:
    tensors = [tensor("a", [8], 0, 0), tensor("b", [1024], 0, 32)]
    with pytest.raises(GGUFTruncatedError, match="'b' offset\\+size"):
        parse(model(base_kvs(), tensors, b"\x00" * 64))


def test_15_prefix_source_defers_the_size_check() -> None:
    class Prefix(BytesSource):
        def size(self) -> int | None:
            return None

    data = model(base_kvs(), [tensor("a", [1 << 20], 0, 0)], b"")
    info = read_gguf(Prefix(data))
    assert info.size_checked is False and info.tensor_bytes == 4 << 20


# 16. Data section beyond EOF
def test_16_data_offset_beyond_eof() -> None:
    data = header(1, 2) + b"".join(base_kvs()) + tensor("t", [0], 0, 0)
    assert len(data) % 32 != 0  # the padded data offset lies past the end
    with pytest.raises(GGUFTruncatedError, match="data section"):
        parse(data)


# 17. Split metadata
def _shard(tmp_path: Path, name: str, no: int | None, count: int | None) -> tuple[Path, object]:
    kvs = [kv_str("general.architecture", "llama")]
    if no is not None:
        kvs.append(kv("split.no", 2, struct.pack("<H", no)))
    if count is not None:
        kvs.append(kv("split.count", 2, struct.pack("<H", count)))
    path = tmp_path / name
    path.write_bytes(model(kvs))
    return path, read_gguf(path)


@pytest.mark.parametrize(
    ("files", "match"),
    [
        (
            [("m-00001-of-00002.gguf", 0, 3), ("m-00002-of-00002.gguf", 1, 3)],
            "filename count 2 does not match metadata count 3",
        ),
        (
            [("m-00001-of-00002.gguf", 1, 2), ("m-00002-of-00002.gguf", 1, 2)],
            "filename index 1 does not match metadata index 2",
        ),
        ([("m-00001-of-00003.gguf", 0, 3), ("m-00003-of-00003.gguf", 2, 3)], "missing shard 2"),
        ([("m-00002-of-00002.gguf", 1, 2)], "missing first shard"),
        ([("m-00001-of-00002.gguf", None, 2), ("m-00002-of-00002.gguf", 1, 2)], "missing split.no"),
        ([("m-00001-of-00000.gguf", 0, 0)], "invalid shard index"),
        ([("model.gguf", 0, 1)], "filename pattern"),
    ],
)
def test_17_split_metadata(
    tmp_path: Path, files: list[tuple[str, int | None, int | None]], match: str
) -> None:
    shards = [_shard(tmp_path, *f) for f in files]
    with pytest.raises(SplitError, match=match) as err:
        check_shard_set(shards)  # type: ignore[arg-type]
    assert err.value.shard


def test_17_duplicate_shard(tmp_path: Path) -> None:
    one = _shard(tmp_path, "m-00001-of-00002.gguf", 0, 2)
    other = tmp_path / "copy"
    other.mkdir()
    dup = _shard(other, "m-00001-of-00002.gguf", 0, 2)
    with pytest.raises(SplitError, match="duplicate shard index 1"):
        check_shard_set([one, dup])  # type: ignore[list-item]


def test_17_entry_point_must_be_shard_one(tmp_path: Path) -> None:
    shards = [
        _shard(tmp_path, "m-00001-of-00002.gguf", 0, 2),
        _shard(tmp_path, "m-00002-of-00002.gguf", 1, 2),
    ]
    with pytest.raises(SplitError, match="not the first shard"):
        check_shard_set(shards, entry=shards[1][0])  # type: ignore[arg-type]


# 18. Semantic nonsense
def test_18_semantic_nonsense_reports_unknown_not_crash() -> None:
    kvs = [
        kv_str("general.architecture", "llama"),
        kv_u32("llama.block_count", 0),
        kv_u32("llama.attention.head_count", 0),
        kv_u32("llama.embedding_length", 4096),
        kv("llama.context_length", UINT64, struct.pack("<Q", (1 << 64) - 1)),
        kv_arr("tokenizer.ggml.tokens", STRING, 2, gstr("a") + gstr("b")),
        kv_u32("tokenizer.ggml.eos_token_id", 7),
    ]
    info = read_gguf(BytesSource(model(kvs)))
    assert info.special_tokens["eos"].text is None
    assert any("outside the vocabulary" in w for w in info.warnings)
    assert any("block_count is 0" in w for w in info.warnings)
    assert info.key_length is None
    estimate = estimate_memory(info, 4096)
    assert estimate.kv_bytes is None and estimate.total_bytes == 0


def test_18_head_count_kv_array_length_mismatch() -> None:
    kvs = [
        kv_str("general.architecture", "llama"),
        kv_u32("llama.block_count", 4),
        kv_u32("llama.attention.head_count", 8),
        kv_u32("llama.embedding_length", 512),
        kv_arr("llama.attention.head_count_kv", UINT32, 2, struct.pack("<II", 2, 2)),
    ]
    info = read_gguf(BytesSource(model(kvs)))
    assert any("per-layer entries" in w for w in info.warnings)
    estimate = estimate_memory(info, 100)
    # layers past the array fall back to head_count (llama.cpp reads missing entries as unset)
    assert estimate.kv_bytes == (2 * 64 * 2 + 2 * 64 * 2 + 8 * 64 * 2 + 8 * 64 * 2) * 2 * 100


# 19. Template payloads
def test_19_template_payload_is_kept_as_text_and_capped_in_metadata() -> None:
    payload = '{{ lipsum.__globals__["os"].popen("id").read() }}' + "x" * (3 * 1024 * 1024)
    info = read_gguf(BytesSource(model([*base_kvs(), kv_str("tokenizer.chat_template", payload)])))
    assert info.chat_template == payload  # never rendered, returned verbatim
    assert len(info.metadata["tokenizer.chat_template"]) < 5000


# 20. Terminal injection
def test_20_terminal_injection_is_escaped_in_output() -> None:
    evil = "Evil\x1b[2J\rName\x9b"
    info = read_gguf(
        BytesSource(
            model([*base_kvs(), kv_str("general.name", evil), kv_str("general.license", evil)])
        )
    )
    assert info.name == evil
    shown = safe_text(info.name)
    assert "\x1b" not in shown and "\r" not in shown and "\x9b" not in shown


def test_all_errors_are_gguf_errors() -> None:
    for data in (b"", b"GGUF", header(1 << 63, 0), header(0, 1) + kv("k", 77, b"")):
        with pytest.raises(GGUFError):
            parse(data)


def test_07_wide_array_of_arrays_is_capped() -> None:
    body = struct.pack("<IQ", ARRAY, 100_000) + struct.pack("<IQ", UINT8, 0) * 100_000
    with pytest.raises(GGUFFormatError, match="arrays of arrays"):
        parse(header(0, 1) + kv("wide", ARRAY, body))
