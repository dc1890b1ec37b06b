"""`import ollama_forge` and every non-HF command stay light: no torch, transformers, langchain
HF wrappers or llama_cpp in sys.modules after running them (each in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ggufs import chatml_vocab, write_gguf

HEAVY = ("torch", "transformers", "langchain_huggingface", "llama_cpp", "tokenizers", "accelerate")
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

RUNNER = """
import json, sys
argv = json.loads(sys.argv[1])
if argv is None:
    import ollama_forge
    ollama_forge.__version__
    code = 0
else:
    from ollama_forge.cli import main
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
sys.stdout = sys.__stdout__
print("\\n@@" + json.dumps({"code": code, "heavy": heavy}))
"""


def run_isolated(argv: list[str] | None, cwd: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(argv), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    marker = proc.stdout.rfind("\n@@")
    assert marker >= 0, proc.stderr[-2000:]
    result: dict[str, object] = json.loads(proc.stdout[marker + 3 :])
    return result


@pytest.fixture
def small_gguf(tmp_path: Path) -> Path:
    return write_gguf(
        tmp_path / "m.gguf",
        arch="qwen2",
        chat_template=CHATML,
        tokens=chatml_vocab(),
        eos="<|im_end|>",
    )


def test_import_is_light(tmp_path: Path) -> None:
    assert run_isolated(None, tmp_path)["heavy"] == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["families"],
        ["chat", "--help"],
        ["check", "--help"],
        ["run-hf", "--help"],
        ["doctor", "--json"],
    ],
    ids=lambda a: " ".join(a),
)
def test_commands_do_not_import_heavy_modules(argv: list[str], tmp_path: Path) -> None:
    result = run_isolated(argv, tmp_path)
    assert result["code"] == 0
    heavy = result["heavy"]
    if argv == ["doctor", "--json"]:
        # doctor asks torch and llama.cpp what they see, when they are installed: never transformers
        assert "transformers" not in heavy and "langchain_huggingface" not in heavy  # type: ignore[operator]
    else:
        assert heavy == []


def test_inspect_and_modelfile_are_light(small_gguf: Path, tmp_path: Path) -> None:
    for argv in (
        ["inspect", str(small_gguf)],
        ["inspect", str(small_gguf), "--json"],
        ["modelfile", str(small_gguf)],
    ):
        result = run_isolated(argv, tmp_path)
        assert result["code"] == 0, argv
        assert result["heavy"] == [], argv


def test_heavy_detection_works(tmp_path: Path) -> None:
    """The probe itself must see a heavy import when one happens (else the tests above prove nothing)."""
    pytest.importorskip("torch")
    code = RUNNER.replace(
        "argv = json.loads(sys.argv[1])", "import torch\nargv = json.loads(sys.argv[1])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(None), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert '"heavy": ["torch"]' in proc.stdout
