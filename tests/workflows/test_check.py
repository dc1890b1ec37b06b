"""forge check: judging (pure), the Ollama path (local test server) and, with the real Gemma 3
270M GGUF through embedded llama.cpp, the three cases: right stops, stops removed, turn-opening stop."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "runners"))

from gemma_modelfiles import PROMPTS, gemma_modelfile

from ollama_forge.errors import (
    CheckFailedError,
    ModelNotFoundError,
    OllamaConnectionError,
    UsageError,
)
from ollama_forge.workflows.check import check, judge, parse_show_stops, turn_markers

GEMMA3 = (
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
    '{{- if eq .Role "user" }}<start_of_turn>user\n{{ .Content }}<end_of_turn>\n'
    "{{ if $last }}<start_of_turn>model\n{{ end }}\n"
    '{{- else if eq .Role "assistant" }}<start_of_turn>model\n{{ .Content }}{{ if not $last }}<end_of_turn>\n{{ end }}\n'
    "{{- end }}\n{{- end }}"
)
CHATML = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"


def _judge(reply: str, done_reason: str = "stop", markers: tuple[str, ...] = ()) -> Any:
    return judge(
        "q",
        reply,
        done_reason=done_reason,
        stopped_by="limit" if done_reason == "length" else "stop_string",
        stop=None,
        completion_tokens=3,
        seconds=0.1,
        markers=markers,
    )


def test_judge_verdicts() -> None:
    assert _judge("Paris.").verdict == "ok"
    assert _judge("The answer", "length").verdict == "rambling"
    assert _judge("").verdict == "cut"
    assert _judge(" \n.").verdict == "cut"
    leaked = _judge(
        "Paris.<end_of_turn>\n<start_of_turn>user", markers=("<end_of_turn>", "<start_of_turn>user")
    )
    assert leaked.verdict == "leaked" and leaked.leaked == ["<end_of_turn>", "<start_of_turn>user"]
    both = _judge("Paris.\nUser: more", "length", markers=("User:",))
    assert both.verdict == "rambling" and both.leaked == ["User:"]


def test_turn_markers() -> None:
    assert turn_markers(GEMMA3) == ["<end_of_turn>", "<start_of_turn>user", "<start_of_turn>"]
    assert turn_markers(CHATML) == ["<|im_end|>", "<|im_start|>user", "<|im_start|>"]
    assert turn_markers("{{ .Prompt }}") == []
    assert turn_markers(None) == []
    assert turn_markers("{{ .Broken") == []


def test_parse_show_stops() -> None:
    text = 'stop                           "<end_of_turn>"\nstop                           "\\nUser:"\ntemperature                    0.1'
    assert parse_show_stops(text) == ["<end_of_turn>", "\nUser:"]
    assert parse_show_stops(None) == []


def test_argument_errors() -> None:
    with pytest.raises(UsageError):
        check("x", max_tokens=0)
    with pytest.raises(UsageError):
        check("x", prompts=[" "])
    with pytest.raises(UsageError, match="registered in Ollama"):
        check(None, modelfile="Modelfile", backend="ollama")
    from ollama_forge.modelfile import Modelfile

    with pytest.raises(UsageError, match="not a local GGUF file") as info:
        check(None, modelfile=Modelfile(from_=["llama3.2"], template="{{ .Prompt }}"))
    assert info.value.hint and "forge chat NAME -f MODELFILE" in info.value.hint
    with pytest.raises(UsageError, match=r"'missing\.Modelfile' not found"):
        check("x.gguf", modelfile="missing.Modelfile", backend="embedded")


# --- the Ollama path (tests/servers/ollama_server.py) ---------------------------------------


@pytest.fixture
def ollama(monkeypatch: pytest.MonkeyPatch) -> Any:
    from servers.ollama_server import ModelRecord, OllamaServer

    with OllamaServer() as server:
        server.state.models["registry.ollama.ai/library/gem:latest"] = ModelRecord(
            name="registry.ollama.ai/library/gem:latest",
            display="gem:latest",
            layers=[],
            template=GEMMA3,
            parameters={"stop": ["<end_of_turn>"], "temperature": 0.1},
        )
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        yield server


def test_ollama_clean(ollama: Any) -> None:
    ollama.state.chat_reply = "The capital of France is Paris."
    report = check("gem", max_tokens=16)
    assert report.backend == "ollama" and report.ollama_name == "gem" and report.passed
    assert report.stops == ["<end_of_turn>"]
    assert "<start_of_turn>user" in report.leak_markers
    assert [r.verdict for r in report.results] == ["ok"] * 3
    chats = ollama.state.requests_to("POST", "/api/chat")
    assert len(chats) == 3
    assert chats[0].json["options"] == {"temperature": 0, "seed": 42, "num_predict": 16}


def test_ollama_rambling_cut_and_leak(ollama: Any) -> None:
    ollama.state.chat_reply = "word " * 40
    report = check("gem", max_tokens=8, prompts=["hi"])
    assert not report.passed and report.results[0].verdict == "rambling"
    assert report.results[0].done_reason == "length" and report.results[0].stopped_by == "limit"
    with pytest.raises(CheckFailedError, match="rambling") as info:
        report.raise_for_failure()
    assert info.value.hint and "stop" in info.value.hint

    ollama.state.chat_reply = ""
    report = check("gem", max_tokens=8, prompts=["hi"])
    assert report.results[0].verdict == "cut"

    ollama.state.chat_reply = "Paris. <start_of_turn>user Next?"
    report = check("gem", max_tokens=32, prompts=["hi"])
    assert report.results[0].verdict == "leaked" and report.results[0].leaked == [
        "<start_of_turn>user",
        "<start_of_turn>",
    ]


def test_ollama_cli_exit_codes(ollama: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from ollama_forge.cli import main

    ollama.state.chat_reply = "Paris."
    with pytest.raises(SystemExit) as ok:
        main(["check", "gem", "--json"])
    assert ok.value.code == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True
    ollama.state.chat_reply = "word " * 200
    with pytest.raises(SystemExit) as bad:
        main(["check", "gem", "-n", "8"])
    assert bad.value.code == 1
    captured = capsys.readouterr()
    assert "rambling" in captured.out and "failed the stop check" in " ".join(captured.err.split())


def test_store_registration_names_the_ollama_model(ollama: Any) -> None:
    from ollama_forge.store import Registration, Store, StoredModel

    Store().put(StoredModel(name="mygem"))
    Store().add_registration(
        "mygem",
        Registration(
            ollama_name="gem:latest", host=ollama.url, source="x.gguf", modelfile="FROM x.gguf\n"
        ),
    )
    ollama.state.chat_reply = "Paris."
    report = check("mygem", prompts=["hi"])
    assert report.backend == "ollama" and report.ollama_name == "gem:latest" and report.passed
    assert ollama.state.requests_to("POST", "/api/chat")[0].json["model"] == "gem:latest"


def test_unregistered_or_unreachable_falls_back(
    ollama: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # not registered in Ollama and not in the store: the embedded fallback cannot find it either
    with pytest.raises(ModelNotFoundError):
        check("other")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{port}")
    # neither a file nor a stored model: the real cause is that Ollama is down (issue 13)
    with pytest.raises(OllamaConnectionError, match="unreachable") as info:
        check("gem")
    assert "store" not in (info.value.hint or "") and "ollama serve" in (info.value.hint or "")
    with pytest.raises(OllamaConnectionError):
        check("gem", backend="ollama")


def test_ollama_generation_has_a_deadline(ollama: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply that takes longer than the deadline (a slow model that never ends) is ended by forge."""
    import ollama_forge.workflows.check as check_module
    from ollama_forge.errors import OllamaError

    monkeypatch.setattr(check_module, "OLLAMA_REPLY_DEADLINE", 0.5)
    ollama.state.faults.endless_generation = True
    ollama.state.faults.token_delay = 0.05  # 96 tokens (max_tokens) would take ~5 s
    with pytest.raises(OllamaError, match="deadline") as info:
        check("gem", prompts=["hi"])
    assert "num_predict" in (info.value.hint or "")


