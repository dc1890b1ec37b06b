"""``forge doctor [--json]``: devices, extras, Ollama, Hub, disk and memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._params import EXISTING_FILE, host_option, json_option

if TYPE_CHECKING:
    from ..workflows.doctor import DoctorReport


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / 2**30:.1f} GiB"


@click.command("doctor")
@host_option()
@click.option(
    "--probe-model",
    type=EXISTING_FILE,
    default=None,
    help="GGUF to test the embedded runtime with (default: a demo or pulled model).",
)
@json_option("Print the report as JSON.")
def doctor_command(host: str | None, probe_model: str | None, as_json: bool) -> None:
    """Report devices, extras, the embedded runtime, Ollama, the Hub, disk and memory.

    Each line is checked, not assumed: the runtime generates a few tokens in a child process,
    Ollama is asked for its version, the Hub gets one HEAD request (skipped with HF_HUB_OFFLINE).

    \b
    Examples:
      forge doctor
      forge doctor --probe-model models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf
      OLLAMA_HOST=http://gpu-box:11434 forge doctor --json
    """
    from ..workflows.doctor import doctor

    report = doctor(host, probe_model=probe_model)
    if as_json:
        from .console import print_json

        print_json(report.model_dump(mode="json"))
        return
    _print(report)


def _print(report: DoctorReport) -> None:
    from rich.table import Table
    from rich.text import Text

    from .console import safe_text, stdout_console

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column()
    table.add_column()

    def row(label: str, value: str, ok: bool | None = None) -> None:
        style = None if ok is None else ("green" if ok else "yellow")
        table.add_row(Text(label, style="bold"), Text(safe_text(value), style=style or ""))

    row("forge", f"{report.forge_version} (Python {report.python}, {report.platform})")
    t = report.torch
    if not t.installed:
        row("torch", "not installed", False)
    else:
        cuda = (
            f"CUDA {t.cuda_built}: "
            + (", ".join(t.cuda_devices) if t.cuda_available else "no GPU visible")
            if t.cuda_built
            else "no CUDA in this build"
        )
        if t.cuda_available:
            cuda += f" (native bf16: {'yes' if t.cuda_bf16_native else 'no'})"
        mps = (
            "MPS available"
            if t.mps_available
            else ("MPS built, unavailable" if t.mps_built else "no MPS")
        )
        row(
            "torch",
            f"{t.version}; {cuda}; {mps}; CPU; auto -> {t.best_device}"
            + (f" [{t.error}]" if t.error else ""),
            t.error is None,
        )
    lc = report.llama_cpp
    if lc.installed:
        generates = {
            True: "generates here",
            False: "CANNOT generate here",
            None: "generation not tested",
        }[lc.can_generate]
        if lc.can_generate and lc.extra_buffer_types is False:
            generates += " (extra buffer types off: this CPU's AMX/repack kernels crash)"
        summary = f"llama-cpp-python {lc.version}, GPU offload: {'yes' if lc.gpu_offload else 'no'}, {generates}"
    else:
        summary = "not installed"
    row("llama.cpp", summary, lc.installed and lc.error is None and lc.can_generate is not False)
    for extra in report.extras:
        missing = [p for p, v in extra.packages.items() if v is None]
        row(
            f"[{extra.name}] extra",
            "installed" if extra.installed else f"missing {', '.join(missing)}",
            extra.installed,
        )
    o = report.ollama
    row(
        "Ollama",
        f"{o.host}: " + (f"version {o.version}" if o.reachable else f"unreachable ({o.error})"),
        o.reachable,
    )
    h = report.hub
    reach = {True: "reachable", False: f"unreachable ({h.error})", None: "not tried (offline)"}[
        h.reachable
    ]
    row(
        "Hub",
        f"{h.endpoint}: {reach}; token: {h.token_source or 'none'}; offline: {'yes' if h.offline else 'no'}",
        h.reachable is not False,
    )
    for disk in report.disks:
        row(
            f"disk: {disk.label}",
            f"{disk.path}: {_gib(disk.free_bytes)} free of {_gib(disk.total_bytes)}",
        )
    row(
        "memory",
        f"{_gib(report.memory.available_bytes)} available of {_gib(report.memory.total_bytes)}",
    )
    out = stdout_console()
    out.print(table)
    for note in report.notes:
        out.print(Text(f"- {safe_text(note)}", style="yellow"))
