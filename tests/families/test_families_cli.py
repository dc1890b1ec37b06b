"""forge modelfile / forge families: files next to the model, stderr explanations, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from family_cases import DATA
from ggufs import write_gguf

from ollama_forge import cli as forge_cli
from ollama_forge.modelfile import read_modelfile


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        forge_cli.main(list(args))
    out = capsys.readouterr()
    return int(exit_info.value.code or 0), out.out, out.err


def model(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "llama2"
    return write_gguf(
        folder / "llama-2-7b-chat.Q4_K_M.gguf",
        name="Llama 2 7B Chat",
        chat_template=(DATA / "llama2.jinja").read_text(),
    )


def test_stdout_by_default_with_explanation_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gguf = model(tmp_path)
    code, out, err = run(capsys, "modelfile", str(gguf), "--max-ctx", "2048")
    assert code == 0
    assert out.startswith("# Modelfile written by ollama_forge") and f"FROM {gguf}" in out
    assert "PARAMETER num_ctx 2048" in out
    assert "family: llama2 (rule chat_template_signature" in err
    assert "verified against the GGUF's chat template" in err
    assert "num_ctx 2048" in err
    assert "TEMPLATE" not in err


def test_output_next_to_the_model_with_relative_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gguf = model(tmp_path)
    code, out, err = run(capsys, "modelfile", str(gguf), "-o")
    assert code == 0 and out == ""
    target = gguf.parent / "Modelfile"
    assert f"wrote {target}" in err.replace("\n", "")
    mf = read_modelfile(target)
    assert mf.from_ == ["./llama-2-7b-chat.Q4_K_M.gguf"]
    assert mf.local_from_problems() == []
    code, _, _ = run(capsys, "modelfile", str(gguf), "-o", str(tmp_path / "models"))
    assert code == 0
    assert read_modelfile(tmp_path / "models" / "Modelfile").from_ == [
        "./llama2/llama-2-7b-chat.Q4_K_M.gguf"
    ]
    assert not list(gguf.parent.glob(".Modelfile.*"))  # atomic write leaves no temp file


def test_options_reach_the_modelfile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gguf = model(tmp_path)
    system_file = tmp_path / "system.txt"
    system_file.write_text("Be brief.\n")
    code, out, _ = run(
        capsys,
        "modelfile",
        str(gguf),
        "--system",
        f"@{system_file}",
        "--param",
        "temperature=0.3",
        "--param",
        "stop=###",
        "--message",
        "user:Hi",
        "--message",
        "assistant:Hello!",
    )
    assert code == 0
    from ollama_forge.modelfile import parse_modelfile

    mf = parse_modelfile(out)
    assert mf.system == "Be brief."
    assert mf.parameters["temperature"] == pytest.approx(0.3) and mf.parameters["stop"][-1] == "###"
    assert [(m.role, m.content) for m in mf.messages] == [("user", "Hi"), ("assistant", "Hello!")]


def test_misuse_and_failures_exit_with_a_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gguf = model(tmp_path)
    code, _, err = run(capsys, "modelfile", str(gguf), "--param", "temperature")
    assert code == 2 and "NAME=VALUE" in err
    code, _, err = run(capsys, "modelfile", str(gguf), "--message", "robot:hi")
    assert code == 2 and "fix:" in err
    code, _, err = run(capsys, "modelfile", str(gguf), "--family", "nosuch")
    assert code == 1 and "Unknown model family" in err and "fix:" in err
    code, out, err = run(capsys, "modelfile", str(gguf), "--family", "chatml")
    assert code == 1 and out == "" and "--force" in err
    code, out, err = run(capsys, "modelfile", str(gguf), "--family", "chatml", "--force")
    assert code == 0 and "# template: UNVERIFIED (--force)" in out and "warning:" in err


def test_stored_model_with_o_records_the_modelfile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_forge.store import Store, StoredFile, StoredModel

    gguf = model(tmp_path)
    Store().put(
        StoredModel(name="llama2", files=[StoredFile(path=str(gguf), size=gguf.stat().st_size)])
    )
    code, _, _ = run(capsys, "modelfile", "llama2", "-o")
    assert code == 0
    assert Store().get("llama2").modelfile_path == str(gguf.parent / "Modelfile")


def test_families_listing_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "families", "--json")
    assert code == 0
    data = json.loads(out)
    names = [f["name"] for f in data]
    assert {"llama3.1", "qwen3", "gemma3", "plain"} <= set(names)
    qwen3 = next(f for f in data if f["name"] == "qwen3")
    assert qwen3["chat_template_sha256"] and qwen3["signatures"] and "body" not in qwen3
    code, out, _ = run(capsys, "families")
    assert code == 0 and "llama3.1" in out and "qwen3" in out


@pytest.mark.slow
def test_real_gemma_base_model(gemma_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real Gemma 3 270M GGUF has no chat template: plain template, visible warning."""
    code, out, err = run(capsys, "modelfile", str(gemma_path), "--mem", "64G")
    assert code == 0
    from ollama_forge.modelfile import parse_modelfile

    mf = parse_modelfile(out)
    assert mf.template == "{{ .Prompt }}"
    assert mf.parameters["stop"] == ["<eos>"]
    assert mf.parameters["num_ctx"] == 8192  # trained 32768, capped
    assert mf.from_ == [str(gemma_path)]
    assert "warning:" in err and "no chat template" in err and "--family gemma3" in err
    assert "# WARNING:" in out and "family: plain (rule no_chat_template" in out
