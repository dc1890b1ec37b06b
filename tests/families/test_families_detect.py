"""Family detection from the GGUF's own metadata, most specific evidence first."""

from __future__ import annotations

from pathlib import Path

import pytest
from family_cases import CHAT_CASES, Case
from ggufs import chatml_vocab, write_gguf

from ollama_forge.families import detect_family, load_families
from ollama_forge.gguf import read_gguf


@pytest.mark.parametrize("case", CHAT_CASES, ids=lambda c: c.id)
def test_detects_each_family_from_its_real_chat_template(case: Case, case_gguf) -> None:  # type: ignore[no-untyped-def]
    info = read_gguf(case_gguf(case))
    detection = detect_family(info)
    family = load_families()[case.family]
    if detection.chat_template_sha256 in family.chat_template_sha256:
        assert (detection.family, detection.rule, detection.confidence) == (
            case.family,
            "chat_template_sha256",
            "certain",
        )
    else:
        # A template without a known hash is recognised by its signature; the template choice then
        # verifies it (other candidates are tried when the first does not verify).
        assert detection.rule == "chat_template_signature" and detection.confidence == "high"
        assert case.family in [detection.family, *(c.family for c in detection.candidates)]
    assert detection.evidence


def test_exact_hash_is_whitespace_normalised(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "data/chat_templates/Qwen-Qwen3-0.6B.jinja").read_text()
    gguf = write_gguf(
        tmp_path / "q.gguf",
        arch="qwen3",
        tokens=chatml_vocab(),
        eos="<|im_end|>",
        chat_template="\n" + text.replace("\n", "\r\n") + "  \n",
    )
    detection = detect_family(gguf)
    assert (detection.family, detection.rule) == ("qwen3", "chat_template_sha256")


def test_override_wins(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "m.gguf", chat_template="{{ messages[0]['content'] }}")
    detection = detect_family(gguf, family="Zephyr")
    assert (detection.family, detection.rule, detection.confidence) == (
        "zephyr",
        "override",
        "certain",
    )


def test_architecture_and_name_decide_when_the_template_is_unknown(tmp_path: Path) -> None:
    odd = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    gguf = write_gguf(tmp_path / "g.gguf", arch="gemma3", name="Gemma 3 1b It", chat_template=odd)
    detection = detect_family(gguf)
    assert (detection.family, detection.rule, detection.confidence) == (
        "gemma3",
        "architecture",
        "medium",
    )
    assert "gemma3" in detection.evidence[0]


def test_file_or_repo_name_is_the_last_resort(tmp_path: Path) -> None:
    odd = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    gguf = write_gguf(
        tmp_path / "vicuna-13b-v1.5.Q4_K_M.gguf", arch="someotherarch", name=None, chat_template=odd
    )
    detection = detect_family(gguf)
    assert (detection.family, detection.rule, detection.confidence) == ("vicuna", "name", "low")
    by_repo = detect_family(
        write_gguf(tmp_path / "model.gguf", arch="x", name=None, chat_template=odd),
        names=["TheBloke/zephyr-7B-beta-GGUF"],
    )
    assert (by_repo.family, by_repo.rule) == ("zephyr", "name")


def test_nothing_matches(tmp_path: Path) -> None:
    gguf = write_gguf(
        tmp_path / "model.gguf", arch="mystery", name="Mystery", chat_template="{{ messages }}"
    )
    detection = detect_family(gguf)
    assert detection.family is None and detection.rule == "none" and detection.confidence == "none"


def test_base_model_without_chat_template_is_plain_with_a_suggestion(tmp_path: Path) -> None:
    gguf = write_gguf(tmp_path / "gemma-3-1b.gguf", arch="gemma3", name="Gemma 3 1b")
    detection = detect_family(gguf)
    assert (detection.family, detection.rule) == ("plain", "no_chat_template")
    assert detection.suggested == "gemma3"
    assert any("--family gemma3" in e for e in detection.evidence)
    bare = detect_family(write_gguf(tmp_path / "x.gguf", arch="mystery", name="Mystery"))
    assert bare.family == "plain" and bare.suggested is None


def test_detect_accepts_info_or_path(tmp_path: Path) -> None:
    gguf = write_gguf(
        tmp_path / "m.gguf",
        arch="llama",
        name="Llama 2 7B Chat",
        chat_template=(Path(__file__).parent / "data/llama2.jinja").read_text(),
    )
    assert detect_family(gguf).family == detect_family(read_gguf(gguf)).family == "llama2"
    assert detect_family(str(gguf)).family == "llama2"
