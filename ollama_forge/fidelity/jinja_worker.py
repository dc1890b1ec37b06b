"""The subprocess that renders chat templates for :mod:`ollama_forge.fidelity.jinja`.

A thread cannot be stopped and ``sys.settrace`` slows every render, so untrusted templates
render in a persistent child process: length-prefixed JSON requests on its stdin, answers on
its stdout, an address-space limit, and a parent that kills it when a render overruns its
time. The worker stays alive between renders (one start per session); after a kill or a
crash a fresh one starts on the next request.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ChatTemplateError
from .jinja_env import MAX_OUTPUT_CHARS, make_environment, raised_class

WORKER_MEMORY_BYTES = 1536 * 1024 * 1024


def _render_in_worker(
    request: dict[str, Any], cache: dict[tuple[str, bool], Any]
) -> dict[str, Any]:
    import jinja2

    raised_cls = raised_class()
    template_text: str = request["template"]
    date_marker = bool(request.get("date_marker"))
    key = (template_text, date_marker)
    try:
        compiled = cache.get(key)
        if compiled is None:
            if len(cache) > 64:
                cache.clear()
            compiled = make_environment(date_marker=date_marker).from_string(template_text)
            cache[key] = compiled
        context = dict(request.get("kwargs") or {})
        context.update(
            messages=request["messages"],
            tools=request.get("tools"),
            documents=request.get("documents"),
            add_generation_prompt=bool(request.get("add_generation_prompt")),
        )
        limit = int(request.get("max_output", MAX_OUTPUT_CHARS))
        parts: list[str] = []
        size = 0
        for chunk in compiled.generate(**context):
            size += len(chunk)
            if size > limit:
                return {
                    "ok": False,
                    "kind": "OutputLimit",
                    "message": f"the chat template's output exceeded {limit} characters",
                }
            parts.append(chunk)
        return {"ok": True, "text": "".join(parts)}
    except raised_cls as exc:
        return {
            "ok": False,
            "kind": "raise_exception",
            "message": str(getattr(exc, "message", "") or ""),
        }
    except jinja2.exceptions.TemplateSyntaxError as exc:
        return {
            "ok": False,
            "kind": "TemplateSyntaxError",
            "message": f"{exc.message} (line {exc.lineno})",
        }
    except jinja2.exceptions.SecurityError as exc:
        return {"ok": False, "kind": "SecurityError", "message": str(exc)}
    except jinja2.exceptions.UndefinedError as exc:
        return {"ok": False, "kind": "UndefinedError", "message": str(exc)}
    except jinja2.exceptions.TemplateError as exc:
        return {"ok": False, "kind": "TemplateError", "message": str(exc)}
    except MemoryError:
        return {
            "ok": False,
            "kind": "MemoryError",
            "message": "the chat template exhausted the render memory limit",
        }
    except RecursionError:
        return {
            "ok": False,
            "kind": "RecursionError",
            "message": "the chat template recursed too deeply",
        }
    except Exception as exc:
        return {"ok": False, "kind": type(exc).__name__, "message": str(exc)}


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack(">I", header)
    data = stream.read(length)
    return data if len(data) == length else None


def _write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(struct.pack(">I", len(payload)) + payload)
    stream.flush()


def _worker_main() -> None:
    """Entry point of the render subprocess: length-prefixed JSON requests on stdin."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (
        ImportError,
        ValueError,
        OSError,
    ):  # not on this OS, or a lower hard limit: keep the timeout guard
        pass
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the real stdout
    cache: dict[tuple[str, bool], Any] = {}
    while True:
        frame = _read_frame(stdin)
        if frame is None:
            return
        cpu = time.process_time()
        try:
            answer = _render_in_worker(json.loads(frame), cache)
        except MemoryError:
            answer = {
                "ok": False,
                "kind": "MemoryError",
                "message": "the chat template exhausted the render memory limit",
            }
        answer["cpu"] = (
            time.process_time() - cpu
        )  # what the render cost, whatever the machine's load
        _write_frame(
            stdout, json.dumps(answer, ensure_ascii=False).encode("utf-8", "surrogatepass")
        )


class _Worker:
    """One persistent render subprocess with a reader thread (so reads can time out)."""

    def __init__(self) -> None:
        package_parent = str(
            Path(__file__).resolve().parents[2]
        )  # the folder holding ollama_forge/
        boot = (
            "import sys; sys.path.insert(0, " + repr(package_parent) + "); "
            "from ollama_forge.fidelity.jinja_worker import _worker_main; _worker_main()"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.proc = subprocess.Popen(
            [sys.executable, "-s", "-c", boot],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.owner_pid = os.getpid()  # a forked child must not share this worker's pipes
        self.answers: queue.Queue[bytes | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _read_loop(self) -> None:
        assert self.proc.stdout is not None
        while True:
            frame = _read_frame(self.proc.stdout)  # type: ignore[arg-type]
            self.answers.put(frame)
            if frame is None:
                return

    def request(self, payload: bytes, timeout: float) -> bytes | None:
        assert self.proc.stdin is not None
        _write_frame(self.proc.stdin, payload)  # type: ignore[arg-type]
        return self.answers.get(timeout=timeout)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass


_LOCK = threading.Lock()
_WORKER: _Worker | None = None


def _shutdown_worker() -> None:
    global _WORKER
    if _WORKER is not None:
        _WORKER.kill()
        _WORKER = None


atexit.register(_shutdown_worker)


def _exchange(request: dict[str, Any], timeout: float) -> dict[str, Any]:
    global _WORKER
    payload = json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass")
    with _LOCK:
        for attempt in (1, 2):
            if (
                _WORKER is None
                or _WORKER.owner_pid != os.getpid()
                or _WORKER.proc.poll() is not None
            ):
                _WORKER = _Worker()
            try:
                frame = _WORKER.request(payload, timeout)
            except queue.Empty:
                _shutdown_worker()
                raise ChatTemplateError(
                    f"the chat template did not finish rendering within {timeout:g} s",
                    hint="the template loops without bound (a CPU denial of service); do not use this GGUF's template",
                    kind="Timeout",
                ) from None
            except (BrokenPipeError, OSError):
                frame = None
            if frame is not None:
                answer: dict[str, Any] = json.loads(frame)
                return answer
            # The worker died (memory limit hit at the OS level, or killed): one fresh retry.
            _shutdown_worker()
            if attempt == 2:
                raise ChatTemplateError(
                    "the chat template render process died (memory limit or crash)",
                    hint="the template allocates without bound; do not use this GGUF's template",
                    kind="WorkerDied",
                )
    raise AssertionError("unreachable")


if __name__ == "__main__":
    _worker_main()
