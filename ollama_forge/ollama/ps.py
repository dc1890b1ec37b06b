"""``forge ps``: loaded models, printed exactly like ``ollama ps`` (cmd/cmd.go ListRunningHandler).

* PROCESSOR: ``100% CPU`` (size_vram 0), ``100% GPU`` (equal), ``Unknown`` (vram > size or size
  0), else ``{cpu}%/{100-cpu}% CPU/GPU`` with Go's ``math.Round`` (half away from zero);
* SIZE: ``format.HumanBytes`` of the server's version: decimal units; from 0.32 ``>=`` thresholds,
  TB, values >= 10 truncated to integers (``328 MB``) and whole values without decimals (``1 GB``);
  before that ``%.1f`` with strictly-greater thresholds (``328.4 MB``);
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

from ..errors import ForgeError
from ..text import safe_text
from .answers import Malformed, as_int, as_str, details_of, models_of, parse_go_time
from .client import DEFAULT_TIMEOUT, OllamaHTTP, malformed, resolve_host
from .versions import Version

KB, MB, GB, TB = 1000, 1000**2, 1000**3, 1000**4


def human_bytes(b: int, *, legacy: bool = False) -> str:
    """Go ``format.HumanBytes`` as the server's own CLI prints it (``legacy``: before 0.32)."""
    if legacy:
        if b > GB:
            return f"{b / GB:.1f} GB"
        if b > MB:
            return f"{b / MB:.1f} MB"
        if b > KB:
            return f"{b / KB:.1f} KB"
        return f"{b} B"
    for unit, scale in (("TB", TB), ("GB", GB), ("MB", MB), ("KB", KB)):
        if b >= scale:
            value = b / scale
            if value >= 10 or value == math.trunc(value):
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{b} B"


def legacy_sizes(version: str | None) -> bool:
    """Whether a server of ``version`` prints sizes in the old ``%.1f`` form (unknown: current)."""
    return version is not None and not Version(version).truncated_sizes


def server_version(http: OllamaHTTP) -> str | None:
    """The server's version for formatting choices; None when it cannot say (then: current)."""

    try:
        return http.version()
    except ForgeError:
        return None


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
    #: SIZE as the server's own ``ollama ps`` prints it (its version's HumanBytes)
    size_text: str = ""
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
        return (
            f"RunningModel(name={self.name!r}, processor={self.processor!r}, size={human_bytes(self.size)!r}, "
            f"vram={human_bytes(self.size_vram)!r}, context={self.context_length}, until={self.until!r})"
        )

    __str__ = __repr__


def _from_api(entry: dict[str, Any], i: int, now: datetime, legacy: bool) -> RunningModel:
    field = f"models[{i}]"
    size = as_int(entry.get("size"), f"{field}.size", optional=True) or 0
    vram = as_int(entry.get("size_vram"), f"{field}.size_vram", optional=True) or 0
    digest = as_str(entry.get("digest"), f"{field}.digest")
    name = as_str(entry.get("name"), f"{field}.name") or as_str(
        entry.get("model"), f"{field}.model"
    )
    expires = parse_go_time(entry.get("expires_at"), f"{field}.expires_at")
    details = details_of(entry, field)
    return RunningModel(
        name=name,
        model=as_str(entry.get("model"), f"{field}.model") or name,
        digest=digest,
        id=digest[:12],
        size=size,
        size_vram=vram,
        size_text=human_bytes(size, legacy=legacy),
        processor=processor(size, vram),
        context_length=as_int(
            entry.get("context_length"), f"{field}.context_length", optional=True
        ),
        expires_at=expires,
        until=until(expires, now),
        family=details["family"],
        parameter_size=details["parameter_size"],
        quantization_level=details["quantization_level"],
    )


def ps(
    host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, now: datetime | None = None
) -> list[RunningModel]:
    """The models Ollama has loaded (``GET /api/ps``), in the server's order."""
    return ps_with_version(host, timeout=timeout, now=now)[0]


def ps_with_version(
    host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, now: datetime | None = None
) -> tuple[list[RunningModel], str | None]:
    """:func:`ps` and the server's version (None when it cannot say), which formats SIZE."""
    server = resolve_host(host)
    with OllamaHTTP(server, timeout=timeout) as http:
        data = http.get_json("/api/ps", action="listing loaded models")
        version = server_version(http)
    moment = now or datetime.now(timezone.utc)
    legacy = legacy_sizes(version)
    try:
        return [
            _from_api(entry, i, moment, legacy)
            for i, entry in enumerate(models_of(data, "/api/ps"))
        ], version
    except Malformed as exc:
        raise malformed(server, "/api/ps", str(exc)) from None


def render_table(models: list[RunningModel]) -> str:
    """The exact text ``ollama ps`` prints for these models (server strings made terminal-safe)."""

    header = ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    rows = [
        [
            safe_text(m.name, keep_newlines=False),
            safe_text(m.id, keep_newlines=False),
            m.size_text or human_bytes(m.size),
            m.processor,
            str(m.context_length or 0),
            m.until,
        ]
        for m in models
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    pad = "    "
    lines = [
        "".join(
            h.ljust(widths[i]) + (" " if i == len(header) - 1 else pad)
            for i, h in enumerate(header)
        )
    ]
    lines += ["".join(cell.ljust(widths[i]) + pad for i, cell in enumerate(row)) for row in rows]
    return "\n".join(lines) + "\n"


def gpu_warnings(models: list[RunningModel], version: str | None = None) -> list[str]:
    """Plain-language warnings for models not fully on the GPU, with the likely cause.

    From 0.30 models run in llama-server, whose log has no ``offloaded N/M layers`` line; the
    server log's ``inference compute`` line (``library=cpu``, ``total_vram="0 B"``) says that
    no GPU was found.
    """
    llama_server = version is None or Version(version).native_templates
    out = []
    for m in models:
        ctx = m.context_length
        name = m.name
        if m.processor == "100% CPU":
            where = (
                "the server log's `inference compute` line says library=cpu when it found no GPU"
                if llama_server
                else "the server log shows `offloaded 0/N layers to GPU`"
            )
            out.append(
                f"{name} runs entirely on the CPU (size_vram 0): Ollama found no usable GPU, or the model was "
                f"loaded with num_gpu 0. Check `nvidia-smi` ({where})."
            )
        elif m.processor.endswith("CPU/GPU"):
            ctx_note = f" (context {ctx} tokens)" if ctx else ""
            out.append(
                f"{name} is split {m.processor}: {human_bytes(m.size - m.size_vram)} did not fit in VRAM. Likely "
                f"cause: num_ctx{ctx_note} too large for the free VRAM (the KV cache grows with it) or num_gpu "
                "limiting offloaded layers; lower PARAMETER num_ctx, free VRAM, or use a smaller quant."
            )
        elif m.processor == "Unknown":
            out.append(
                f"{name}: Ollama reports size_vram > size ({m.size_vram} > {m.size}); the split is unknown."
            )
    return out


def require_gpu_hint(bad: list[RunningModel]) -> str:
    """The fix for ``ps --require-gpu`` failing: CPU-only servers need a GPU, split models less memory."""
    if bad and all(m.processor == "100% CPU" for m in bad):
        return (
            "The server runs these models on the CPU only. On a machine without a usable GPU, drop "
            "--require-gpu; otherwise install the GPU driver (and Ollama's GPU libraries), restart "
            "`ollama serve`, and make sure num_gpu is not 0."
        )
    return "Lower num_ctx, free VRAM or use a smaller quant; see the warnings above."
