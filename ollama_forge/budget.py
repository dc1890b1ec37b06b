"""Sizes and the memory budget a model must fit in: ``--mem`` or detected free VRAM / RAM.

One parser and one budget for every command: ``forge quants --mem`` (which variants fit) and
``forge modelfile --mem`` (which ``num_ctx`` fits) read ``8GB`` the same way and, without
``--mem``, measure the same memory: the free VRAM of the largest GPU, else available RAM.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Literal

from pydantic import BaseModel

from .errors import UsageError

_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(I?B?)\s*$", re.IGNORECASE)
_POW = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4}


class MemoryBudget(BaseModel):
    bytes: int
    source: Literal["--mem", "vram", "ram"]
    detail: str = ""


def parse_size(text: str | int) -> int:
    """``8G``/``8GiB`` (1024-based), ``8GB`` (1000-based, as disks and the Hub count) or bytes."""
    if isinstance(text, bool):
        raise UsageError(
            f"Invalid size {text!r}", hint="Examples: --mem 8G, --mem 24GiB, --mem 16000MB"
        )
    if isinstance(text, int):
        value = text
    else:
        match = _SIZE_RE.match(text or "")
        if not match:
            raise UsageError(
                f"Invalid size {text!r}", hint="Examples: --mem 8G, --mem 24GiB, --mem 16000MB"
            )
        number, unit, suffix = match.groups()
        base = 1000 if suffix.upper() == "B" and unit else 1024
        value = int(float(number) * base ** _POW[unit.upper()])
    if value <= 0:
        raise UsageError(f"Size must be positive, got {text!r}")
    return value


def gpu_free_bytes() -> int | None:
    """Free memory of the largest NVIDIA GPU according to nvidia-smi (None without one)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    values = [int(line.strip()) for line in out.splitlines() if line.strip().isdigit()]
    return max(values) * 1024 * 1024 if values else None


def ram_available_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def detect_budget(mem: str | int | None = None) -> MemoryBudget:
    """``--mem`` if given; else the free VRAM of the largest GPU; else available RAM."""
    if mem is not None:
        return MemoryBudget(bytes=parse_size(mem), source="--mem", detail=str(mem))
    vram = gpu_free_bytes()
    if vram is not None:
        return MemoryBudget(
            bytes=vram, source="vram", detail="nvidia-smi memory.free (largest GPU)"
        )
    return MemoryBudget(bytes=ram_available_bytes(), source="ram", detail="psutil available memory")
