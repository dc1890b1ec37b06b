"""Fixtures for the Hub tests: a local Hub server and GGUF payloads to serve from it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def make_gguf(tmp_path: Path):  # type: ignore[no-untyped-def]
    counter = iter(range(10_000))

    def make(**kw: object) -> bytes:
        return gguf_bytes(tmp_path / "src", f"g{next(counter)}.gguf", **kw)

    return make
