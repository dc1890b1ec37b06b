"""``forge register --cli``: run ``ollama create NAME -f Modelfile`` and stream its output.

The Modelfile (written by :mod:`ollama_forge.workflows.register` with absolute FROM/ADAPTER
paths, so Ollama's CLI resolves the same files forge would upload) goes to a temporary folder;
``OLLAMA_HOST`` is set to the chosen host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import OllamaError, OllamaResponseError

#: ``report(event, data)``: how registration reports its steps (the CLI shows them with -v)
Reporter = Callable[[str, dict[str, Any]], None]


def find_ollama() -> str:
    exe = shutil.which("ollama")
    if exe is None:
        raise OllamaError(
            "--cli needs the `ollama` command, but it is not on PATH",
            hint="Install Ollama (https://ollama.com/download) or drop --cli: forge registers through the HTTP API.",
        )
    return exe


def ollama_create_argv(exe: str, name: str, modelfile: str) -> list[str]:
    return [exe, "create", name, "-f", modelfile]


def run_ollama_create(exe: str, name: str, host: str, text: str, report: Reporter) -> list[str]:
    """Run ``ollama create`` on the Modelfile ``text``; the last lines of its output."""
    with tempfile.TemporaryDirectory(prefix="forge-create-") as tmp:
        path = Path(tmp) / "Modelfile"
        path.write_text(text, encoding="utf-8")
        env = dict(os.environ, OLLAMA_HOST=host)
        return _run(ollama_create_argv(exe, name, str(path)), env, report)


def _run(argv: list[str], env: dict[str, str], report: Reporter) -> list[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    lines: list[str] = []
    buffer = b""
    try:
        while True:
            chunk = (
                proc.stdout.read1(65536)
                if hasattr(proc.stdout, "read1")
                else proc.stdout.read(4096)
            )
            if not chunk:
                break
            sys.stderr.buffer.write(chunk)
            sys.stderr.flush()
            buffer += chunk
            *done, buffer = buffer.replace(b"\r", b"\n").split(b"\n")
            lines += [d.decode("utf-8", "replace").strip() for d in done if d.strip()]
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if buffer.strip():
        lines.append(buffer.decode("utf-8", "replace").strip())
    report("cli_exit", {"code": code})
    if code != 0:
        last: Any = lines[-1] if lines else f"exit status {code}"
        raise OllamaResponseError(
            f"`ollama create` failed (exit {code}): {last}",
            hint="The model was not registered; the output above has Ollama's message.",
            status=code,
        )
    return lines[-20:]
