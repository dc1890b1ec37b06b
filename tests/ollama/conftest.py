"""Fixtures for the Ollama tests: a local Ollama server (tests/servers/ollama_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ollama_helpers import CHATML
from servers.ollama_server import OllamaServer


@pytest.fixture
def old_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OllamaServer]:
    """A 0.29.0 server: no split GGUF import, no native Jinja templates."""
    with OllamaServer(version="0.29.0") as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        yield srv


@pytest.fixture
def chatml_gguf(tmp_path: Path) -> Path:
    from ggufs import chatml_vocab, write_gguf

    return write_gguf(
        tmp_path / "models" / "tiny-q4_k_m.gguf",
        arch="qwen2",
        chat_template=CHATML,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
    )
