"""``forge inspect TARGET [--json] [--num-ctx N]``: a GGUF summary and its memory estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ._params import TARGET, json_option, num_ctx_option
from .console import human_bytes

if TYPE_CHECKING:
    from rich.table import Table

    from ..gguf import GGUFInfo
    from ..workflows.inspect import InspectReport

_TEMPLATE_LINES = 6
_LINE_LIMIT = 160


@click.command("inspect")
@click.argument("target", type=TARGET)
@json_option("Print the full structured report as JSON.")
@num_ctx_option(
    "Context length for the memory estimate (default 4096, at most the trained context)."
)
@click.option(
    "--cache-type",
    default="f16",
    show_default=True,
    type=click.Choice(
        ["f32", "f16", "bf16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "iq4_nl"],
        case_sensitive=False,
    ),
    help="KV cache type for the estimate.",
)
def inspect_command(target: str, as_json: bool, num_ctx: int | None, cache_type: str) -> None:
    """Summarise a GGUF and estimate its memory (local file, stored name or Hub repo).

    TARGET is a .gguf path (or a folder holding one model GGUF), a stored model name or
    owner/repo[:QUANT] on the Hub (only the header is read, over HTTP Range requests).

    \b
    Examples:
      forge inspect models/qwen/qwen2.5-0.5b-instruct-q4_k_m.gguf
      forge inspect bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M --num-ctx 32768
      forge inspect qwen --json
    """
    from ..workflows.inspect import inspect

    report = inspect(target, ctx=num_ctx, cache_type=cache_type)
    if as_json:
        from .console import print_json

        print_json(report.model_dump(mode="json"))
        return
    from .console import stdout_console

    stdout_console().print(render_report(report))


def _human_count(value: int) -> str:
    for limit, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if value >= limit:
            return f"{value / limit:.2f}{suffix} ({value:,})"
    return f"{value:,}"


def _per_layer(value: int | list[int] | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, int):
        return str(value)
    distinct = sorted(set(value))
    if len(distinct) == 1:
        return f"{distinct[0]} (all {len(value)} layers)"
    return f"per layer, {min(value)}-{max(value)}: {value[:12]}{' …' if len(value) > 12 else ''}"


def render_report(report: InspectReport) -> Table:
    """The human summary as a rich table (every file-supplied string escaped)."""
    from rich.table import Table
    from rich.text import Text

    from .console import safe_text

    info = report.info
    table = Table(
        title=Text(safe_text(info.name or report.target, keep_newlines=False, limit=120)),
        show_header=False,
    )
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")

    def section(name: str) -> None:
        if table.row_count:
            table.add_section()
        table.add_row(Text(name, style="bold cyan"), Text(""))

    def row(label: str, value: Any) -> None:
        if value is None or value == "":
            return
        text = (
            value
            if isinstance(value, Text)
            else Text(safe_text(value, keep_newlines=False, limit=400))
        )
        table.add_row(Text("  " + label), text)

    section("Identity")
    row("file", info.path)
    row("file size", human_bytes(info.file_size))
    row("name", info.name)
    row("basename", info.basename)
    row("size label", info.size_label)
    row("finetune", info.finetune)
    kind = (
        "projector (mmproj)"
        if info.is_projector
        else ("adapter" if info.is_adapter else (info.general_type or "model"))
    )
    row("type", kind)
    row("license", info.license)
    row("GGUF version", info.version)

    section("Architecture")
    row("architecture", info.architecture)
    quant = info.quant or "unknown"
    if info.quant_from_filename and info.quant_from_filename != info.quant:
        quant += f" (file name: {info.quant_from_filename})"
    row("quant", quant if info.file_type is None else f"{quant} (file_type {info.file_type})")
    row("parameters", _human_count(info.parameter_count) if info.tensor_count else "no tensors")
    if info.tensor_types:
        mix = ", ".join(
            f"{name} ×{tc.count}"
            for name, tc in sorted(info.tensor_types.items(), key=lambda kv: -kv[1].bytes)
        )
        row("tensors", f"{info.tensor_count} ({human_bytes(info.tensor_bytes)}): {mix}")
    row("context length", info.context_length)
    row("blocks", info.block_count)
    row("embedding length", info.embedding_length)
    row("heads", _per_layer(info.head_count))
    row("KV heads", _per_layer(info.head_count_kv))
    if info.key_length or info.value_length:
        row("key/value length", f"{info.key_length} / {info.value_length}")
    if info.sliding_window:
        row("sliding window", info.sliding_window)
    row("RoPE base", info.rope_freq_base)
    if info.expert_count:
        row("experts", f"{info.expert_used_count} of {info.expert_count} active")

    section("Tokenizer")
    row("model", " / ".join(x for x in (info.tokenizer_model, info.tokenizer_pre) if x))
    row("vocabulary", info.vocab_size)
    for kind_name, token in info.special_tokens.items():
        shown = repr(token.text) if token.text is not None else "(outside the vocabulary)"
        row(f"{kind_name} token", f"{token.id} {shown}")
    if info.add_bos_token is not None or info.add_eos_token is not None:
        shown_flags = [
            "unset" if flag is None else str(flag).lower()
            for flag in (info.add_bos_token, info.add_eos_token)
        ]
        row("add bos / eos", " / ".join(shown_flags))

    section("Chat template")
    if info.chat_template:
        lines = info.chat_template.splitlines()
        row("present", f"yes, {len(info.chat_template):,} characters, {len(lines)} lines")
        preview = Text()
        for line in lines[:_TEMPLATE_LINES]:
            preview.append(safe_text(line, keep_newlines=False, limit=_LINE_LIMIT) + "\n")
        if len(lines) > _TEMPLATE_LINES:
            preview.append(f"… {len(lines) - _TEMPLATE_LINES} more lines", style="dim")
        row("first lines", preview)
    else:
        row(
            "present",
            "no (base model, or the template was not converted)" if not info.is_projector else "no",
        )
    if info.chat_templates:
        row("named", ", ".join(info.chat_templates))
    if report.family:
        row(
            "family",
            f"{report.family} ({report.family_rule})" if report.family_rule else report.family,
        )

    if info.split is not None or report.shards:
        section("Split")
        if info.split is not None:
            row("shard", f"{info.split.no + 1} of {info.split.count}")
            row("tensors (all shards)", info.split.tensors_count)
        row("shard files", ", ".join(report.shards))
    if report.projector is not None:
        section("Projector")
        _projector_rows(row, report.projector)

    if report.remote:
        remote = report.remote
        section("Remote (header only, HTTP Range)")
        row(
            "repo",
            f"{remote.get('repo')} @ {str(remote.get('commit') or remote.get('revision'))[:12]}",
        )
        row("file", remote.get("file"))
        fetched, size = remote.get("total_bytes_fetched"), remote.get("file_size")
        if isinstance(fetched, int) and isinstance(size, int) and size:
            row(
                "fetched",
                f"{human_bytes(fetched)} of {human_bytes(size)} ({fetched / size:.2%}) "
                f"in {remote.get('total_requests')} requests; weights not downloaded",
            )

    section("Memory")
    mem = report.memory
    row("context", f"{mem.ctx} tokens, {mem.cache_type} KV cache")
    row("weights", human_bytes(mem.weights_bytes))
    row("KV cache", human_bytes(mem.kv_bytes))
    row("total", f"{human_bytes(mem.total_bytes)} + compute buffers")
    if mem.kv_bytes_full_ctx is not None:
        row(f"KV at {info.context_length}", human_bytes(mem.kv_bytes_full_ctx))
    if report.projector is not None:
        row("+ projector", human_bytes(report.projector.tensor_bytes))
    for note in mem.notes:
        row("note", note)
    if report.warnings:
        section("Warnings")
        for warning in report.warnings:
            row("!", Text(safe_text(warning, keep_newlines=False, limit=400), style="yellow"))
    return table


def _projector_rows(row: Any, projector: GGUFInfo) -> None:
    row("file", projector.path)
    row("name", projector.name)
    row("quant", projector.quant)
    row("size", human_bytes(projector.file_size))
