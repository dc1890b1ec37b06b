"""Can the embedded llama.cpp generate on this host? Asked once in a child process, remembered.

llama-cpp-python is built from source with the build machine's CPU features (``GGML_NATIVE``),
and some hosts advertise features that do not work: on a VM that advertises AMX, llama.cpp's
AMX extra buffer type dies with SIGSEGV on its first tile instruction, and a wheel built on one
machine and cached can carry instructions another machine lacks (SIGILL). Such a crash kills
the whole Python process, with no message, so forge never risks it in its own process:

1. a child process loads the model and generates a few tokens with llama.cpp's extra buffer
   types on (AMX, CPU repacking: the fast path);
2. if the child dies by a signal, a second child tries with the extra buffer types off
   (``use_extra_bufts=False``, llama-server's ``--no-repack``);
3. the answer is remembered in ``$FORGE_HOME/llama-runtime.json``, keyed by the llama.cpp
   build, the CPU's advertised features and the model's tensor types (what picks the kernels),
   so each host pays for it once.

If neither child can generate, :func:`runtime_settings` raises a :class:`RuntimeBackendError`
that names the signal and the fix (a portable rebuild) instead of letting forge die.
``FORGE_LLAMA_EXTRA_BUFTS=0|1`` skips the probe and forces the choice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..config import forge_home
from ..errors import RuntimeBackendError
from ..gguf import read_gguf

CACHE_FILE = "llama-runtime.json"
PROBE_TIMEOUT = 180.0
PROBE_TOKENS = 4
#: long enough that prompt processing runs batched matrix kernels (where AMX/repack kernels live)
PROBE_PROMPT = " ".join(["The quick brown fox jumps over the lazy dog."] * 8)
REBUILD_HINT = (
    "Reinstall llama-cpp-python as a portable build: "
    "CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install --force-reinstall --no-cache-dir --no-deps "
    "llama-cpp-python=={version}. Or use Ollama instead of the embedded runtime (forge check --host ...)."
)

_MEMO: dict[str, RuntimeProbe] = {}


class ProbeAttempt(BaseModel):
    extra_buffer_types: bool
    ok: bool
    signal: str | None = Field(
        default=None, description="the signal that killed the child, e.g. SIGSEGV"
    )
    error: str | None = None
    tokens_per_second: float | None = None
    seconds: float


class RuntimeProbe(BaseModel):
    """What the child processes found for one (llama.cpp build, CPU, tensor types) key."""

    key: str
    usable: bool = Field(description="llama.cpp generated text here with one of the settings")
    extra_buffer_types: bool = Field(
        description="load with llama.cpp's extra buffer types (AMX, repack)"
    )
    llama_cpp_version: str | None
    model: str = Field(description="the GGUF the probe generated with")
    attempts: list[ProbeAttempt]
    cached: bool = False

    @property
    def failure(self) -> str:
        parts = [
            f"extra buffer types {'on' if a.extra_buffer_types else 'off'}: {a.signal or a.error}"
            for a in self.attempts
            if not a.ok
        ]
        return "; ".join(parts)


def _llama_cpp_identity() -> tuple[str | None, str]:
    """The installed llama-cpp-python version and a fingerprint of its native libraries."""
    import importlib.metadata
    import importlib.util

    try:
        version: str | None = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = None
    spec = importlib.util.find_spec("llama_cpp")
    parts: list[str] = []
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            lib = Path(folder) / "lib"
            for item in sorted(lib.glob("*")) if lib.is_dir() else []:
                with contextlib.suppress(OSError):
                    st = item.stat()
                    parts.append(f"{item.name}:{st.st_size}:{st.st_mtime_ns}")
    return version, "|".join(parts)


def _cpu_features() -> str:
    """The CPU's advertised feature flags (what llama.cpp's kernels are chosen by)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    import platform

    return f"{platform.machine()} {platform.processor()}"


def _tensor_types(gguf_path: Path) -> str:

    try:
        info = read_gguf(gguf_path)
    except Exception:  # an unreadable file is reported by the load itself
        return "unknown"
    types = getattr(info, "tensor_types", None)
    if isinstance(types, dict):
        return ",".join(sorted(str(t) for t in types))
    return str(getattr(info, "file_type", "unknown"))


def probe_key(gguf_path: Path, n_gpu_layers: int | None = None) -> str:
    version, libs = _llama_cpp_identity()
    raw = "\n".join(
        [str(version), libs, _cpu_features(), _tensor_types(gguf_path), str(n_gpu_layers)]
    )
    return hashlib.sha256(raw.encode("utf-8", errors="replace")).hexdigest()[:32]


def _cache_path() -> Path:

    return forge_home() / CACHE_FILE


def _load_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_cache(probe: RuntimeProbe) -> None:
    """Remember the answer (best effort: an unwritable FORGE_HOME only costs a re-probe)."""
    path = _cache_path()
    data = _load_cache()
    data[probe.key] = probe.model_dump(mode="json", exclude={"cached"})
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, path)


