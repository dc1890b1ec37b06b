"""``forge chat`` (embedded llama.cpp) and ``forge check`` (does the model stop cleanly?)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Literal

import click

from ._interactive import user_lines
from ._params import (
    TARGET,
    host_option,
    json_option,
    max_tokens_option,
    modelfile_option,
    num_ctx_option,
    system_option,
)
from ._status import Status

if TYPE_CHECKING:
    from ..runners.llama import ChatResult
    from ..workflows.chat import ChatSession
    from ..workflows.check import CheckReport


def _write(text: str) -> None:
    from .console import safe_text

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
@click.argument("target", required=False, type=TARGET)
@modelfile_option("A Modelfile whose TEMPLATE, SYSTEM, MESSAGEs and PARAMETERs apply.")
@click.option("-p", "--prompt", help="Answer one prompt and exit (otherwise: interactive chat).")
@system_option("A system message (TEXT or @FILE; replaces the Modelfile's SYSTEM, like Ollama).")
@max_tokens_option("Token limit per reply (default: PARAMETER num_predict).")
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    default=None,
    help="Override PARAMETER temperature.",
)
@click.option("--seed", type=int, default=None, help="Override PARAMETER seed.")
@num_ctx_option("Override PARAMETER num_ctx (capped at the trained context).", minimum=16)
@click.option(
    "--show-prompt", is_flag=True, help="Print the exact prompt given to the model (stderr)."
)
@json_option("With --prompt: print the result as JSON instead of streaming.")
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
    """Chat with a GGUF through embedded llama.cpp (no Ollama needed).

    TARGET is a stored model name, a GGUF path, a Modelfile or a folder holding one. The prompt is exactly what the Modelfile's
    TEMPLATE builds; its stop tokens and parameters apply. In the interactive chat, /? lists
    the commands (/set parameter, /show, /clear, /bye), as in `ollama run`.

    \b
    Examples:
      forge chat smollm2-135m
      forge chat models/qwen/qwen2.5-0.5b-instruct-q4_k_m.gguf -p "Why is the sky blue?"
      forge chat qwen -f models/qwen/Modelfile -s @system.txt --temperature 0
    """
    from ..errors import UsageError
    from ..workflows.chat import ChatSession

    options = _options(temperature, seed, num_ctx)
    if prompt is None and as_json:
        raise UsageError(
            "--json needs --prompt", hint="Add --prompt TEXT for a one-shot JSON answer."
        )
    with Status() as status:
        session = ChatSession(
            target, modelfile=modelfile, system=system, options=options or None, progress=status
        )
    with session:
        if prompt is not None:
            result = session.generate(
                [*session.history, {"role": "user", "content": prompt}],
                max_tokens=max_tokens,
                on_text=None if as_json else _write,
            )
            if as_json:
                from .console import print_json

                print_json(result.model_dump(mode="json"))
                return
            _finish(result, show_prompt)
            return
        _interactive(session, _Reloader(target, modelfile, options), max_tokens, show_prompt)


def _finish(result: ChatResult, show_prompt: bool) -> None:
    from rich.text import Text

    from .console import safe_text, stderr_console

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
    err.print(
        Text(f"{reply.completion_tokens} tokens, ended by {safe_text(ended)}{rate}", style="dim")
    )


class _Reloader:
    """Re-opens the model when /set parameter changes a load-time setting (as Ollama reloads)."""

    def __init__(self, target: str | None, modelfile: str | None, options: dict[str, Any]) -> None:
        self.target, self.modelfile, self.options = target, modelfile, dict(options)

    def reopen(self, session: ChatSession, name: str, value: Any) -> ChatSession:
        from ..workflows.chat import ChatSession

        self.options[name] = value
        with Status() as status:
            fresh = ChatSession(
                self.target, modelfile=self.modelfile, options=self.options, progress=status
            )
        fresh.history = list(session.history)
        session.close()
        return fresh


#: PARAMETERs llama.cpp takes when the model is loaded: changing one re-opens the model
_LOAD_TIME = frozenset(
    {"num_ctx", "num_batch", "num_gpu", "num_thread", "use_mmap", "repeat_last_n"}
)


def _interactive(
    session: ChatSession, reloader: _Reloader, max_tokens: int | None, show_prompt: bool
) -> None:
    from rich.text import Text

    from .console import safe_text, stderr_console

    err = stderr_console(always=True)
    state = {"session": session}

    def current() -> ChatSession:
        return state["session"]

    def set_command(rest: str) -> None:
        from ..errors import UsageError
        from ..modelfile import validate_parameters
        from ..runners.llama import NOT_APPLICABLE

        what, _, rest = rest.partition(" ")
        if what == "system":
            history = [m for m in current().history if m.get("role") != "system"]
            current().history = [{"role": "system", "content": rest}, *history] if rest else history
            err.print("Set system message." if rest else "Cleared the system message.")
            return
        name, _, value = rest.strip().partition(" ")
        if what != "parameter" or not name or not value.strip():
            raise UsageError(
                "Usage: /set parameter NAME VALUE  or  /set system TEXT",
                hint="Example: /set parameter temperature 0.2",
            )
        raw: Any = (
            value.split() if name == "stop" else value.strip()
        )  # `ollama run` takes several stops
        typed = validate_parameters({name: raw}).get(name, [])
        runtime = current().runtime
        if name in NOT_APPLICABLE:
            err.print(Text(f"{name} has no effect in the embedded runtime (kept for Ollama)"))
        elif name in _LOAD_TIME:
            state["session"] = reloader.reopen(current(), name, typed)
        else:
            reloader.options[name] = typed  # kept when a later /set re-opens the model
            if name == "stop":
                runtime.stops = list(typed)
            else:
                runtime.options[name] = typed
        err.print(
            Text(f"Set parameter '{name}' to '{safe_text(value.strip(), keep_newlines=False)}'")
        )

    def show_command(rest: str) -> None:
        from ..errors import UsageError

        session = current()
        mf = session.resolved.modelfile
        system = next(
            (m["content"] for m in session.history if m.get("role") == "system"), mf.system
        )
        parts = {
            "parameters": "\n".join(
                [
                    f"num_ctx {session.runtime.n_ctx}",
                    *(f"stop {s!r}" for s in session.runtime.stops),
                    *(f"{k} {v}" for k, v in sorted(session.runtime.options.items())),
                ]
            ),
            "system": system or "(none)",
            "template": mf.template or "(none)",
            "modelfile": mf.render(),
        }
        if rest and rest not in parts:
            raise UsageError(
                f"/show {rest}: unknown",
                hint="Use /show parameters, system, template or modelfile.",
            )
        for name in [rest] if rest else ["parameters", "system", "template"]:
            err.print(Text(f"{name}:", style="bold"))
            err.print(Text(safe_text(parts[name])))

    def clear_command(rest: str) -> None:
        current().history = [m for m in current().history if m.get("role") == "system"]
        err.print("Cleared session context.")

    commands = {
        "/set": (
            "/set parameter NAME VALUE",
            "Set a PARAMETER (also /set system TEXT)",
            set_command,
        ),
        "/show": (
            "/show [parameters|system|template|modelfile]",
            "Show the model's settings",
            show_command,
        ),
        "/clear": ("/clear", "Forget the conversation so far", clear_command),
    }
    err.print(
        Text(
            f"{safe_text(session.resolved.target)} (Modelfile: {safe_text(session.resolved.modelfile_source)})"
            " - /? for help, /bye to leave"
        )
    )
    try:
        for text in user_lines(err, commands):
            result = current().send(text, max_tokens=max_tokens, on_text=_write)
            _finish(result, show_prompt)
    finally:
        current().close()


@click.command("check")
@click.argument("target", required=False, type=TARGET)
@modelfile_option("Check this Modelfile (embedded runtime).")
@max_tokens_option("Token budget per prompt (default 96).")
@click.option(
    "-p",
    "--prompt",
    "prompts",
    multiple=True,
    help="A prompt to try (repeatable; default: three short questions).",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "ollama", "embedded"]),
    default="auto",
    show_default=True,
    help="auto: Ollama when it has the model, else embedded llama.cpp.",
)
@click.option(
    "--tools",
    "tools",
    is_flag=True,
    help="Instead: send a real tool request (Ollama's /api/chat, or the embedded runtime for a file); exit 1 "
    "unless parsed tool_calls come back.",
)
@click.option(
    "--think",
    "think",
    is_flag=True,
    help="Instead: send a real think=true request (Ollama's /api/chat, or the embedded runtime for a file); "
    "exit 1 unless a separate thinking comes back.",
)
@host_option()
@json_option("Print the report as JSON.")
def check_command(
    target: str | None,
    modelfile: str | None,
    max_tokens: int | None,
    prompts: tuple[str, ...],
    backend: str,
    host: str | None,
    as_json: bool,
    tools: bool = False,
    think: bool = False,
) -> None:
    """Prove by real generation that a model stops cleanly.

    TARGET is an Ollama model, a stored model name, a GGUF path, a Modelfile or a folder
    holding one. Exit status 1 when a
    reply rambles to the token budget, is cut at the start or leaks turn markers.

    \b
    Examples:
      forge check smollm2-135m
      forge check models/qwen/qwen2.5-0.5b-instruct-q4_k_m.gguf -f models/qwen/Modelfile
      forge check qwen --backend ollama -p "Name three colours." --json
    """
    from ..workflows.check import DEFAULT_MAX_TOKENS, check

    if tools or think:
        _live(target, modelfile, backend, host, as_json, tools, think, max_tokens)
        return
    with Status() as status:
        report = check(
            target,
            modelfile=modelfile,
            max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
            prompts=list(prompts) or None,
            backend=backend,  # type: ignore[arg-type]
            host=host,
            progress=status,
        )
    if as_json:
        from .console import print_json

        print_json(report.model_dump(mode="json"))  # a failure below adds no second JSON document
    else:
        _print_report(report)
    report.raise_for_failure()


def _live(
    target: str | None,
    modelfile: str | None,
    backend: str,
    host: str | None,
    as_json: bool,
    tools: bool,
    think: bool,
    max_tokens: int | None,
) -> None:
    """forge check --tools/--think: parsed tool_calls / thinking, from Ollama or the embedded runtime."""
    from pathlib import Path

    from ..errors import CheckFailedError, UsageError
    from ..fidelity.live import live_checks
    from ..workflows.check_live import embedded_live_check
    from .console import safe_text

    if target is None and modelfile is None:
        raise UsageError(
            "--tools/--think need a model: an Ollama model name, a GGUF path or -f MODELFILE",
            hint="forge check NAME --tools   or   forge check model.gguf --tools --backend embedded",
        )
    kinds: list[Literal["tools", "think"]] = []
    if tools:
        kinds.append("tools")
    if think:
        kinds.append("think")
    # A file or -f is served by the embedded runtime (Ollama's Go-template path, its parsers);
    # a name goes to Ollama unless --backend embedded says otherwise.
    embedded = backend == "embedded" or (
        backend == "auto"
        and (modelfile is not None or (target is not None and Path(target).is_file()))
    )
    with Status() as status:
        if embedded:
            results = [
                embedded_live_check(
                    target, kind, modelfile=modelfile, max_tokens=max_tokens or 512, progress=status
                )
                for kind in kinds
            ]
        else:
            status(f"sending {' and '.join(kinds)} requests to Ollama")
            results = live_checks(target or "", kinds, host, max_tokens=max_tokens or 512)
    if as_json:
        from .console import print_json

        print_json([r.model_dump(mode="json") for r in results])
    else:
        for r in results:
            mark = "ok" if r.ok else "FAILED"
            click.echo(
                f"forge check {safe_text(r.model)} --{r.kind}: {mark}: {safe_text(r.verdict)}"
            )
    failed = [r for r in results if not r.ok]
    if failed:
        raise CheckFailedError(
            f"{len(failed)} of {len(results)} live check(s) failed: "
            + "; ".join(f"--{r.kind}: {r.verdict}" for r in failed),
            hint="forge verify NAME shows the server path and whether Ollama parses this model's "
            "tool calls; forge modelfile --template-path native lets Ollama >= 0.30 use the "
            "model's own template",
        )


def _print_report(report: CheckReport) -> None:
    from rich.table import Table
    from rich.text import Text

    from .console import safe_text, stderr_console, stdout_console

    where = (
        f"Ollama {report.ollama_name} at {report.host}"
        if report.backend == "ollama"
        else f"embedded llama.cpp, {report.gguf_path} (Modelfile: {report.modelfile_source})"
    )
    out = stdout_console()
    out.print(Text(f"forge check {safe_text(report.target)}: {safe_text(where)}"))
    out.print(
        Text(
            f"stops: {safe_text(report.stops)}  checked for leaks: {safe_text(report.leak_markers)}"
        )
    )
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
    out.print(
        Text(
            "PASS: the model stops cleanly" if report.passed else "FAIL",
            style="bold green" if report.passed else "bold red",
        )
    )
