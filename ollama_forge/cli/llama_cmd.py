"""``forge chat`` (embedded llama.cpp) and ``forge check`` (does the model stop cleanly?)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ._interactive import user_lines

if TYPE_CHECKING:
    from ..check import CheckReport
    from ..runners.llama import ChatResult



def _write(text: str) -> None:
    from ..console import safe_text

    sys.stdout.write(safe_text(text))
    sys.stdout.flush()


def _options(temperature: float | None, seed: int | None, num_ctx: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if temperature is not None:
        out["temperature"] = temperature
    if seed is not None:
        out["seed"] = seed
    if num_ctx is not None:
        out["num_ctx"] = num_ctx
    return out


@click.command("chat")
@click.argument("target", required=False)
@click.option("-f", "--modelfile", "modelfile", type=click.Path(dir_okay=False), help="Use this Modelfile's TEMPLATE, SYSTEM, MESSAGEs and PARAMETERs.")
@click.option("-p", "--prompt", help="Answer one prompt and exit (otherwise: interactive chat).")
@click.option("-s", "--system", help="A system message (replaces the Modelfile's SYSTEM, like Ollama).")
@click.option("-n", "--max-tokens", type=click.IntRange(min=1), default=None, help="Token limit per reply (default: num_predict).")
@click.option("--temperature", type=click.FloatRange(min=0), default=None, help="Override PARAMETER temperature.")
@click.option("--seed", type=int, default=None, help="Override PARAMETER seed.")
@click.option("--num-ctx", type=click.IntRange(min=16), default=None, help="Override PARAMETER num_ctx.")
@click.option("--show-prompt", is_flag=True, help="Print the exact prompt given to the model (stderr).")
@click.option("--json", "as_json", is_flag=True, help="With --prompt: print the result as JSON instead of streaming.")
def chat_command(
    target: str | None,
    modelfile: str | None,
    prompt: str | None,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    seed: int | None,
    num_ctx: int | None,
    show_prompt: bool,
    as_json: bool,
) -> None:
    """Chat with a GGUF (stored NAME or PATH) through embedded llama.cpp, no Ollama needed.

    The prompt is exactly what the Modelfile's TEMPLATE builds; its stop tokens and
    parameters apply. Type /bye to leave the interactive chat.
    """
    from ..console import print_json
    from ..errors import UsageError

    options = _options(temperature, seed, num_ctx)
    if prompt is not None:
        from ..runners.llama import chat

        result = chat(
            target,
            prompt,
            system=system,
            modelfile=modelfile,
            max_tokens=max_tokens,
            options=options or None,
            on_text=None if as_json else _write,
        )
        if as_json:
            print_json(result.model_dump(mode="json"))
            return
        _finish(result, show_prompt)
        return
    if as_json:
        raise UsageError("--json needs --prompt", hint="Add --prompt TEXT for a one-shot JSON answer.")
    _interactive(target, modelfile, system, max_tokens, options, show_prompt)


def _finish(result: ChatResult, show_prompt: bool) -> None:
    from rich.text import Text

    from ..console import safe_text, stderr_console

    sys.stdout.write("\n")
    sys.stdout.flush()
    err = stderr_console()
    if show_prompt:
        err.print(Text("prompt: ", style="dim") + Text(safe_text(result.prompt)))
    reply = result.reply
    ended = {
        "eog": f"end-of-generation token {reply.stop!r}",
        "stop_string": f"stop {reply.stop!r}",
        "limit": "token limit",
    }[reply.stopped_by]
    rate = f", {reply.tokens_per_second} tok/s" if reply.tokens_per_second else ""
    err.print(Text(f"{reply.completion_tokens} tokens, ended by {safe_text(ended)}{rate}", style="dim"))


def _interactive(
    target: str | None,
    modelfile: str | None,
    system: str | None,
    max_tokens: int | None,
    options: dict[str, Any],
    show_prompt: bool,
) -> None:
    from rich.text import Text

    from ..console import safe_text, stderr_console
    from ..runners.llama import ChatSession

    err = stderr_console()
    with ChatSession(target, modelfile=modelfile, system=system, options=options or None) as session:
        err.print(
            Text(
                f"{safe_text(session.resolved.target)} (Modelfile: {safe_text(session.resolved.modelfile_source)})"
                " - type /bye to leave"
            )
        )
        for text in user_lines(err):
            result = session.send(text, max_tokens=max_tokens, on_text=_write)
            _finish(result, show_prompt)


@click.command("check")
@click.argument("target", required=False)
@click.option("-f", "--modelfile", "modelfile", type=click.Path(dir_okay=False), help="Check this Modelfile (embedded runtime).")
@click.option("-n", "--max-tokens", type=click.IntRange(min=1), default=None, help="Token budget per prompt (default 96).")
@click.option("--prompt", "prompts", multiple=True, help="A prompt to try (repeatable; default: three short questions).")
@click.option(
    "--backend",
    type=click.Choice(["auto", "ollama", "embedded"]),
    default="auto",
    show_default=True,
    help="auto: Ollama when it has the model, else embedded llama.cpp.",
)
@click.option("--host", default=None, help="Ollama server (default: OLLAMA_HOST).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check_command(
    target: str | None,
    modelfile: str | None,
    max_tokens: int | None,
    prompts: tuple[str, ...],
    backend: str,
    host: str | None,
    as_json: bool,
) -> None:
    """Prove by real generation that a model stops cleanly (exit 1 if it rambles, is cut or leaks)."""
    from ..check import DEFAULT_MAX_TOKENS, check

    report = check(
        target,
        modelfile=modelfile,
        max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        prompts=list(prompts) or None,
        backend=backend,  # type: ignore[arg-type]
        host=host,
    )
    if as_json:
        from ..console import print_json

        print_json(report.model_dump(mode="json"))
    else:
        _print_report(report)
    report.raise_for_failure()


def _print_report(report: CheckReport) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..console import safe_text, stderr_console, stdout_console

    where = (
        f"Ollama {report.ollama_name} at {report.host}"
        if report.backend == "ollama"
        else f"embedded llama.cpp, {report.gguf_path} (Modelfile: {report.modelfile_source})"
    )
    out = stdout_console()
    out.print(Text(f"forge check {safe_text(report.target)}: {safe_text(where)}"))
    out.print(Text(f"stops: {safe_text(report.stops)}  checked for leaks: {safe_text(report.leak_markers)}"))
    table = Table(show_lines=False)
    for column in ("prompt", "verdict", "ended by", "tokens", "reply"):
        table.add_column(column)
    for r in report.results:
        ended = r.stopped_by if r.stop is None else f"{r.stopped_by} {r.stop!r}"
        style = "green" if r.verdict == "ok" else "red"
        table.add_row(
            Text(safe_text(r.prompt, limit=40)),
            Text(r.verdict, style=style),
            Text(safe_text(ended)),
            str(r.completion_tokens if r.completion_tokens is not None else "?"),
            Text(safe_text(r.reply, keep_newlines=False, limit=70)),
        )
    out.print(table)
    for note in report.notes:
        stderr_console().print(Text(f"note: {safe_text(note)}"))
    out.print(Text("PASS: the model stops cleanly" if report.passed else "FAIL", style="bold green" if report.passed else "bold red"))
