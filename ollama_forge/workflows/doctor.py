"""``forge doctor``: what this machine offers forge.

Devices torch sees (CUDA / MPS / CPU with versions; torch is imported only when it is
installed), which extras are installed (read from package metadata, nothing imported), whether
Ollama answers at OLLAMA_HOST and its version, the Hub token/offline state (the token itself is
never shown), free disk in the HF cache, models/ and forge's home, and free memory.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import sys
from pathlib import Path

from pydantic import BaseModel, Field

from .._version import __version__, install_hint
from ..config import forge_home, hf_endpoint, hf_home, hf_hub_cache, hf_offline, models_dir
from ..errors import ForgeError
from ..hub.reach import hub_reachable
from ..ollama.client import OllamaHTTP, resolve_host
from ..runners.devices import _mps_available, _mps_built, _native_bf16, resolve_device
from ..runners.llama_probe import probe_runtime

#: mirrors [project.optional-dependencies] in pyproject.toml (a test keeps them in sync)
EXTRAS: dict[str, list[str]] = {
    "hf": ["torch", "transformers", "langchain-huggingface", "tokenizers"],
    "llama": ["llama-cpp-python"],
}
OLLAMA_TIMEOUT = 3.0
HUB_TIMEOUT = 3.0


class TorchInfo(BaseModel):
    installed: bool
    version: str | None = None
    cuda_built: str | None = Field(
        default=None, description="torch.version.cuda (None: no CUDA build)"
    )
    cuda_available: bool = False
    cuda_devices: list[str] = Field(default_factory=list)
    cuda_bf16_native: bool | None = None
    mps_built: bool = False
    mps_available: bool = False
    best_device: str | None = None
    error: str | None = None


class ExtraInfo(BaseModel):
    name: str
    installed: bool
    packages: dict[str, str | None] = Field(
        description="package -> installed version (None: missing)"
    )


class LlamaCppInfo(BaseModel):
    installed: bool
    version: str | None = None
    gpu_offload: bool | None = None
    error: str | None = None
    can_generate: bool | None = Field(
        default=None,
        description="a child process generated text here (None: not tested, no model at hand)",
    )
    extra_buffer_types: bool | None = Field(
        default=None, description="llama.cpp's extra buffer types (AMX, repack) are usable here"
    )
    probe_model: str | None = Field(
        default=None, description="the GGUF the runtime probe generated with"
    )
    probe_error: str | None = None


class OllamaInfo(BaseModel):
    host: str
    reachable: bool
    version: str | None = None
    error: str | None = None


class HubInfo(BaseModel):
    endpoint: str
    token_set: bool
    token_source: str | None = None
    offline: bool
    cache_dir: str
    reachable: bool | None = Field(
        default=None, description="answered a HEAD request (None: not tried, offline)"
    )
    error: str | None = Field(default=None, description="why it is unreachable")


class DiskInfo(BaseModel):
    label: str
    path: str
    exists: bool
    measured_at: str | None = Field(
        default=None, description="the existing folder actually measured"
    )
    free_bytes: int | None = None
    total_bytes: int | None = None


class MemoryInfo(BaseModel):
    total_bytes: int
    available_bytes: int


class DoctorReport(BaseModel):
    forge_version: str
    python: str
    platform: str
    torch: TorchInfo
    llama_cpp: LlamaCppInfo
    extras: list[ExtraInfo]
    ollama: OllamaInfo
    hub: HubInfo
    disks: list[DiskInfo]
    memory: MemoryInfo
    notes: list[str] = Field(default_factory=list)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def extras_info() -> list[ExtraInfo]:
    out = []
    for name, packages in EXTRAS.items():
        versions = {pkg: _version(pkg) for pkg in packages}
        out.append(
            ExtraInfo(
                name=name,
                installed=all(v is not None for v in versions.values()),
                packages=versions,
            )
        )
    return out


def torch_info() -> TorchInfo:
    """What torch sees; torch is imported only if it is installed."""
    if importlib.util.find_spec("torch") is None:
        return TorchInfo(installed=False)
    try:
        import torch
    except Exception as exc:  # a broken install is worth reporting, not crashing on
        return TorchInfo(installed=True, error=f"{type(exc).__name__}: {exc}")

    info = TorchInfo(
        installed=True,
        version=str(torch.__version__),
        cuda_built=getattr(torch.version, "cuda", None),
        mps_built=_mps_built(torch),
        mps_available=_mps_available(torch),
    )
    try:
        info.cuda_available = bool(torch.cuda.is_available())
        if info.cuda_available:
            info.cuda_devices = [
                f"cuda:{i} {torch.cuda.get_device_name(i)}"
                for i in range(int(torch.cuda.device_count()))
            ]
            info.cuda_bf16_native = _native_bf16(torch)
        info.best_device = resolve_device("auto", torch)
    except Exception as exc:
        info.error = f"{type(exc).__name__}: {exc}"
    return info


def _probe_model() -> Path | None:
    """A GGUF at hand to test the runtime with: a model of the demo, else one forge pulled."""

    for folder in (models_dir() / "smollm2-135m", models_dir() / "gemma-3-270m"):
        found = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
        if found:
            return found[0]
    try:
        from ..store import Store

        for model in Store().load().models.values():
            if model.model_files:
                path = model.entry_path
                if path.suffix == ".gguf" and path.is_file():
                    return path
    except Exception:  # a damaged store is reported by the commands that use it
        return None
    return None


def llama_cpp_info(probe_model: str | Path | None = None) -> LlamaCppInfo:
    """The embedded runtime: installed, and able to generate here (probed in a child process)."""
    version = _version("llama-cpp-python")
    if version is None:
        return LlamaCppInfo(installed=False)
    info = LlamaCppInfo(installed=True, version=version)
    try:
        import llama_cpp

        info.gpu_offload = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception as exc:
        info.error = f"{type(exc).__name__}: {exc}"
        return info
    model = Path(probe_model) if probe_model is not None else _probe_model()
    if model is None:
        return info

    probe = probe_runtime(model)
    info.probe_model = str(model)
    info.can_generate = probe.usable
    info.extra_buffer_types = probe.extra_buffer_types if probe.usable else None
    if probe.failure:
        info.probe_error = probe.failure
    return info


def ollama_info(host: str | None = None) -> OllamaInfo:

    where = resolve_host(host)
    try:
        with OllamaHTTP(where, timeout=OLLAMA_TIMEOUT) as http:
            return OllamaInfo(host=where, reachable=True, version=http.version())
    except ForgeError as exc:
        return OllamaInfo(host=where, reachable=False, error=exc.message)


def hub_info(*, probe: bool = False) -> HubInfo:
    """The Hub settings; with ``probe`` (and not offline) one HEAD request says whether it answers."""

    source = None
    if os.environ.get("HF_TOKEN"):
        source = "HF_TOKEN"
    elif os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        source = "HUGGING_FACE_HUB_TOKEN"
    else:
        token_file = Path(os.environ.get("HF_TOKEN_PATH") or hf_home() / "token")
        try:
            if token_file.is_file() and token_file.read_text(encoding="utf-8").strip():
                source = f"file {token_file}"
        except OSError:
            pass
    info = HubInfo(
        endpoint=hf_endpoint(),
        token_set=source is not None,
        token_source=source,
        offline=hf_offline(),
        cache_dir=str(hf_hub_cache()),
    )
    if probe and not info.offline:
        info.error = hub_reachable(info.endpoint, HUB_TIMEOUT)
        info.reachable = info.error is None
    return info


def disk_info(label: str, path: Path) -> DiskInfo:
    """Free space where ``path`` lives (measured at its nearest existing parent)."""
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return DiskInfo(label=label, path=str(path), exists=path.exists())
    return DiskInfo(
        label=label,
        path=str(path),
        exists=path.exists(),
        measured_at=str(probe),
        free_bytes=usage.free,
        total_bytes=usage.total,
    )


def memory_info() -> MemoryInfo:
    import psutil

    vm = psutil.virtual_memory()
    return MemoryInfo(total_bytes=int(vm.total), available_bytes=int(vm.available))


def doctor(host: str | None = None, *, probe_model: str | Path | None = None) -> DoctorReport:
    """Collect the report (never raises for an absent extra or an unreachable server).

    A malformed ``host``/``OLLAMA_HOST``/``HF_ENDPOINT`` is a usage error (ConfigError), raised
    before anything is probed. ``probe_model`` is the GGUF the embedded runtime is tested with
    (default: a demo model or a pulled model, if any).
    """

    resolve_host(host)
    hf_endpoint()
    torch = torch_info()
    llama = llama_cpp_info(probe_model)
    extras = extras_info()
    ollama = ollama_info(host)
    hub = hub_info(probe=True)
    notes: list[str] = []
    by_name = {e.name: e for e in extras}
    if not by_name["hf"].installed:
        notes.append(f"[hf] extra missing: forge run-hf / hf_pipeline need {install_hint('hf')}")
    if not by_name["llama"].installed:
        notes.append(
            f"[llama] extra missing: forge chat / check without Ollama need {install_hint('llama')}"
        )
    if llama.can_generate is False:
        notes.append(
            f"the embedded llama.cpp runtime cannot generate here ({llama.probe_error}): reinstall it "
            "with CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install --force-reinstall --no-cache-dir --no-deps "
            f"llama-cpp-python=={llama.version}"
        )
    elif llama.can_generate is None and llama.installed and llama.error is None:
        notes.append(
            "the embedded runtime was not tested (no GGUF at hand): forge doctor --probe-model FILE.gguf"
        )
    if not ollama.reachable:
        notes.append(
            f"Ollama is not reachable at {ollama.host}: start `ollama serve` or set OLLAMA_HOST"
        )
    if torch.installed and torch.best_device == "cpu":
        notes.append(
            "torch sees no GPU: transformers models run on the CPU (slow for large models)"
        )
    if hub.offline:
        notes.append("HF_HUB_OFFLINE is set: only cached Hub files are available")
    elif hub.reachable is False:
        notes.append(
            f"the Hub is not reachable at {hub.endpoint} ({hub.error}): check the network, a proxy "
            "(HTTPS_PROXY) or HF_ENDPOINT; only cached Hub files are available"
        )
    return DoctorReport(
        forge_version=__version__,
        python=sys.version.split()[0],
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        torch=torch,
        llama_cpp=llama,
        extras=extras,
        ollama=ollama,
        hub=hub,
        disks=[
            disk_info("HF cache", hf_hub_cache()),
            disk_info("models dir", models_dir()),
            disk_info("forge home", forge_home()),
        ],
        memory=memory_info(),
        notes=notes,
    )
