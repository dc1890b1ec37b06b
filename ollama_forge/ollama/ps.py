"""``forge ps``: loaded models, printed exactly like ``ollama ps`` (cmd/cmd.go ListRunningHandler).

* PROCESSOR: ``100% CPU`` (size_vram 0), ``100% GPU`` (equal), ``Unknown`` (vram > size or size
  0), else ``{cpu}%/{100-cpu}% CPU/GPU`` with Go's ``math.Round`` (half away from zero);
* SIZE: ``format.HumanBytes`` (decimal units, ``%.1f GB``, strictly-greater thresholds);
* UNTIL: ``Stopping...`` once ``expires_at`` passed, else ``format.HumanTime`` (``4 minutes from
  now``, ``About an hour from now``, ``Forever``);
* table: olekukonko/tablewriter v0.0.5 with no border, left aligned, 4-space padding; every
  cell is padded to its column width, the header ends with one space, rows with the padding.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from .client import DEFAULT_TIMEOUT, make_client, resolve_host, translate_errors

KB, MB, GB = 1000, 1000**2, 1000**3


def human_bytes(b: int) -> str:
    """Go ``format.HumanBytes``."""
    if b > GB:
        return f"{b / GB:.1f} GB"
    if b > MB:
        return f"{b / MB:.1f} MB"
    if b > KB:
        return f"{b / KB:.1f} KB"
    return f"{b} B"


def go_round(x: float) -> float:
    """Go ``math.Round``: half away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def processor(size: int, size_vram: int) -> str:
    if size_vram == 0:
        return "100% CPU"
    if size_vram == size:
        return "100% GPU"
    if size_vram > size or size == 0:
        return "Unknown"
    cpu = int(go_round((size - size_vram) / size * 100))
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def _tdiv(a: int, b: int) -> int:
    """Go integer division (truncates toward zero)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def human_duration(seconds_total: float) -> str:
    """Go ``format.humanDuration`` for a non-negative duration in seconds."""
    seconds = int(seconds_total)
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = int(seconds_total / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(go_round(seconds_total / 3600))
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds_total / 3600) // 24 // 365} years"


def until(expires_at: datetime | None, now: datetime | None = None) -> str:
    """The UNTIL column: ``Stopping...`` or Go ``format.HumanTime(expires_at, "Never")``."""
    now = now or datetime.now(timezone.utc)
    if expires_at is None:
        return "Never"
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=timezone.utc)
    delta = (now - expires_at).total_seconds()  # time.Since(expires_at)
    if delta > 0:
        return "Stopping..."
    if expires_at.year == 1 and expires_at.month == 1 and expires_at.day == 1:  # Go zero time
        return "Never"
    if _tdiv(_tdiv(int(delta / 3600), 24), 365) < -20:
        return "Forever"
    if delta < 0:
        return human_duration(-delta) + " from now"
    return human_duration(delta) + " ago"


class RunningModel(BaseModel):
    """One loaded model, as ``/api/ps`` reports it plus the columns ``ollama ps`` derives."""

    name: str
    model: str
    digest: str
    id: str
    size: int
    size_vram: int
    processor: str
    context_length: int | None = None
    expires_at: datetime | None = None
    until: str
    family: str | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None

    @property
    def fully_on_gpu(self) -> bool:
        return self.processor == "100% GPU"

    @property
    def cpu_percent(self) -> int | None:
        if self.processor == "100% CPU":
            return 100
        if self.processor == "100% GPU":
            return 0
        if self.processor.endswith("CPU/GPU"):
            return int(self.processor.split("%", 1)[0])
        return None

    def __repr__(self) -> str:
        return (f"RunningModel(name={self.name!r}, processor={self.processor!r}, size={human_bytes(self.size)!r}, "
                f"vram={human_bytes(self.size_vram)!r}, context={self.context_length}, until={self.until!r})")

    __str__ = __repr__


def _from_api(m: Any, now: datetime) -> RunningModel:
    size = int(m.size or 0)
    vram = int(m.size_vram or 0)
    digest = str(m.digest or "")
    details = m.details
    return RunningModel(
        name=str(m.name or m.model or ""), model=str(m.model or m.name or ""), digest=digest, id=digest[:12],
        size=size, size_vram=vram, processor=processor(size, vram), context_length=m.context_length,
        expires_at=m.expires_at, until=until(m.expires_at, now),
        family=getattr(details, "family", None) if details else None,
        parameter_size=getattr(details, "parameter_size", None) if details else None,
        quantization_level=getattr(details, "quantization_level", None) if details else None,
    )


def ps(host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, now: datetime | None = None) -> list[RunningModel]:
    """The models Ollama has loaded (``GET /api/ps``), in the server's order."""
    server = resolve_host(host)
    client = make_client(server, timeout=timeout)
    with translate_errors(server, action="listing loaded models"):
        response = client.ps()
    moment = now or datetime.now(timezone.utc)
    return [_from_api(m, moment) for m in response.models]


def render_table(models: list[RunningModel]) -> str:
    """The exact text ``ollama ps`` prints for these models."""
    header = ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    rows = [[m.name, m.id, human_bytes(m.size), m.processor, str(m.context_length or 0), m.until] for m in models]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    pad = "    "
    lines = ["".join(h.ljust(widths[i]) + (" " if i == len(header) - 1 else pad) for i, h in enumerate(header))]
    lines += ["".join(cell.ljust(widths[i]) + pad for i, cell in enumerate(row)) for row in rows]
    return "\n".join(lines) + "\n"


def gpu_warnings(models: list[RunningModel]) -> list[str]:
    """Plain-language warnings for models not fully on the GPU, with the likely cause."""
    out = []
    for m in models:
        ctx = m.context_length
        if m.processor == "100% CPU":
            out.append(
                f"{m.name} runs entirely on the CPU: Ollama found no usable GPU, or the model was loaded with "
                "num_gpu 0. Check `nvidia-smi`/the server log (`offloaded N/M layers to GPU`)."
            )
        elif m.processor.endswith("CPU/GPU"):
            ctx_note = f" (context {ctx} tokens)" if ctx else ""
            out.append(
                f"{m.name} is split {m.processor}: {human_bytes(m.size - m.size_vram)} did not fit in VRAM. Likely "
                f"cause: num_ctx{ctx_note} too large for the free VRAM (the KV cache grows with it) or num_gpu "
                "limiting offloaded layers; lower PARAMETER num_ctx, free VRAM, or use a smaller quant."
            )
        elif m.processor == "Unknown":
            out.append(f"{m.name}: Ollama reports size_vram > size ({m.size_vram} > {m.size}); the split is unknown.")
    return out
