"""``forge register --cli``: run ``ollama create NAME -f Modelfile`` and stream its output.

The Modelfile is written to a temporary folder with absolute FROM/ADAPTER paths, so Ollama's
CLI resolves the same files forge would upload. ``OLLAMA_HOST`` is set to the chosen host.
The registration is recorded only when the command exits 0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OllamaError, OllamaResponseError

if TYPE_CHECKING:
    from ..modelfile import Modelfile
    from ..store import Store
    from ..workflows.register import RegisterResult, Reporter
    from ..workflows.register_sources import LocalFiles, ResolvedSource


def find_ollama() -> str:
    exe = shutil.which("ollama")
    if exe is None:
        raise OllamaError(
            "--cli needs the `ollama` command, but it is not on PATH",
            hint="Install Ollama (https://ollama.com/download) or drop --cli: forge registers through the HTTP API.",
        )
    return exe


def create_with_cli(
    name: str,
    host: str,
    resolved: ResolvedSource,
    mf: Modelfile,
    found: LocalFiles,
    store: Store,
    report: Reporter,
    *,
    dry_run: bool = False,
) -> RegisterResult:
    from ..store import Registration
    from ..workflows.register import PlannedRequest, RegisterResult, _absolute_modelfile
    from .versions import decide_template

    exe = find_ollama()
    text = _absolute_modelfile(mf, found)
    decision = decide_template(None, go_template=mf.template or None, chat_template=None)
    decision.explanation = "ollama create decides the template itself (forge did not query the server)."
    result = RegisterResult(name=name, host=host, source=resolved.description, store_name=resolved.store_name,
                            dry_run=dry_run, via="cli", template=decision, modelfile=text)
    with tempfile.TemporaryDirectory(prefix="forge-create-") as tmp:
        path = Path(tmp) / "Modelfile"
        path.write_text(text, encoding="utf-8")
        argv = [exe, "create", name, "-f", str(path)]
        if dry_run:
            result.requests.append(PlannedRequest(method="EXEC", url=" ".join([*argv[:-1], "<Modelfile>"]),
                                                  body=text, note=f"OLLAMA_HOST={host}"))
            return result
        env = dict(os.environ, OLLAMA_HOST=host)
        tail = _run(argv, env, report)
    result.statuses = tail
    store_name = resolved.store_name or name.split("/")[-1].split(":")[0]
    store.add_registration(store_name, Registration(
        ollama_name=name, host=host, source=resolved.description, modelfile=text,
        template_source=resolved.template_source,
    ))
    result.store_name = store_name
    return result


def _run(argv: list[str], env: dict[str, str], report: Reporter) -> list[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    lines: list[str] = []
    buffer = b""
    try:
        while True:
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(4096)
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
