"""torch device and dtype selection for the transformers runner.

``"auto"`` picks CUDA, then MPS, then CPU. ``dtype="auto"`` picks bfloat16 on CUDA only when the
GPU supports it natively (``torch.cuda.is_bf16_supported(including_emulation=False)``; the default
``including_emulation=True`` says yes on pre-Ampere cards where bf16 is only emulated), else
float16; float16 on MPS; float32 on CPU. A requested device that this machine cannot use fails
before any model is loaded, naming what is available.

Every answer comes from torch itself (``torch.cuda.is_available``, ``torch.backends.mps``,
``torch.cuda.is_bf16_supported``), asked at call time.
"""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel

from .._version import install_hint
from ..errors import DeviceError, MissingExtraError

HF_HINT = f"Install the transformers runner: {install_hint('hf')}"
DEVICE_NAMES = ("auto", "cuda", "mps", "cpu")
DTYPE_ALIASES = {
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
_CUDA_RE = re.compile(r"^cuda(?::(\d+))?$")


class DeviceChoice(BaseModel):
    """The device and dtype a pipeline will use, and why."""

    device: str  # "cuda:0", "mps", "cpu"
    dtype: str  # "bfloat16", "float16", "float32"
    requested_device: str
    requested_dtype: str
    available: list[str]
    warnings: list[str] = []


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingExtraError(
            f"torch is not installed ({exc})", hint=HF_HINT, extra="hf"
        ) from exc
    return torch


def _mps_built(torch: Any) -> bool:
    backend = getattr(getattr(torch, "backends", None), "mps", None)
    return bool(backend is not None and backend.is_built())


def _mps_available(torch: Any) -> bool:
    backend = getattr(getattr(torch, "backends", None), "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices(torch: Any | None = None) -> list[str]:
    """Devices torch can use now, best first: ``cuda:N``..., ``mps``, ``cpu``."""
    torch = torch or import_torch()
    out: list[str] = []
    if torch.cuda.is_available():
        out.extend(f"cuda:{i}" for i in range(max(1, int(torch.cuda.device_count()))))
    if _mps_available(torch):
        out.append("mps")
    out.append("cpu")
    return out


def _unavailable(torch: Any, kind: str, requested: str, available: list[str]) -> DeviceError:
    listing = ", ".join(available)
    if kind == "cuda":
        if (
            getattr(torch.version, "cuda", None) is None
            and getattr(torch.version, "hip", None) is None
        ):
            why = f"this torch build ({torch.__version__}) has no CUDA"
            hint = "Install a CUDA build of torch (https://pytorch.org/get-started/locally/) or use --device cpu."
        else:
            why = "torch.cuda.is_available() is False (no GPU visible or the driver is missing)"
            hint = "Check nvidia-smi and CUDA_VISIBLE_DEVICES, or use --device auto/cpu."
    else:
        if not _mps_built(torch):
            why = "this torch build has no MPS"
            hint = "MPS needs torch for macOS on Apple silicon; use --device auto or cpu."
        else:
            why = "torch.backends.mps.is_available() is False (needs macOS 12.3+ on Apple silicon)"
            hint = "Use --device auto or cpu."
    return DeviceError(
        f"{requested} requested but {why}; available: {listing}",
        hint=hint,
        requested=requested,
        available=available,
    )


def resolve_device(device: str = "auto", torch: Any | None = None) -> str:
    """``auto|cuda|cuda:N|mps|cpu`` -> a usable device string, or :class:`DeviceError`."""
    torch = torch or import_torch()
    value = (device or "auto").strip().lower()
    available = available_devices(torch)
    if value == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        if _mps_available(torch):
            return "mps"
        return "cpu"
    if value == "cpu":
        return "cpu"
    if value == "mps":
        if not _mps_available(torch):
            raise _unavailable(torch, "mps", value, available)
        return "mps"
    match = _CUDA_RE.match(value)
    if match:
        if not torch.cuda.is_available():
            raise _unavailable(torch, "cuda", value, available)
        index = int(match.group(1) or 0)
        count = int(torch.cuda.device_count())
        if index >= count:
            raise DeviceError(
                f"{value} requested but torch sees {count} CUDA device(s); available: {', '.join(available)}",
                hint="Pick an index below the device count, or check CUDA_VISIBLE_DEVICES.",
                requested=value,
                available=available,
            )
        return f"cuda:{index}"
    raise DeviceError(
        f"Unknown device {device!r}; available: {', '.join(available)}",
        hint="Use auto, cuda, cuda:N, mps or cpu.",
        requested=device,
        available=available,
    )


def resolve_dtype(
    device: str, dtype: str = "auto", torch: Any | None = None
) -> tuple[str, list[str]]:
    """The dtype name for ``device`` (``auto`` rule above) plus warnings about slow choices."""
    torch = torch or import_torch()
    key = DTYPE_ALIASES.get((dtype or "auto").strip().lower())
    if key is None:
        raise DeviceError(
            f"Unknown dtype {dtype!r}",
            hint="Use auto, float32, float16 or bfloat16 (fp32/fp16/bf16).",
            requested=dtype,
        )
    warnings: list[str] = []
    kind = device.split(":", 1)[0]
    if key == "auto":
        if kind == "cuda":
            return ("bfloat16" if _native_bf16(torch) else "float16"), warnings
        if kind == "mps":
            return "float16", warnings
        return "float32", warnings
    if kind == "cpu" and key != "float32":
        warnings.append(f"{key} on CPU runs, but much slower than float32")
    if kind == "cuda" and key == "bfloat16" and not _native_bf16(torch):
        warnings.append(
            "this GPU has no native bfloat16; it is emulated (slow). float16 is faster here"
        )
    return key, warnings


def _native_bf16(torch: Any) -> bool:
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch without the keyword
        return bool(torch.cuda.is_bf16_supported())


def choose(device: str = "auto", dtype: str = "auto") -> DeviceChoice:
    """Resolve device and dtype together (sets PYTORCH_ENABLE_MPS_FALLBACK=1 for MPS)."""
    torch = import_torch()
    resolved = resolve_device(device, torch)
    dtype_name, warnings = resolve_dtype(resolved, dtype, torch)
    if resolved == "mps":
        # Ops MPS lacks fall back to the CPU instead of raising NotImplementedError.
        os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    return DeviceChoice(
        device=resolved,
        dtype=dtype_name,
        requested_device=device,
        requested_dtype=dtype,
        available=available_devices(torch),
        warnings=warnings,
    )
