"""The embedded llama.cpp runtime: stop matching (pure), and real generation on Gemma 3 270M."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gemma_modelfiles import PROMPTS, gemma_modelfile

from ollama_forge.errors import ModelNotFoundError, RuntimeBackendError, UsageError
from ollama_forge.runners.llama import _StopMatcher


def feed_all(stops: list[str], pieces: list[str]) -> tuple[_StopMatcher, list[str], str | None]:
    seen: list[str] = []
    matcher = _StopMatcher(stops, seen.append)
    found = None
    for piece in pieces:
        found = matcher.feed(piece)
        if found is not None:
            break
    else:
        matcher.flush()
    return matcher, seen, found


def test_stop_split_across_pieces_is_held_back() -> None:
    matcher, seen, found = feed_all(["User:"], [" Paris.", "\nUs", "er", ": more"])
    assert found == "User:"
    assert matcher.text == " Paris.\n"
    assert "".join(seen) == " Paris.\n"  # "Us" was never streamed out


def test_partial_stop_is_released_when_it_does_not_complete() -> None:
    matcher, seen, found = feed_all(["<end_of_turn>"], ["a <end", "ing> b"])
    assert found is None
    assert matcher.text == "a <ending> b"
    assert seen[0] == "a "  # "<end" held back until disproved


def test_earliest_stop_wins_and_special_token_text_matches() -> None:
    matcher, _, found = feed_all(["<end_of_turn>", "\nUser:"], ["Hi\nUser:<end_of_turn>"])
    assert found == "\nUser:"
    assert matcher.text == "Hi"


def test_no_stops_streams_everything() -> None:
    matcher, seen, found = feed_all([], ["a", "b"])
    assert found is None and seen == ["a", "b"] and matcher.text == "ab"


def test_chat_needs_a_model() -> None:
    from ollama_forge.workflows.chat import chat

    with pytest.raises(UsageError):
        chat(None, "hi")
    with pytest.raises(ModelNotFoundError) as info:
        chat("no-such-model", "hi")
    assert info.value.hint and "pull-gguf" in info.value.hint


# --- real generation (Gemma 3 270M) ---------------------------------------------------------

slow = [pytest.mark.slow, pytest.mark.llama]


@pytest.fixture(scope="module")
def llama_ready() -> None:
    pytest.importorskip("llama_cpp")


@pytest.mark.slow
@pytest.mark.llama
def test_chat_prompt_is_the_template_and_stop_ends_it(llama_ready: None, gemma_path: Path) -> None:
    from ollama_forge.fidelity.ollama_prompt import render_prompt
    from ollama_forge.workflows.chat import chat

    mf = gemma_modelfile(gemma_path, "good")
    pieces: list[str] = []
    result = chat(gemma_path, PROMPTS[0], modelfile=mf, max_tokens=24, on_text=pieces.append)
    expected_prompt = render_prompt(
        mf.template,
        [{"role": "user", "content": PROMPTS[0]}],
        model_messages=[m.model_dump() for m in mf.messages],
    )
    assert result.prompt == expected_prompt
    assert result.prompt.endswith("User: What is the capital of France?\nAssistant:")
    assert "Paris" in result.reply.text
    assert result.reply.stopped_by == "stop_string" and result.reply.stop == "User:"
    assert result.reply.done_reason == "stop"
    assert "User:" not in result.reply.text
    assert "".join(pieces) == result.reply.text
    assert result.options["temperature"] == 0 and result.options["num_ctx"] == 512


@pytest.mark.slow
@pytest.mark.llama
def test_token_limit_and_determinism(llama_ready: None, gemma_path: Path) -> None:
    from ollama_forge.workflows.chat import ChatSession

    with ChatSession(gemma_path, modelfile=gemma_modelfile(gemma_path, "no_stops")) as session:
        first = session.generate([{"role": "user", "content": PROMPTS[1]}], max_tokens=6)
        second = session.generate([{"role": "user", "content": PROMPTS[1]}], max_tokens=6)
        assert first.reply.completion_tokens == 6
        assert first.reply.done_reason == "length" and first.reply.stopped_by == "limit"
        assert first.reply.text == second.reply.text  # temperature 0, seed 42


@pytest.mark.slow
@pytest.mark.llama
def test_session_keeps_history_and_system(llama_ready: None, gemma_path: Path) -> None:
    from ollama_forge.workflows.chat import ChatSession

    with ChatSession(
        gemma_path, modelfile=gemma_modelfile(gemma_path, "good"), system="Be brief."
    ) as session:
        one = session.send(PROMPTS[0], max_tokens=12)
        two = session.send(PROMPTS[2], max_tokens=12)
    # Ollama's order: model MESSAGEs, then the request (whose system message replaces SYSTEM)
    assert one.prompt.startswith("User: What is the capital of Italy?\n")
    assert (
        "Apple.\nSystem: Be brief.\nUser: What is the capital of France?\nAssistant:" in one.prompt
    )
    assert f"User: {PROMPTS[0]}\nAssistant: {one.reply.text}" in two.prompt
    assert [m["role"] for m in session.history] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]


@pytest.mark.slow
@pytest.mark.llama
def test_context_overflow_is_reported(llama_ready: None, gemma_path: Path) -> None:
    from ollama_forge.workflows.chat import chat

    with pytest.raises(RuntimeBackendError, match="context is 512") as info:
        chat(gemma_path, "word " * 600, modelfile=gemma_modelfile(gemma_path, "good"), max_tokens=4)
    assert info.value.hint and "num_ctx" in info.value.hint


@pytest.mark.slow
@pytest.mark.llama
def test_store_name_uses_written_modelfile(
    llama_ready: None, gemma_path: Path, tmp_path: Path
) -> None:
    from ollama_forge.store import Store, StoredFile, StoredModel
    from ollama_forge.workflows.chat import chat

    mf_path = tmp_path / "Modelfile"
    gemma_modelfile(gemma_path, "good").save(mf_path)
    Store().put(
        StoredModel(
            name="gemma-test",
            files=[StoredFile(path=str(gemma_path), size=gemma_path.stat().st_size)],
            modelfile_path=str(mf_path),
        )
    )
    result = chat("gemma-test", PROMPTS[0], max_tokens=16)
    assert result.modelfile_source == f"store:{mf_path}"
    assert result.reply.stop == "User:" and "Paris" in result.reply.text


@pytest.mark.slow
@pytest.mark.llama
def test_cli_chat_json_and_interactive(
    llama_ready: None, gemma_path: Path, tmp_path: Path, capsys: Any
) -> None:
    from click.testing import CliRunner

    from ollama_forge.cli import cli, main

    mf_path = tmp_path / "Modelfile"
    gemma_modelfile(gemma_path, "good").save(mf_path)
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "chat",
                str(gemma_path),
                "-f",
                str(mf_path),
                "--prompt",
                PROMPTS[0],
                "-n",
                "16",
                "--json",
            ]
        )
    assert exit_info.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["reply"]["stop"] == "User:" and "Paris" in data["reply"]["text"]

    runner = CliRunner()
    outcome = runner.invoke(
        cli,
        ["chat", str(gemma_path), "-f", str(mf_path), "-n", "12"],
        input=f"{PROMPTS[1]}\n/bye\n",
    )
    assert outcome.exit_code == 0, outcome.output
    assert "4" in outcome.stdout or "2" in outcome.stdout


class _StubLlama:
    """Stands in for llama_cpp.Llama in the generation loop: a fixed token script."""

    def __init__(self, script: list[tuple[int, bytes]]) -> None:
        self.script = script
        self.pieces = dict(script)
        self.seed: int | None = None

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return [2, 100]

    def token_bos(self) -> int:
        return 2

    def set_seed(self, seed: int) -> None:
        self.seed = seed

    def detokenize(
        self, tokens: list[int], prev_tokens: Any = None, special: bool = False
    ) -> bytes:
        assert special  # control tokens must render as text, like Ollama
        return b"".join(self.pieces[t] for t in tokens)

    def generate(self, tokens: list[int], **kw: Any) -> Any:
        for token, _ in self.script:
            yield token


class _StubBackend:
    def llama_vocab_is_eog(self, vocab: Any, token: int) -> bool:
        return token == 106


def _stub_runtime(script: list[tuple[int, bytes]], stops: list[str]) -> Any:
    from ollama_forge.runners.llama import OLLAMA_DEFAULTS, LlamaRuntime

    runtime = LlamaRuntime.__new__(LlamaRuntime)
    runtime.llm = _StubLlama(script)
    runtime._llama_cpp = _StubBackend()
    runtime._vocab = None
    runtime.stops = stops
    runtime.n_ctx = 64
    runtime.options = {**OLLAMA_DEFAULTS, "seed": 7, "temperature": 0.0}
    return runtime


def test_eog_token_ends_generation_without_its_text() -> None:
    script = [
        (10, b"Par"),
        (11, b"is"),
        (12, b" \xe2\x9c"),
        (13, b"\x93"),
        (106, b"<end_of_turn>"),
        (14, b"more"),
    ]
    runtime = _stub_runtime(script, ["User:"])
    pieces: list[str] = []
    gen = runtime.complete("prompt", on_text=pieces.append)
    assert gen.text == "Paris ✓"  # a UTF-8 character split over two tokens is joined
    assert (gen.stopped_by, gen.stop, gen.done_reason) == ("eog", "<end_of_turn>", "stop")
    assert gen.completion_tokens == 4 and gen.prompt_tokens == 2
    assert "".join(pieces) == gen.text
    assert runtime.llm.seed == 7


def test_control_token_text_matches_a_stop() -> None:
    script = [(10, b"Hi"), (105, b"<start_of_turn>"), (11, b"user")]
    gen = _stub_runtime(script, ["<start_of_turn>"]).complete("prompt")
    assert (gen.text, gen.stopped_by, gen.stop) == ("Hi", "stop_string", "<start_of_turn>")


def test_limit_counts_generated_tokens() -> None:
    script = [(10, b"a"), (11, b"b"), (12, b"c"), (13, b"d")]
    gen = _stub_runtime(script, []).complete("prompt", max_tokens=3)
    assert (gen.text, gen.completion_tokens, gen.done_reason) == ("abc", 3, "length")


def test_missing_llama_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from ollama_forge.errors import MissingExtraError
    from ollama_forge.runners.llama import _import_llama_cpp

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingExtraError) as info:
        _import_llama_cpp()
    assert info.value.hint and "hf-ollama-forge[llama]" in info.value.hint
    assert info.value.fields["extra"] == "llama"
