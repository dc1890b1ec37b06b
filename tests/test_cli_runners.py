"""The CLI around real generation: forge chat's interactive commands, forge check's status lines
(SmolLM2 through embedded llama.cpp), and forge run-hf loading a cached model offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ollama_forge import cli as forge_cli


@pytest.mark.slow
@pytest.mark.llama
def test_interactive_chat_commands(smollm2_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    lines = [
        "/?",
        "/set parameter temperature 0",
        "/set parameter top_k many",  # validated like a Modelfile PARAMETER: refused, the chat goes on
        "/set parameter num_ctx 1024",  # a load-time setting: the model is re-opened
        "/show parameters",
        "/set system Answer in one word.",
        "/show system",
        "What colour is the sky?",
        "/clear",
        "/nonsense",
        "/bye",
    ]
    result = CliRunner().invoke(
        forge_cli.cli,
        ["chat", str(smollm2_path), "-n", "8", "--num-ctx", "512"],
        input="\n".join(lines) + "\n",
        prog_name="forge",
    )
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "/set parameter NAME VALUE" in err and "/clear" in err and "/bye" in err  # the /? list
    assert "Set parameter 'temperature' to '0'" in err
    assert "error:" in err and "top_k" in err
    params = err.split("parameters:")[1]
    assert (
        "num_ctx 1024" in params and "temperature 0" in params
    )  # the earlier /set survived the re-open
    assert "Answer in one word." in err.split("system:")[1]
    assert "Cleared session context." in err and "Unknown command '/nonsense'" in err
    assert result.stdout.strip()  # the reply was streamed to stdout
    assert "loading SmolLM2" in err  # the status line while the model loads


@pytest.mark.slow
@pytest.mark.llama
def test_check_shows_progress_on_stderr(smollm2_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    result = CliRunner().invoke(
        forge_cli.cli,
        ["check", str(smollm2_path), "--backend", "embedded", "-p", "Say hi.", "-n", "24"],
        prog_name="forge",
    )
    assert "loading SmolLM2-135M-Instruct" in result.stderr
    assert 'prompt 1/1: "Say hi."' in result.stderr
    assert "forge check" in result.stdout  # the report itself stays on stdout
    quiet = CliRunner().invoke(
        forge_cli.cli,
        ["-q", "check", str(smollm2_path), "--backend", "embedded", "-p", "Say hi.", "-n", "24"],
        prog_name="forge",
    )
    assert "loading" not in quiet.stderr and "prompt 1/1" not in quiet.stderr


@pytest.mark.slow
@pytest.mark.hf
def test_run_hf_offline_loads_the_cached_snapshot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    from runners.tiny_model import build_tiny_model

    from ollama_forge.config import hf_hub_cache

    repo = hf_hub_cache() / "models--owner--tiny"
    commit = "0123456789abcdef0123456789abcdef01234567"
    build_tiny_model(repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(
        forge_cli.cli,
        ["run-hf", "owner/tiny", "-p", "Hello", "-n", "4", "--raw", "--device", "cpu", "--json"],
        prog_name="forge",
    )
    assert result.exit_code == 0, result.output
    assert '"new_tokens": 4' in result.stdout


def test_check_through_ollama_shows_each_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    from servers.ollama_server import ModelRecord, OllamaServer

    with OllamaServer() as server:
        server.state.models["registry.ollama.ai/library/gem:latest"] = ModelRecord(
            name="registry.ollama.ai/library/gem:latest",
            display="gem:latest",
            layers=[],
            template="{{ .Prompt }}",
            parameters={"stop": ["<end_of_turn>"]},
        )
        server.state.chat_reply = "Paris."
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        result = CliRunner().invoke(
            forge_cli.cli,
            ["check", "gem", "-p", "Capital of France?", "-p", "Say hi."],
            prog_name="forge",
        )
    assert result.exit_code == 0, result.output
    assert 'prompt 1/2 to Ollama gem: "Capital of France?"' in result.stderr
    assert 'prompt 2/2 to Ollama gem: "Say hi."' in result.stderr
