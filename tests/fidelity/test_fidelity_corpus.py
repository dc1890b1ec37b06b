"""The fidelity benchmark as a test: a floor on the measured figure, and only known failures.

benchmarks/fidelity.py evaluates every real chat template in tests/data/chat_templates/: the Go
TEMPLATE forge writes (family template if detected and verified, else the synthesised one) must
render the whole conversation suite byte for byte like the model's own template.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Measured 2026-11-25: 68/70 = 97.1% (family templates where they verify, else synthesis; synthesis
# alone: 66/70 = 94.3%). Never raise it above what is achieved.
FIDELITY_FLOOR = 97.0

# Each known failure and the reason it fails (a substring of the benchmark's explanation).
EXPECTED_FAILURES = {
    # "tool_use" templates are a GGUF's *named* template, used only when tools are passed; they
    # iterate over `tools` unconditionally, so a conversation without tools cannot render.
    "CohereForAI-c4ai-command-r-plus-tool_use": "'NoneType' object is not iterable",
    # Firefunction v2 needs a `functions` variable its own tokenizer config passes.
    "fireworks-ai-llama-3-firefunction-v2": "'functions' is undefined",
}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "forge_fidelity_benchmark", ROOT / "benchmarks" / "fidelity.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pytestmark = pytest.mark.slow  # renders ~70 real templates through both engines (about a minute)


@pytest.fixture(scope="module")
def report() -> Any:
    return _load().evaluate_corpus()


def test_fidelity_floor(report: Any) -> None:
    assert report.total >= 70
    assert report.percent >= FIDELITY_FLOOR, report.failures


def test_every_failure_is_a_known_one(report: Any) -> None:
    failures = report.failures
    unexpected = set(failures) - set(EXPECTED_FAILURES)
    assert not unexpected, {name: failures[name] for name in unexpected}
    for name, why in failures.items():
        assert why in EXPECTED_FAILURES[name] or EXPECTED_FAILURES[name] in why, (name, why)


def test_passing_templates_compare_real_conversations(report: Any) -> None:
    for outcome in report.outcomes:
        if outcome.ok:
            # at least user, multi_turn and one more shape were compared byte for byte
            assert outcome.compared >= 2, outcome


# Measured 2026-12-07 (issue 16): 57/68 = 83.8% of tool/thinking-capable templates get the model's own
# prompt on Ollama >= 0.30 (0 before: every TEMPLATE silently bypassed or refusing think/tools). The
# rest: 9 curated family TEMPLATEs kept for Ollama < 0.30 (warned; --template-path native) and the
# two templates no Go TEMPLATE expresses. Never raise it above what is achieved.
TOOL_FLOOR = 83.0


def test_tool_and_thinking_share(report: Any) -> None:
    summary = report.tool_summary()
    assert summary["templates"] >= 66
    assert summary["percent"] >= TOOL_FLOOR, summary
    assert summary["round_trips_recovered"] >= 16, (
        summary
    )  # Ollama's parser on the Go path (0 before)


def test_only_curated_family_templates_stay_unfaithful_on_new_servers(report: Any) -> None:
    for outcome in report.outcomes:
        tools = outcome.tools
        if tools is not None and tools.outcome == "go_unfaithful":
            assert outcome.source.startswith("family:"), (
                outcome
            )  # a synthesised one gives way to native
        if tools is not None and tools.outcome == "no_template":
            assert outcome.name in EXPECTED_FAILURES


def test_plausible_tokens_come_from_the_template_text() -> None:
    bench = _load()
    llama = (ROOT / "tests/data/chat_templates/meta-llama-Llama-3.1-8B-Instruct.jinja").read_text(
        encoding="utf-8"
    )
    assert bench.plausible_tokens(llama) == ("<|begin_of_text|>", "<|eot_id|>", True)
    qwen = (ROOT / "tests/data/chat_templates/Qwen-Qwen2.5-7B-Instruct.jinja").read_text(
        encoding="utf-8"
    )
    assert bench.plausible_tokens(qwen)[1:] == ("<|im_end|>", False)
