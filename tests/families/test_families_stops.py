"""Stop tokens come from the model: EOG tokens plus family terminators in its vocab, never openers."""

from __future__ import annotations

from pathlib import Path

import pytest
from family_cases import CHAT_CASES, Case
from ggufs import BASE_TOKENS, write_gguf

from ollama_forge.families import choose_stops, load_families
from ollama_forge.families.stops import KNOWN_TURN_OPENERS
from ollama_forge.gguf import open_gguf, read_gguf
from ollama_forge.workflows.plan import plan_modelfile


@pytest.mark.parametrize("case", CHAT_CASES, ids=lambda c: c.id)
def test_stops_hold_the_eog_tokens_and_no_turn_opener(case: Case, case_gguf) -> None:  # type: ignore[no-untyped-def]
    path = case_gguf(case)
    info = read_gguf(path)
    family = load_families()[case.family]
    with open_gguf(path) as gguf:
        choice = choose_stops(info, gguf, family=family)
    eog = {info.special_tokens[k].text for k in ("eos", "eot", "eom") if k in info.special_tokens}
    forbidden = KNOWN_TURN_OPENERS | set(family.turn_openers)
    assert eog - forbidden <= set(choice.stops)
    assert not set(choice.stops) & forbidden
    with open_gguf(path) as gguf:
        in_vocab = gguf.find_tokens(family.stop_tokens)
    for terminator in family.stop_tokens:
        assert (terminator in choice.stops) == (terminator in in_vocab or terminator in eog), (
            terminator
        )


def test_llama31_stops(case_gguf) -> None:  # type: ignore[no-untyped-def]
    case = next(c for c in CHAT_CASES if c.family == "llama3.1")
    stops = plan_modelfile(case_gguf(case), use_free_memory=False).modelfile.parameters["stop"]
    assert stops == ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"]


def test_terminators_missing_from_the_vocab_are_left_out(tmp_path: Path) -> None:
    tokens = [*BASE_TOKENS, "<|im_start|>", "<|im_end|>"]  # no <|endoftext|>
    path = write_gguf(tmp_path / "m.gguf", tokens=tokens, eos="<|im_end|>", chat_template="x")
    with open_gguf(path) as gguf:
        choice = choose_stops(read_gguf(path), gguf, family=load_families()["chatml"])
    assert choice.stops == ["<|im_end|>"]
    assert any("<|endoftext|>" in r and "not in this vocabulary" in r for r in choice.rejected)


def test_a_turn_opener_set_as_eos_is_rejected(tmp_path: Path) -> None:
    tokens = [*BASE_TOKENS, "<|im_start|>", "<|im_end|>"]
    path = write_gguf(
        tmp_path / "m.gguf", tokens=tokens, eos="<|im_start|>", eot="<|im_end|>", chat_template="x"
    )
    with open_gguf(path) as gguf:
        choice = choose_stops(read_gguf(path), gguf, family=load_families()["chatml"])
    assert "<|im_start|>" not in choice.stops and "<|im_end|>" in choice.stops
    assert any(r.startswith("<|im_start|>") and "turn opener" in r for r in choice.rejected)


def test_gemma_stops_on_end_of_turn_not_start(case_gguf) -> None:  # type: ignore[no-untyped-def]
    case = next(c for c in CHAT_CASES if c.family == "gemma")
    stops = plan_modelfile(case_gguf(case), use_free_memory=False).modelfile.parameters["stop"]
    assert "<end_of_turn>" in stops and "<eos>" in stops and "<start_of_turn>" not in stops


def test_plain_text_formats_add_their_text_stops(case_gguf) -> None:  # type: ignore[no-untyped-def]
    case = next(c for c in CHAT_CASES if c.family == "vicuna")
    stops = plan_modelfile(case_gguf(case), use_free_memory=False).modelfile.parameters["stop"]
    assert stops == ["</s>", "USER:"]


def test_user_stops_are_added(case_gguf) -> None:  # type: ignore[no-untyped-def]
    case = next(c for c in CHAT_CASES if c.family == "phi3")
    result = plan_modelfile(
        case_gguf(case), params={"stop": ["<|user|>x", "END"]}, use_free_memory=False
    )
    assert result.modelfile.parameters["stop"][-2:] == ["<|user|>x", "END"]
    assert "<|end|>" in result.modelfile.parameters["stop"]
