"""The built wheel works on its own: installed into a fresh venv, `forge --version` runs and the
family templates ship inside the package (not only in an editable checkout)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_into_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wheels = list(dist.glob("hf_ollama_forge-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as zf:
        names = zf.namelist()
    assert "ollama_forge/py.typed" in names
    shipped_templates = [
        n for n in names if n.startswith("ollama_forge/templates/") and n.endswith(".jinja")
    ]
    source_templates = sorted(p.name for p in (ROOT / "templates").glob("*.jinja"))
    assert sorted(Path(n).name for n in shipped_templates) == source_templates
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheels[0])],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    version = subprocess.run(
        [str(venv / "bin" / "forge"), "--version"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert version.stdout.startswith("forge, version ")
    # the same CLI under its unambiguous second name
    second = subprocess.run(
        [str(venv / "bin" / "hf-ollama-forge"), "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert second.returncode == 0 and second.stdout == version.stdout
    # The families load from the installed package, far from any checkout.
    families = subprocess.run(
        [str(venv / "bin" / "forge"), "families", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert families.returncode == 0, families.stderr
    assert '"llama3"' in families.stdout
