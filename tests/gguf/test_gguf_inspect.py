"""forge.inspect() and the `forge inspect` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ggufs import chatml_vocab, write_gguf, write_projector, write_split_gguf

from ollama_forge.cli import cli
from ollama_forge.errors import NotGGUFError, SplitError, UsageError
from ollama_forge.store import Store, StoredFile, StoredModel
from ollama_forge.workflows.inspect import InspectReport, build_report, inspect

TEMPLATE = "{% for message in messages %}\n<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}"


def model_file(tmp_path: Path, filename: str = "qwen-q4_k_m.gguf", **kw: Any) -> Path:
    return write_gguf(
        tmp_path / filename,
        arch="qwen2",
        tokens=chatml_vocab(),
        eos="<|im_end|>",
        chat_template=TEMPLATE,
        **kw,
    )


def test_inspect_local_file(tmp_path: Path) -> None:
    report = inspect(model_file(tmp_path), ctx=1024)
    assert isinstance(report, InspectReport)
    assert report.info.architecture == "qwen2" and report.info.quant == "Q4_K_M"
    assert report.info.quant_from_filename == "Q4_K_M"
    assert report.memory.ctx == 1024
    assert report.memory.kv_bytes == 2 * (64 * 2 * 2) * 2 * 1024
    assert report.memory.weights_bytes == report.info.tensor_bytes
    assert report.remote is None and report.warnings == []


def test_inspect_warns_on_label_disagreement(tmp_path: Path) -> None:
    report = inspect(model_file(tmp_path, "model-Q8_0.gguf"))
    assert any("Q8_0" in w and "Q4_K_M" in w for w in report.warnings)


def test_inspect_directory_and_projector(tmp_path: Path) -> None:
    folder = tmp_path / "llava"
    model_file(folder, "model-Q4_K_M.gguf")
    write_projector(folder / "mmproj-model-f16.gguf")
    report = inspect(folder)
    assert report.info.path.endswith("model-Q4_K_M.gguf")
    assert report.projector is not None and report.projector.is_projector
    model_file(folder, "other-Q8_0.gguf")
    with pytest.raises(UsageError, match="several GGUF models"):
        inspect(folder)


def test_inspect_stored_name(tmp_path: Path) -> None:
    path = model_file(tmp_path)
    with Store().transaction() as data:
        data.models["qwen"] = StoredModel(
            name="qwen", files=[StoredFile(path=str(path), size=path.stat().st_size)]
        )
    report = inspect("qwen")
    assert report.target == "qwen" and report.info.path == str(path)


def test_inspect_hub_ref_delegates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import ollama_forge.workflows.inspect as remote

    path = model_file(tmp_path)
    seen: dict[str, Any] = {}

    def fake(ref: str, ctx: int | None = None, cache_type: str = "f16") -> InspectReport:
        seen.update(ref=ref, ctx=ctx, cache_type=cache_type)
        return build_report(inspect(path).info, ctx, target=ref, remote={"repo": "owner/repo"})

    monkeypatch.setattr(remote, "inspect_remote", fake)
    report = inspect("owner/repo:Q4_K_M", ctx=512, cache_type="q8_0")
    assert seen == {"ref": "owner/repo:Q4_K_M", "ctx": 512, "cache_type": "q8_0"}
    assert report.remote == {"repo": "owner/repo"} and report.memory.ctx == 512


def test_inspect_unknown_target() -> None:
    from ollama_forge.errors import NotFoundError

    with pytest.raises(NotFoundError, match="'no-such-model' not found") as err:
        inspect("no-such-model")
    assert err.value.hint


def test_inspect_split(tmp_path: Path) -> None:
    shards = write_split_gguf(tmp_path, "big", shards=3)
    report = inspect(shards[0])
    assert report.shards == [p.name for p in shards]
    assert report.memory.weights_bytes == 3 * 288
    assert report.info.split is not None and report.info.split.count == 3
    with pytest.raises(SplitError, match="not the first shard"):
        inspect(shards[1])
    shards[2].unlink()
    report = inspect(shards[0])
    assert any("missing shard 3" in w for w in report.warnings)


def test_cli_json(tmp_path: Path) -> None:
    path = model_file(tmp_path)
    result = CliRunner().invoke(cli, ["inspect", str(path), "--json", "--ctx", "2048"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["info"]["architecture"] == "qwen2"
    assert data["info"]["special_tokens"]["eos"] == {"id": 33, "text": "<|im_end|>", "type": 3}
    assert data["memory"]["ctx"] == 2048
    assert set(data) >= {
        "target",
        "info",
        "memory",
        "family",
        "family_rule",
        "warnings",
        "remote",
        "shards",
        "projector",
    }


def test_cli_human_summary_escapes_terminal_injection(tmp_path: Path) -> None:
    path = model_file(
        tmp_path, extra_kv={"general.license": "MIT\x1b]0;pwned\x07"}, name="Evil\x1b[2J[bold]Name"
    )
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[2J" not in out and "\x07" not in out
    assert "\\x1b[2J[bold]Name" in out  # escaped, and the rich markup was not interpreted
    assert "Chat template" in out and "<|im_start|>" in out and "Q4_K_M" in out


def test_cli_not_gguf_error_message(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n")
    with pytest.raises(NotGGUFError):
        inspect(bad)
    proc = subprocess.run(
        [sys.executable, "-m", "ollama_forge", "inspect", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "Git-LFS" in proc.stderr and "fix:" in proc.stderr and proc.stdout == ""


def test_cli_startup_is_light(tmp_path: Path) -> None:
    path = model_file(tmp_path)
    code = (
        "import sys, io, contextlib\n"
        "from ollama_forge.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        main(['inspect', {str(path)!r}, '--json'])\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'langchain', 'langchain_core', 'huggingface_hub', 'ollama', 'httpx', 'numpy'})\n"
        "print(heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"  # small vocabularies do not even need numpy
