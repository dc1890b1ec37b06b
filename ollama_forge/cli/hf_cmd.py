"""``forge run-hf MODEL``: run a (non-GGUF) model through a transformers pipeline."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ._interactive import user_lines

if TYPE_CHECKING:
    from ..runners.hf import HFGeneration



def _write(text: str) -> None:
    from ..console import safe_text

    sys.stdout.write(safe_text(text))
    sys.stdout.flush()


@click.command("run-hf")
@click.argument("model")
@click.option("--device", default="auto", show_default=True, help="auto (cuda, then mps, then cpu), cuda, cuda:N, mps or cpu.")
@click.option("--dtype", default="auto", show_default=True, help="auto, float32, float16 or bfloat16.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=None, help="0 = greedy; default: the model's own setting.")
@click.option("-p", "--prompt", help="Answer one prompt and exit (otherwise: interactive chat).")
@click.option("-s", "--system", help="A system message for the chat template.")
@click.option("--raw", is_flag=True, help="With --prompt: give the text as-is, without the chat template.")
@click.option("--json", "as_json", is_flag=True, help="With --prompt: print the result as JSON instead of streaming.")
def run_hf_command(
    model: str,
    device: str,
    dtype: str,
    max_new_tokens: int,
    temperature: float | None,
    prompt: str | None,
    system: str | None,
    raw: bool,
    as_json: bool,
) -> None:
    """Run MODEL (Hub repo id or local folder) with transformers on cuda / mps / cpu.

    With --prompt the model answers once (through its chat template unless --raw); without it,
    an interactive chat streams replies. Needs the [hf] extra.
    """
    from ..console import print_json, safe_text, stderr_console
    from ..errors import UsageError
    from ..runners.hf import hf_generate, hf_pipeline

    if prompt is None and (raw or as_json):
        raise UsageError("--raw and --json need --prompt", hint="Add --prompt TEXT.")
    generation: dict[str, Any] = {"max_new_tokens": max_new_tokens}
    if temperature is not None:
        generation["temperature"] = temperature
    err = stderr_console()
    pipe = hf_pipeline(model, device=device, dtype=dtype, **generation)
    choice = pipe.forge_choice
    err.print(f"[dim]{safe_text(model)} on {choice.device} ({choice.dtype})[/dim]", highlight=False)
    if prompt is not None:
        on_text = None if as_json else _write
        if raw:
            result = hf_generate(pipe, prompt, on_text=on_text)
        else:
            result = hf_generate(pipe, messages=_conversation(system, [], prompt), on_text=on_text)
        if as_json:
            print_json(result.model_dump(mode="json"))
        else:
            _finish(result)
        return
    history: list[dict[str, Any]] = []
    err.print("[dim]type /bye to leave[/dim]")
    for text in user_lines(err):
        messages = _conversation(system, history, text)
        result = hf_generate(pipe, messages=messages, on_text=_write)
        _finish(result)
        turns = messages[1:] if system else messages
        history = [*turns, {"role": "assistant", "content": result.text}]


def _conversation(system: str | None, history: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, *history, {"role": "user", "content": text}]


def _finish(result: HFGeneration) -> None:
    from ..console import stderr_console

    sys.stdout.write("\n")
    sys.stdout.flush()
    stderr_console().print(
        f"[dim]{result.new_tokens} tokens in {result.seconds:.2f}s, ended by {result.finish_reason}[/dim]",
        highlight=False,
    )
