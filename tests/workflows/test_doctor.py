"""forge doctor: devices, extras, Ollama, Hub, disk and memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ollama_forge.workflows.doctor import EXTRAS, doctor, hub_info

ROOT = Path(__file__).resolve().parents[2]


def test_extras_mirror_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = data["project"]["optional-dependencies"]
    for extra, packages in EXTRAS.items():
        names = [
            req.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip()
            for req in declared[extra]
        ]
        assert names == packages, extra
    assert "torch==2.13.0" in declared["hf"]


def test_report_offline_ollama(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    report = doctor()
    assert report.ollama.reachable is False and report.ollama.error
    assert any("Ollama is not reachable" in note for note in report.notes)
    assert report.hub.token_set and report.hub.token_source == "HF_TOKEN" and report.hub.offline
    assert "hf_secret_value" not in report.model_dump_json()
    labels = [d.label for d in report.disks]
    assert labels == ["HF cache", "models dir", "forge home"]
    for disk in report.disks:
        assert disk.free_bytes is not None and disk.free_bytes > 0 and disk.measured_at
    assert 0 < report.memory.available_bytes <= report.memory.total_bytes
    if report.torch.installed:
        assert report.torch.version
        assert report.torch.best_device in ("cpu", "mps") or str(
            report.torch.best_device
        ).startswith("cuda:")


def test_token_file_is_detected(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hf_home = tmp_path / "hfhome"
    hf_home.mkdir()
    (hf_home / "token").write_text("hf_abc\n")
    monkeypatch.setenv("HF_HOME", str(hf_home))
    info = hub_info()
    assert info.token_set and info.token_source == f"file {hf_home / 'token'}"
    assert info.cache_dir == str(hf_home / "hub")


def test_ollama_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    from servers.ollama_server import OllamaServer

    with OllamaServer(version="0.33.1") as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        report = doctor()
    assert report.ollama.reachable and report.ollama.version == "0.33.1"
    assert report.ollama.host == server.url


def test_torch_sees_mps_or_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    report = doctor()
    assert report.torch.mps_available and report.torch.best_device == "mps"


def test_cli_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    from ollama_forge.cli import main

    with pytest.raises(SystemExit) as info:
        main(["doctor", "--json"])
    assert info.value.code == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert {"torch", "extras", "ollama", "hub", "disks", "memory"} <= set(data)
    with pytest.raises(SystemExit):
        main(["doctor"])
    out = capsys.readouterr().out
    assert "[hf] extra" in out and "[llama] extra" in out and "memory" in out


def test_without_torch_installed_doctor_does_not_import_it(tmp_path: Path) -> None:
    """A Python where torch cannot be found: the report says so and torch is never imported."""
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'transformers', 'llama_cpp'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n"
        "import importlib.util\n"
        "_orig = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n.split('.')[0] in ('torch',) else _orig(n, *a)\n"
        "from ollama_forge.workflows.doctor import torch_info\n"
        "info = torch_info()\n"
        "print(info.installed, 'torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.split() == ["False", "False"]