def _signal_name(returncode: int) -> str | None:
    if returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _attempt(
    gguf_path: Path, extra: bool, n_gpu_layers: int | None, timeout: float
) -> ProbeAttempt:
    cmd = [
        sys.executable,
        "-m",
        "ollama_forge.runners.llama_probe",
        str(gguf_path),
        "1" if extra else "0",
    ]
    if n_gpu_layers is not None:
        cmd.append(str(n_gpu_layers))
    started = time.perf_counter()
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return ProbeAttempt(
            extra_buffer_types=extra,
            ok=False,
            error=f"no answer within {timeout:.0f} s",
            seconds=round(time.perf_counter() - started, 3),
        )
    seconds = round(time.perf_counter() - started, 3)
    sig = _signal_name(done.returncode)
    if sig is not None:
        return ProbeAttempt(extra_buffer_types=extra, ok=False, signal=sig, seconds=seconds)
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return ProbeAttempt(
            extra_buffer_types=extra, ok=False, error=tail[0][:300], seconds=seconds
        )
    return ProbeAttempt(
        extra_buffer_types=extra,
        ok=bool(answer.get("ok")),
        error=answer.get("error"),
        tokens_per_second=answer.get("tokens_per_second"),
        seconds=seconds,
    )


def _forced() -> bool | None:
    value = os.environ.get("FORGE_LLAMA_EXTRA_BUFTS", "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return None


def probe_runtime(
    gguf_path: str | Path,
    *,
    n_gpu_layers: int | None = None,
    refresh: bool = False,
    timeout: float = PROBE_TIMEOUT,
) -> RuntimeProbe:
    """Find (or recall) how llama.cpp can generate with ``gguf_path`` on this host."""
    path = Path(gguf_path)
    key = probe_key(path, n_gpu_layers)
    if not refresh:
        if key in _MEMO:
            return _MEMO[key]
        stored = _load_cache().get(key)
        if isinstance(stored, dict):
            with contextlib.suppress(ValueError):
                probe = RuntimeProbe.model_validate({**stored, "cached": True})
                _MEMO[key] = probe
                return probe
    version, _ = _llama_cpp_identity()
    attempts = [_attempt(path, True, n_gpu_layers, timeout)]
    if not attempts[0].ok and attempts[0].signal is not None:
        # Only a native crash points at the extra buffer types; a load error would repeat.
        attempts.append(_attempt(path, False, n_gpu_layers, timeout))
    good = next((a for a in attempts if a.ok), None)
    probe = RuntimeProbe(
        key=key,
        usable=good is not None,
        extra_buffer_types=good.extra_buffer_types if good is not None else False,
        llama_cpp_version=version,
        model=str(path),
        attempts=attempts,
    )
    if probe.usable or any(a.signal for a in attempts):
        # Remember verdicts about the host; a plain load error is about the file, not the host.
        _save_cache(probe)
        _MEMO[key] = probe
    return probe


def runtime_settings(gguf_path: str | Path, *, n_gpu_layers: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``llama_cpp.Llama`` that are safe here, or a clear error."""
    forced = _forced()
    if forced is not None:
        return {"use_extra_bufts": forced}
    probe = probe_runtime(gguf_path, n_gpu_layers=n_gpu_layers)
    if probe.usable:
        return {"use_extra_bufts": probe.extra_buffer_types}
    crashed = [a for a in probe.attempts if a.signal]
    if not crashed:
        # The child could not load the file: the in-process load reports the real error.
        return {"use_extra_bufts": False}
    raise RuntimeBackendError(
        f"The embedded llama.cpp runtime crashes on this machine ({probe.failure}); "
        "forge did not run it in its own process",
        hint=REBUILD_HINT.format(version=probe.llama_cpp_version or "<version>"),
        signal=crashed[-1].signal,
        model=str(gguf_path),
    )


_LOAD_LOCK = threading.Lock()


def load_llama(llama_cpp: Any, kwargs: dict[str, Any], *, use_extra_bufts: bool) -> Any:
    """``llama_cpp.Llama(**kwargs)`` with llama.cpp's ``use_extra_bufts`` model parameter set.

    llama-cpp-python's ``Llama`` has no argument for it (an unknown keyword is silently
    ignored), so the low-level default model parameters it starts from are adjusted for the
    duration of the load, under a lock.
    """
    low = llama_cpp.llama_cpp
    with _LOAD_LOCK:
        original = low.llama_model_default_params

        def defaults() -> Any:
            params = original()
            params.use_extra_bufts = use_extra_bufts
            return params

        low.llama_model_default_params = defaults
        try:
            return llama_cpp.Llama(**kwargs)
        finally:
            low.llama_model_default_params = original


# --- the child process ----------------------------------------------------------------------


def _child(gguf_path: str, extra: bool, n_gpu_layers: int | None) -> dict[str, Any]:
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def _silent(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        return None

    llama_cpp.llama_log_set(_silent, ctypes.c_void_p(0))
    kwargs: dict[str, Any] = {
        "model_path": gguf_path,
        "n_ctx": 256,
        "n_batch": 128,
        "verbose": False,
    }
    if n_gpu_layers is not None:
        kwargs["n_gpu_layers"] = n_gpu_layers
    try:
        llm = load_llama(llama_cpp, kwargs, use_extra_bufts=extra)
    except (ValueError, RuntimeError, OSError) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    tokens = llm.tokenize(PROBE_PROMPT.encode(), add_bos=True, special=False)[:200]
    started = time.perf_counter()
    count = 0
    for _ in llm.generate(tokens, temp=0.0, top_k=1):
        count += 1
        if count >= PROBE_TOKENS:
            break
    seconds = time.perf_counter() - started
    llm.close()
    return {
        "ok": count > 0,
        "tokens_per_second": round(count / seconds, 2) if seconds > 0 else None,
    }


def _main(argv: list[str]) -> int:
    gguf_path, extra = argv[0], argv[1] == "1"
    n_gpu_layers = int(argv[2]) if len(argv) > 2 else None
    print(json.dumps(_child(gguf_path, extra, n_gpu_layers)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
