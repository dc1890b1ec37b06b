"""The GGUF reader on GGUFWriter fixtures, ranged sources, and the vectorised string scan."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf_craft import STRING, base_kvs, gstr, kv_arr, model, tensor
from ggufs import BASE_TOKENS, chatml_vocab, write_gguf, write_projector, write_split_gguf
from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_forge.errors import GGUFTruncatedError
from ollama_forge.gguf import (
    ArrayRef,
    BytesSource,
    FileSource,
    GGUFInfo,
    open_gguf,
    read_gguf,
)
from ollama_forge.gguf._scan import STRIDE, _scan_numpy, _scan_sparse, _step
from ollama_forge.gguf.reader import Cursor


class CountingPrefixSource(BytesSource):
    """A ranged source that does not know its size (like a remote file before Content-Range)."""

    def size(self) -> int | None:
        return None


class ChunkedSource:
    """Simulates an HTTP Range source that fetches fixed-size chunks and caches them."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.chunk, self.name = data, chunk, "https://example/model.gguf"
        self.fetched: set[int] = set()

    def size(self) -> int | None:
        return len(self.data)

    def read_at(self, offset: int, length: int) -> bytes:
        end = min(offset + length, len(self.data))
        for k in range(offset // self.chunk, (max(end, offset + 1) - 1) // self.chunk + 1):
            self.fetched.add(k)
        return self.data[offset:end]


def test_metadata_and_tensors(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "m.gguf",
        arch="qwen2",
        tokens=chatml_vocab(),
        eos="<|im_end|>",
        chat_template="{% for m in messages %}{{ m.content }}{% endfor %}",
        named_chat_templates={"tool_use": "TOOLS"},
        extra_kv={
            "general.sampling.temp": 0.7,
            "general.license": "apache-2.0",
            "qwen2.rope.freq_base": 1e6,
        },
        general_type="model",
    )
    info = read_gguf(path)
    assert isinstance(info, GGUFInfo)
    assert (info.architecture, info.name, info.general_type, info.version) == (
        "qwen2",
        "Test Model",
        "model",
        3,
    )
    assert (info.file_type, info.quant) == (15, "Q4_K_M")
    assert (info.context_length, info.block_count, info.embedding_length) == (4096, 2, 256)
    assert (info.head_count, info.head_count_kv, info.key_length, info.value_length) == (
        4,
        2,
        64,
        64,
    )
    assert info.rope_freq_base == 1e6
    assert info.vocab_size == len(chatml_vocab())
    assert info.special_tokens["eos"].text == "<|im_end|>" and info.special_tokens["eos"].type == 3
    assert info.special_tokens["bos"].id == 1 and info.special_tokens["bos"].text == "<s>"
    assert info.add_bos_token is True and info.add_eos_token is None
    assert info.chat_template and info.chat_template.startswith("{% for")
    assert info.chat_templates == {"tool_use": "TOOLS"}
    assert info.sampling == {"temp": pytest.approx(0.7)}
    assert info.license == "apache-2.0"
    assert info.tensor_count == 3
    # 2x144 bytes of Q4_K = 512 elements; 1x210 bytes Q6_K = 256; 256 F32
    assert info.parameter_count == 512 + 256 + 256
    assert info.tensor_bytes == 288 + 210 + 1024
    assert info.tensor_types["Q4_K"].bytes == 288
    assert info.data_offset % 32 == 0 and info.data_offset >= info.header_size
    assert info.file_size == path.stat().st_size
    assert not info.is_projector and info.split is None and info.warnings == []


def test_metadata_only_file(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "meta.gguf", tensors=False, file_type=None)
    info = read_gguf(path)
    assert info.tensor_count == 0 and info.parameter_count == 0 and info.tensor_bytes == 0
    assert info.quant is None


def test_per_layer_head_count_kv(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", block_count=4, head_count_kv=[2, 2, 0, 4])
    info = read_gguf(path)
    assert info.head_count_kv == [2, 2, 0, 4]


def test_projector_and_adapter_classification(tmp_path: Path) -> None:
    proj = read_gguf(write_projector(tmp_path / "mmproj-f16.gguf"))
    assert proj.is_projector and proj.general_type == "mmproj" and proj.architecture == "clip"
    assert proj.quant == "F16"
    # Ollama's rule without general.type: block_count 0 and {arch}.vision.block_count > 0
    implicit = write_gguf(
        tmp_path / "v.gguf", arch="llava", block_count=0, extra_kv={"llava.vision.block_count": 2}
    )
    assert read_gguf(implicit).is_projector
    adapter = read_gguf(write_gguf(tmp_path / "a.gguf", general_type="adapter"))
    assert adapter.is_adapter and not adapter.is_projector


def test_split_shards(tmp_path: Path) -> None:
    shards = write_split_gguf(tmp_path, "big", shards=3)
    assert [p.name for p in shards] == [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    infos = [read_gguf(p) for p in shards]
    assert infos[0].split is not None and (infos[0].split.no, infos[0].split.count) == (0, 3)
    assert infos[0].split.tensors_count == 3
    assert infos[2].split is not None and infos[2].split.no == 2
    assert infos[0].architecture == "llama" and infos[1].architecture is None


def test_token_lookups(tmp_path: Path) -> None:
    vocab = [*chatml_vocab(), "x\x00y", "", "dup", "dup"]
    path = write_gguf(tmp_path / "m.gguf", tokens=vocab)
    with open_gguf(path) as g:
        assert g.token_text(0) == "<unk>"
        assert g.token_text(len(vocab) - 1) == "dup"
        assert g.token_text(len(vocab)) is None and g.token_text(-1) is None
        found = g.find_tokens(["<|im_end|>", "dup", "x\x00y", "", "missing", "<|im_end|>"])
        assert found == {
            "<|im_end|>": vocab.index("<|im_end|>"),
            "dup": vocab.index("dup"),
            "x\x00y": vocab.index("x\x00y"),
            "": vocab.index(""),
        }
        assert g.token_type(vocab.index("<|im_end|>")) == 3 and g.token_type(5) == 1
        assert g.token_types([1, 2, 999]) == {1: 3, 2: 3}
        assert g.array("tokenizer.ggml.tokens") == vocab
        assert g.array("tokenizer.ggml.scores") == [0.0] * len(vocab)
        assert isinstance(g.kv["tokenizer.ggml.tokens"], ArrayRef)
        assert g.kv["general.architecture"] == "llama"
        assert [t.name for t in g.tensors] == [
            "blk.0.attn_q.weight",
            "blk.0.ffn_down.weight",
            "output_norm.weight",
        ]
        assert g.tensors[0].shape == (256, 2) and g.tensors[0].type_name == "Q4_K"


def big_vocab(n: int) -> list[str]:
    return [
        *BASE_TOKENS,
        "<|im_start|>",
        "<|im_end|>",
        *[f"w{i}_" + "é" * (i % 7) for i in range(n)],
    ]


def test_large_vocab_lookup_does_not_decode_everything(tmp_path: Path) -> None:
    vocab = big_vocab(60_000)
    path = write_gguf(tmp_path / "big.gguf", tokens=vocab, eos="<|im_end|>")
    data = path.read_bytes()
    source = BytesSource(data)
    with open_gguf(source) as g:
        parse_bytes = source.bytes_served
        assert isinstance(g.kv["tokenizer.ggml.tokens"].index.offsets, np.ndarray)
        source.bytes_served = 0
        assert g.token_text(50_000) == vocab[50_000]
        assert g.token_text(len(vocab) - 1) == vocab[-1]
        assert source.bytes_served < 200  # two tiny reads, no vocabulary decode
        assert g.find_tokens(["<|im_end|>", vocab[40_000]]) == {
            "<|im_end|>": vocab.index("<|im_end|>"),
            vocab[40_000]: 40_000,
        }
    assert parse_bytes <= len(data)


def test_ranged_source_reads_only_the_header() -> None:
    vocab = big_vocab(30_000)
    weights = b"\x5a" * (8 << 20)  # 8 MiB of "weights" after a ~400 KB header
    body = model(
        [
            kv_arr("tokenizer.ggml.tokens", STRING, len(vocab), b"".join(gstr(t) for t in vocab)),
            *base_kvs(),
        ],
        [tensor("w", [len(weights) // 4], 0, 0)],
        weights,
    )
    source = BytesSource(body)
    info = read_gguf(source)
    header_len = info.data_offset
    assert info.vocab_size == len(vocab) and info.tensor_bytes == len(weights)
    assert source.bytes_served <= header_len + 1024 * 1024  # never the 8 MiB of weights
    chunked = ChunkedSource(body, chunk=2_000_000)
    assert read_gguf(chunked).vocab_size == len(vocab)
    assert max(chunked.fetched) <= header_len // 2_000_000 + 1  # at most one chunk past the header
    small = ChunkedSource(body, chunk=64 * 1024)
    read_gguf(small)
    assert len(small.fetched) * 64 * 1024 <= header_len + 1024 * 1024 + 64 * 1024


def test_prefix_source_without_size(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", tokens=big_vocab(5000))
    data = path.read_bytes()
    info = read_gguf(CountingPrefixSource(data, name="remote"))
    assert info.size_checked is False and info.file_size is None
    assert info.vocab_size == 5000 + len(BASE_TOKENS) + 2
    full = read_gguf(path)
    assert info.model_dump(exclude={"path", "file_size", "size_checked"}) == full.model_dump(
        exclude={"path", "file_size", "size_checked"}
    )


def test_file_source_errors(tmp_path: Path) -> None:
    from ollama_forge.errors import GGUFError

    with pytest.raises(GGUFError, match="No such file"):
        FileSource(tmp_path / "nope.gguf")
    with pytest.raises(GGUFError, match="directory"):
        FileSource(tmp_path)


def _sequential(data: bytes, count: int) -> tuple[list[int], int]:
    cur = Cursor(BytesSource(data))
    out: list[int] = []
    _step(cur, count, "k", 1 << 24, out)
    return out, cur.pos


strings = st.lists(
    st.one_of(
        st.binary(max_size=12),
        st.just(b""),
        st.binary(min_size=1, max_size=8).map(lambda b: b"\x00" * 9 + b),
        st.sampled_from(
            [b"\x00", b"\x00\x00\x00\x00\x00\x00\x00\x00\x00", b"a" * 300, b"\x00" * 70000]
        ),
    ),
    min_size=64,
    max_size=400,
)


@settings(max_examples=60, deadline=None)
@given(strings)
def test_vectorised_scan_matches_sequential(items: list[bytes]) -> None:
    data = b"".join(struct.pack("<Q", len(s)) + s for s in items) + b"TAIL"
    expected, end = _sequential(data, len(items))
    cur = Cursor(BytesSource(data))
    got = _scan_numpy(np, cur, len(items), "k", 1 << 24)
    assert [int(x) for x in got] == expected
    assert cur.pos == end == len(data) - 4


def test_vectorised_scan_on_mmap_matches(tmp_path: Path) -> None:
    vocab = [*big_vocab(20000), "\x00lead", "", "a" * 70000, "tail"]
    path = write_gguf(tmp_path / "m.gguf", tokens=vocab)
    with open_gguf(path) as g:
        assert g.array("tokenizer.ggml.tokens") == vocab
        assert g.token_text(len(vocab) - 2) == "a" * 70_000


@settings(max_examples=60, deadline=None)
@given(strings)
def test_sparse_scan_matches_sequential(items: list[bytes]) -> None:
    data = b"".join(struct.pack("<Q", len(s)) + s for s in items) + b"TAIL"
    expected, end = _sequential(data, len(items))
    cur = Cursor(BytesSource(data))
    assert _scan_sparse(cur, len(items), "k", 1 << 24) == expected[::STRIDE]
    assert cur.pos == end


def test_fresh_process_path_without_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With numpy not imported, the sparse index serves every lookup exactly."""
    vocab = [*big_vocab(9_000), "x\x00y", "", "dup", "dup", "a" * 70_000, "<|im_end|>"]
    path = write_gguf(tmp_path / "m.gguf", tokens=vocab, eos="<|im_end|>")
    monkeypatch.delitem(sys.modules, "numpy")
    with open_gguf(path) as g:
        ref = g.kv["tokenizer.ggml.tokens"]
        assert ref.index.stride == STRIDE and isinstance(ref.index.offsets, list)
        assert "numpy" not in sys.modules
        for i in [0, 1, 63, 64, 65, 127, 128, 4_000, len(vocab) - 1, len(vocab) - 2]:
            assert g.token_text(i) == vocab[i]
        probe = ["x\x00y", "", "dup", "<|im_end|>", vocab[5_000], "a" * 70_000, "nope"]
        assert g.find_tokens(probe) == {t: vocab.index(t) for t in probe if t in vocab}
        assert g.info.special_tokens["eos"].text == "<|im_end|>"
        assert g.array("tokenizer.ggml.tokens") == vocab


def test_sparse_scan_rejects_oversized_element() -> None:
    items = [b"a"] * 100 + [b"b" * 5000] + [b"c"] * 100
    data = b"".join(struct.pack("<Q", len(s)) + s for s in items)
    from ollama_forge.errors import GGUFFormatError

    with pytest.raises(GGUFFormatError, match="claims 5000 bytes"):
        _scan_sparse(Cursor(BytesSource(data)), len(items), "k", 4096)
    with pytest.raises(GGUFTruncatedError):
        _scan_sparse(Cursor(BytesSource(data[:-50])), len(items), "k", 1 << 24)


def test_a_header_is_read_once_per_file_identity(tmp_path: Path) -> None:
    """Several steps of one command ask for the same header: the file is opened once."""
    import os

    from ggufs import write_gguf

    from ollama_forge.gguf import read_gguf

    path = write_gguf(tmp_path / "m.gguf", arch="llama", name="first")
    opens: list[str] = []

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "open" and args and str(args[0]) == str(path):
            opens.append(event)

    sys.addaudithook(hook)  # audit hooks cannot be removed; this one only counts opens of `path`
    first = read_gguf(path)
    again = read_gguf(path)
    assert len(opens) == 1 and again == first and again is not first
    again.name = "changed by a caller"
    assert read_gguf(path).name == "first"  # each caller gets its own copy
    # a changed file (new size and mtime) is read again
    write_gguf(path, arch="llama", name="second, longer name")
    os.utime(path, ns=(1, 1))
    opens.clear()
    assert read_gguf(path).name == "second, longer name"
    assert len(opens) == 1
