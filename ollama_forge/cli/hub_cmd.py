"""``forge quants`` and ``forge pull-gguf``."""

from __future__ import annotations

import click

from ._params import json_option, num_ctx_option, option
from .console import human_bytes, print_json, safe_text, stderr_console, stdout_console


def _esc(value: object) -> str:
    from rich.markup import escape

    return escape(safe_text(value, keep_newlines=False))


@click.command("quants")
@click.argument("repo")
@num_ctx_option("Context length for the memory estimate (default 4096).")
@click.option(
    "--mem",
    default=None,
    metavar="SIZE",
    help="Memory budget, e.g. 8G (default: free VRAM, else available RAM).",
)
@click.option("--no-header", is_flag=True, help="Do not read a GGUF header (no memory estimate).")
@json_option("Print the listing as JSON.")
def quants_command(
    repo: str, num_ctx: int | None, mem: str | None, no_header: bool, as_json: bool
) -> None:
    """List a Hub repo's GGUF variants, their sizes and whether they fit in memory.

    REPO is owner/name[@REV]. The first variant's header is read (HTTP Range) for the KV
    cache estimate; the variant forge pull-gguf would choose is marked with *.

    \b
    Examples:
      forge quants bartowski/Qwen2.5-7B-Instruct-GGUF
      forge quants bartowski/Qwen2.5-7B-Instruct-GGUF --num-ctx 32768 --mem 8G
      forge quants unsloth/gemma-3-270m-it-GGUF --json
    """
    from ..hub.quants import list_quants

    listing = list_quants(repo, ctx=num_ctx, mem=mem, read_header=not no_header)
    if as_json:
        print_json(listing.model_dump(mode="json"))
        return
    from rich.table import Table

    out = stdout_console()
    budget = (
        f"{human_bytes(listing.budget.bytes)} ({listing.budget.source})"
        if listing.budget is not None
        else "unknown"
    )
    out.print(
        f"[bold]{_esc(listing.repo)}[/bold] @ {_esc(listing.revision)} ({listing.commit[:12]})"
        f"  ctx {listing.ctx}  budget {budget}"
    )
    if not listing.variants:
        out.print(
            "no GGUF model files in this repo"
            + (f" ({len(listing.excluded)} other files)" if listing.excluded else "")
        )
    table = Table(show_edge=False, pad_edge=False)
    for col in ("", "quant", "file", "size", "shards", "est. memory", "fits"):
        table.add_column(
            col,
            justify="right" if col in ("size", "shards", "est. memory") else "left",
            overflow="fold",
            no_wrap=col not in ("file", "quant"),
        )
    for v in listing.variants:
        quant = v.quant or "?"
        if v.file_type and v.file_type != v.quant:
            quant += f" (header: {v.file_type})"
        fits = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "?"}[v.fits]
        table.add_row(
            "*" if v.label == listing.default else "",
            _esc(quant),
            _esc(v.label),
            human_bytes(v.size),
            str(v.shard_count),
            human_bytes(v.estimate_bytes),
            fits,
        )
    if listing.variants:
        out.print(table)
    if listing.kv_bytes is not None:
        out.print(
            f"est. memory = file size + {human_bytes(listing.kv_bytes)} of KV cache at ctx {listing.ctx} "
            "(compute buffers not included)"
        )
    if listing.default:
        out.print(f"* default choice of forge pull-gguf {_esc(listing.repo)}")
    if listing.projectors:
        out.print("[bold]projectors (mmproj)[/bold]")
        for p in listing.projectors:
            out.print(f"  {_esc(p.path)}  {human_bytes(p.size)}  {_esc(p.quant or '?')}")
    for label in listing.incomplete:
        out.print(f"[yellow]incomplete split set (missing shards):[/yellow] {_esc(label)}")
    for note in listing.notes:
        stderr_console().print(f"[yellow]note:[/yellow] {_esc(note)}")


@click.command("pull-gguf")
@click.argument("repo")
@option(
    "--quant",
    aliases=["-q"],
    default=None,
    help="Quant to download, e.g. Q4_K_M (exact, case-insensitive).",
)
@option(
    "--filename",
    "file_",
    aliases=["--file"],
    default=None,
    metavar="PATH",
    help="Exact file path in the repo (any shard of a split set), as hf_hub_download's filename.",
)
@option(
    "--name",
    aliases=["-n"],
    default=None,
    help="Short name for the store and models/<name>/ (default: repo + quant).",
)
@click.option("--revision", default=None, help="Branch, tag or commit (same as REPO@REV).")
@click.option(
    "--fit",
    is_flag=True,
    help="Pick the best variant whose weights + KV cache fit the memory budget.",
)
@num_ctx_option("Context length for --fit (default 4096).")
@click.option("--mem", default=None, metavar="SIZE", help="Memory budget for --fit, e.g. 8G.")
@click.option("--no-projector", is_flag=True, help="Do not download the matching mmproj file.")
@click.option(
    "--copy", is_flag=True, help="Copy into models/<name>/ instead of hard-linking the cached blob."
)
@json_option("Print the result as JSON (no progress display).")
def pull_gguf_command(
    repo: str,
    quant: str | None,
    file_: str | None,
    name: str | None,
    revision: str | None,
    fit: bool,
    num_ctx: int | None,
    mem: str | None,
    no_projector: bool,
    copy: bool,
    as_json: bool,
) -> None:
    """Download a GGUF variant from the Hub, verified by SHA-256 (shards and projector too).

    REPO is owner/name[:QUANT][@REV]. Downloads resume; the file lands in the Hugging Face
    cache and is linked into models/<name>/.

    \b
    Examples:
      forge pull-gguf bartowski/Qwen2.5-7B-Instruct-GGUF --name qwen
      forge pull-gguf bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M --name qwen
      forge pull-gguf bartowski/Qwen2.5-7B-Instruct-GGUF --fit --mem 8G --num-ctx 8192
    """
    from ..hub.pull import pull_gguf
    from .console import make_progress

    with make_progress(disable=as_json) as bar:
        result = pull_gguf(
            repo,
            quant,
            file=file_,
            name=name,
            revision=revision,
            fit=fit,
            ctx=num_ctx,
            mem=mem,
            projector=not no_projector,
            copy=copy,
            progress=bar,
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out = stdout_console()
    fetched = (
        human_bytes(result.downloaded_bytes) if result.downloaded_bytes else "nothing (cached)"
    )
    out.print(
        f"[green]pulled[/green] [bold]{_esc(result.name)}[/bold]: {_esc(result.repo)} {_esc(result.quant or '')}"
        f" @ {result.commit[:12]} — {human_bytes(result.total_bytes)}, downloaded {fetched}, sha256 verified"
    )
    for f in result.files:
        resumed = f" (resumed at {human_bytes(f.resumed_from)})" if f.resumed_from else ""
        out.print(f"  {f.role:<9} {_esc(f.path)}{resumed}")
    out.print(f"next: forge modelfile {_esc(result.name)}")
