"""The embedded runtime never takes forge down on a CPU feature: probed in a child, remembered.

The crashes are real signals from a child process: a stand-in ``llama_cpp`` package
(tests/runners/fake_llama) dies with SIGSEGV when llama.cpp's extra buffer types are on (what
AMX does on a VM that advertises it) or with SIGILL on every load (a wheel built for another CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ollama_forge.errors import RuntimeBackendError
from ollama_forge.runners import llama_probe

FAKE = Path(__file__).parent / "fake_llama"


@pytest.fixture
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("FORGE_LLAMA_EXTRA_BUFTS", raising=False)
    monkeypatch.setattr(llama_probe, "_MEMO", {})


@pytest.fixture
def model(tmp_path: Path) -> Path:
    from ggufs import write_gguf

    return write_gguf(tmp_path / "m.gguf", arch="llama")


def test_extra_buffer_types_off_when_they_crash(
    fake_runtime: None, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_CRASH", "extra")
    probe = llama_probe.probe_runtime(model)
    assert probe.usable and probe.extra_buffer_types is False
    assert [(a.extra_buffer_types, a.ok, a.signal) for a in probe.attempts] == [
        (True, False, "SIGSEGV"),
        (False, True, None),
    ]
    assert llama_probe.runtime_settings(model) == {"use_extra_bufts": False}
    # remembered on disk for the next process, keyed by build, CPU and tensor types
    from ollama_forge.config import forge_home

    cached = json.loads((forge_home() / llama_probe.CACHE_FILE).read_text())
    assert cached[probe.key]["extra_buffer_types"] is False
    monkeypatch.setattr(llama_probe, "_MEMO", {})
    monkeypatch.setenv(
        "FAKE_LLAMA_CRASH", "always"
    )  # would now fail: the cache answers, no child runs
    again = llama_probe.probe_runtime(model)
    assert again.cached and again.extra_buffer_types is False


def test_fast_path_kept_where_it_works(
    fake_runtime: None, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_CRASH", "never")
    probe = llama_probe.probe_runtime(model)
    assert probe.usable and probe.extra_buffer_types is True and len(probe.attempts) == 1


def test_a_runtime_that_always_crashes_is_a_clear_error(
    fake_runtime: None, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_CRASH", "always")
    with pytest.raises(RuntimeBackendError) as info:
        llama_probe.runtime_settings(model)
    assert "SIGILL" in info.value.message and info.value.signal == "SIGILL"
    assert info.value.hint and "GGML_NATIVE=OFF" in info.value.hint


def test_forced_setting_skips_the_probe(
    fake_runtime: None, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_CRASH", "always")
    monkeypatch.setenv("FORGE_LLAMA_EXTRA_BUFTS", "0")
    assert llama_probe.runtime_settings(model) == {"use_extra_bufts": False}


def test_forge_chat_reports_the_crash_instead_of_dying(
    fake_runtime: None, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_LLAMA_CRASH", "always")
    done = subprocess.run(
        [sys.executable, "-m", "ollama_forge", "chat", str(model), "--prompt", "hi"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stderr
    assert "crashes on this machine" in done.stderr and "SIGILL" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.llama
def test_real_runtime_generates_here(gemma_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("llama_cpp")
    monkeypatch.setattr(llama_probe, "_MEMO", {})
    probe = llama_probe.probe_runtime(gemma_path, refresh=True)
    assert probe.usable, probe.failure
    from ollama_forge.workflows.doctor import llama_cpp_info

    info = llama_cpp_info(gemma_path)
    assert info.can_generate is True and info.probe_model == str(gemma_path)