# --- real generation: Gemma 3 270M through the embedded runtime ------------------------------


def _gemma_check(gemma_path: Path, case: str) -> Any:
    pytest.importorskip("llama_cpp")
    return check(
        gemma_path, modelfile=gemma_modelfile(gemma_path, case), prompts=PROMPTS, max_tokens=24
    )


@pytest.mark.slow
@pytest.mark.llama
def test_gemma_right_stops_end_cleanly(gemma_path: Path) -> None:
    report = _gemma_check(gemma_path, "good")
    assert report.backend == "embedded" and report.passed, report.problems
    for result in report.results:
        assert result.verdict == "ok"
        assert result.stopped_by == "stop_string" and result.stop == "User:"
        assert result.completion_tokens is not None and result.completion_tokens < 24
        assert result.reply.strip()
    assert "Paris" in report.results[0].reply


@pytest.mark.slow
@pytest.mark.llama
def test_gemma_without_stops_rambles(gemma_path: Path) -> None:
    report = _gemma_check(gemma_path, "no_stops")
    assert not report.passed
    for result in report.results:
        assert result.verdict == "rambling"
        assert result.done_reason == "length" and result.completion_tokens == 24
        assert "User:" in result.leaked  # it went on into a turn of its own making
    with pytest.raises(CheckFailedError, match="rambling"):
        report.raise_for_failure()


@pytest.mark.slow
@pytest.mark.llama
def test_gemma_turn_opening_stop_is_cut(gemma_path: Path) -> None:
    report = _gemma_check(gemma_path, "turn_opening_stop")
    assert not report.passed
    for result in report.results:
        assert result.verdict == "cut"
        assert result.stopped_by == "stop_string" and result.stop == "Assistant:"
        assert (
            result.reply == ""
            and result.completion_tokens is not None
            and result.completion_tokens <= 3
        )
    with pytest.raises(CheckFailedError, match="cut") as info:
        report.raise_for_failure()
    assert info.value.hint and "open the assistant" in info.value.hint


@pytest.mark.slow
@pytest.mark.llama
def test_gemma_cli_check(
    gemma_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("llama_cpp")
    from ollama_forge.cli import main

    good, bad = tmp_path / "good.Modelfile", tmp_path / "bad.Modelfile"
    gemma_modelfile(gemma_path, "good").save(good)
    gemma_modelfile(gemma_path, "turn_opening_stop").save(bad)
    args = ["-n", "16"] + [x for p in PROMPTS[:1] for x in ("--prompt", p)]
    with pytest.raises(SystemExit) as ok:
        main(["check", "-f", str(good), *args, "--json"])
    assert ok.value.code == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["verdict"] == "ok"
    with pytest.raises(SystemExit) as failed:
        main(["check", str(gemma_path), "-f", str(bad), *args])
    assert failed.value.code == 1
    assert "cut at the start" in " ".join(capsys.readouterr().err.split())
