"""A real ``forge pull-gguf`` child process is SIGKILLed mid-file; the rerun resumes with Range."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ggufs import big_gguf
from servers.hub_server import HubServer

from ollama_forge import config
from ollama_forge.store import Store

pytestmark = pytest.mark.slow


def _forge(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ollama_forge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_killed_pull_resumes_with_range(hub: HubServer, tmp_path: Path) -> None:
    src = big_gguf(tmp_path / "k.gguf", megabytes=16)
    data = src.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    hub.add_repo("org/kill-GGUF", {"k-Q8_0.gguf": src})
    hub.throttle_bps = 3 * 1024 * 1024  # ~5 s for the file: the kill lands mid-file
    partial = config.hf_hub_cache() / "models--org--kill-GGUF" / "blobs" / f"{digest}.forge-partial"

    child = _forge("pull-gguf", "org/kill-GGUF", "--json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if partial.exists() and partial.stat().st_size >= 2 * 1024 * 1024:
            break
        assert child.poll() is None, child.communicate()
        time.sleep(0.02)
    else:
        child.kill()
        pytest.fail("the download never started")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    kept = partial.stat().st_size
    assert 0 < kept < len(data)
    assert not (partial.parent / digest).exists()
    first_get = hub.file_gets()[0]
    assert "range" not in first_get.headers

    hub.throttle_bps = None
    hub.clear()
    rerun = _forge("pull-gguf", "org/kill-GGUF", "--json")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    result = json.loads(out)

    (get,) = hub.file_gets()
    assert get.headers["range"] == f"bytes={kept}-" and get.status == 206
    assert get.body_bytes == len(data) - kept < len(data)
    assert result["files"][0]["resumed_from"] == kept
    assert result["files"][0]["downloaded_bytes"] == len(data) - kept
    assert result["files"][0]["sha256"] == digest
    assert Path(result["entry_path"]).read_bytes() == data
    assert not partial.exists()
    assert Store().trusted_sha256(result["entry_path"]) == digest
