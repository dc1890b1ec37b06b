"""Fixtures for the Hub tests: a local Hub server and GGUF payloads to serve from it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers.hub_server import HubServer


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A local Hub; HF_ENDPOINT points at it for this test."""
    server = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    try:
        yield server
    finally:
        server.stop()


def gguf_bytes(tmp: Path, filename: str = "m.gguf", **kw: object) -> bytes:
    """A small valid GGUF (tests/ggufs.py write_gguf) as bytes."""
    from ggufs import write_gguf

    return write_gguf(tmp / filename, **kw).read_bytes()  # type: ignore[arg-type]


def big_gguf(path: Path, *, megabytes: int, file_type: int | None = None, seed: int = 0) -> Path:
    """A valid GGUF with ``megabytes`` MiB of random Q8_0 tensor data (for resume/throughput)."""
    from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType

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


@pytest.fixture
def make_gguf(tmp_path: Path):  # type: ignore[no-untyped-def]
    counter = iter(range(10_000))

    def make(**kw: object) -> bytes:
        return gguf_bytes(tmp_path / "src", f"g{next(counter)}.gguf", **kw)

    return make
