"""``forge run-hf MODEL``: run a (non-GGUF) model through a transformers pipeline."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ._interactive import user_lines
from ._params import json_option, max_tokens_option, system_option
from ._status import Status

if TYPE_CHECKING:
    from ..runners.hf import HFGeneration


def _write(text: str) -> None:
    from .console import safe_text

    sys.stdout.write(safe_text(text))
    sys.stdout.flush()


@click.command("run-hf")
@click.argument("model", type=click.Path())
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (cuda, then mps, then cpu), cuda, cuda:N, mps or cpu.",
)
@click.option(
    "--dtype", default="auto", show_default=True, help="auto, float32, float16 or bfloat16."
)
@max_tokens_option(
    "Token limit per reply (transformers' max_new_tokens).", default=256, show_default=True
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    default=None,
    help="0 = greedy; default: the model's own setting.",
)
@click.option("-p", "--prompt", help="Answer one prompt and exit (otherwise: interactive chat).")
@system_option("A system message for the chat template (TEXT or @FILE).")
@click.option(
    "--raw", is_flag=True, help="With --prompt: give the text as-is, without the chat template."
)
@json_option("With --prompt: print the result as JSON instead of streaming.")
def run_hf_command(
    model: str,
    device: str,
    dtype: str,
    max_tokens: int,
    temperature: float | None,
    prompt: str | None,
    system: str | None,
    raw: bool,
    as_json: bool,
) -> None:
    """Run a non-GGUF model through transformers on cuda, mps or cpu.

    MODEL is a Hub repo id or a local folder. With --prompt the model answers once (through
    its chat template unless --raw); without it, an interactive chat streams replies (/? lists
    its commands). Needs the [hf] extra.

    \b
    Examples:
      forge run-hf HuggingFaceTB/SmolLM2-135M-Instruct -p "Why is the sky blue?"
      forge run-hf ./my-finetune --device cpu --dtype float32
      forge run-hf Qwen/Qwen2.5-0.5B-Instruct -n 64 --temperature 0 -p "2+2=" --json
    """
    from ..errors import UsageError
    from ..runners.hf import hf_generate, hf_pipeline
    from .console import print_json, safe_text, stderr_console

    if prompt is None and (raw or as_json):
        raise UsageError("--raw and --json need --prompt", hint="Add --prompt TEXT.")
    generation: dict[str, Any] = {"max_new_tokens": max_tokens}
    if temperature is not None:
        generation["temperature"] = temperature
    err = stderr_console(
        always=True
    )  # the chat's own lines; status lines go through Status (silent with -q)
    with Status() as status:
        status(f"loading {model} with transformers")
        pipe = hf_pipeline(model, device=device, dtype=dtype, **generation)
    choice = pipe.forge_choice
    stderr_console().print(
        f"[dim]{safe_text(model)} on {choice.device} ({choice.dtype})[/dim]", highlight=False
    )
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

    def clear(rest: str) -> None:
        history.clear()
        err.print("Cleared session context.")

    def show(rest: str) -> None:
        err.print(f"system: {safe_text(system or '(none)')}", markup=False)
        err.print(f"generation: {pipe.forge_generation}", markup=False)

    commands = {
        "/clear": ("/clear", "Forget the conversation so far", clear),
        "/show": ("/show", "Show the system message and generation settings", show),
    }
    err.print("[dim]/? for help, /bye to leave[/dim]")
    for text in user_lines(err, commands):
        messages = _conversation(system, history, text)
        result = hf_generate(pipe, messages=messages, on_text=_write)
        _finish(result)
        turns = messages[1:] if system else messages
        history[:] = [*turns, {"role": "assistant", "content": result.text}]


def _conversation(
    system: str | None, history: list[dict[str, Any]], text: str
) -> list[dict[str, Any]]:
    head = [{"role": "system", "content": system}] if system else []
    return [*head, *history, {"role": "user", "content": text}]


def _finish(result: HFGeneration) -> None:
    from .console import stderr_console

    sys.stdout.write("\n")
    sys.stdout.flush()
    stderr_console().print(
        f"[dim]{result.new_tokens} tokens in {result.seconds:.2f}s, ended by {result.finish_reason}[/dim]",
        highlight=False,
    )
