"""The ``forge`` command line.

Each command lives in its own module under :mod:`ollama_forge.cli` and is imported
only when it runs, so ``forge --help`` and ``forge inspect`` stay fast (no torch,
transformers or langchain at start-up). Commands parse options, call one public
library function and print its result. Errors become terminal messages here, in
one place (:func:`main`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from .._version import __version__

# command name -> "module:attribute" (modules relative to ollama_forge.cli)
COMMANDS: dict[str, str] = {
    "inspect": "inspect_cmd:inspect_command",
    "modelfile": "modelfile_cmd:modelfile_command",
    "families": "modelfile_cmd:families_command",
    "verify": "verify_cmd:verify_command",
    "render": "verify_cmd:render_command",
    "quants": "hub_cmd:quants_command",
    "pull-gguf": "hub_cmd:pull_gguf_command",
    "register": "ollama_cmd:register_command",
    "ps": "ollama_cmd:ps_command",
    "list": "ollama_cmd:list_command",
    "show": "ollama_cmd:show_command",
    "rm": "ollama_cmd:rm_command",
    "chat": "llama_cmd:chat_command",
    "check": "llama_cmd:check_command",
    "run-hf": "hf_cmd:run_hf_command",
    "doctor": "doctor_cmd:doctor_command",
    "demo": "demo_cmd:demo_command",
}

SHORT_HELP: dict[str, str] = {
    "inspect": "Summarise a GGUF (local file or Hub repo) and estimate its memory.",
    "modelfile": "Write the Modelfile for a GGUF, matched to its model family.",
    "families": "List model families and how each is detected.",
    "verify": "Prove a Modelfile TEMPLATE renders the model's own chat template.",
    "render": "Print the exact prompt Ollama builds for a conversation.",
    "quants": "List a Hub repo's GGUF variants.",
    "pull-gguf": "Download a verified GGUF variant (shards, projector) from the Hub.",
    "register": "Register a model with Ollama through its blob API.",
    "ps": "Show loaded Ollama models and whether they run on the GPU.",
    "list": "List Ollama models joined with forge's store.",
    "show": "Show an Ollama model's Modelfile, parameters and capabilities.",
    "rm": "Remove an Ollama model.",
    "chat": "Chat with a GGUF through embedded llama.cpp (no Ollama needed).",
    "check": "Prove by real generation that a model stops cleanly.",
    "run-hf": "Run a non-GGUF model through a transformers pipeline.",
    "doctor": "Report devices, extras, Ollama, Hub and disk state.",
    "demo": "Run the offline end-to-end demo on the real Gemma 3 270M GGUF.",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(f"{__name__}.{module_name}")
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static short help so `forge --help` imports no command module.
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="forge")
def cli() -> None:
    """ollama_forge: from a Hugging Face GGUF to a correctly configured Ollama model.

    \b
    Typical flow:
      forge pull-gguf owner/repo --name mymodel
      forge modelfile mymodel
      forge verify mymodel
      forge register mymodel
      forge ps --require-gpu

    Set FORGE_DEBUG=1 to see tracebacks.
    """


def report_error(exc: BaseException) -> int:
    """Turn an exception into a terminal message; return the exit code."""
    from ..config import debug_enabled
    from ..console import safe_text, stderr_console
    from ..errors import ForgeError

    console = stderr_console()
    if debug_enabled():
        console.print_exception(show_locals=False)
    if isinstance(exc, ForgeError):
        console.print(f"[bold red]error:[/bold red] {_escape(safe_text(exc.message))}")
        if exc.hint:
            console.print(f"[bold]fix:[/bold] {_escape(safe_text(exc.hint))}")
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        console.print("[bold red]interrupted[/bold red]")
        return 130
    console.print(f"[bold red]internal error:[/bold red] {_escape(safe_text(f'{type(exc).__name__}: {exc}'))}")
    if not debug_enabled():
        console.print("[bold]fix:[/bold] re-run with FORGE_DEBUG=1 for a traceback and report it")
    return 1


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    try:
        code = cli.main(args=argv, prog_name="forge", standalone_mode=False)
        if isinstance(code, int) and code:  # ctx.exit(n) is returned, not raised, in this mode
            return sys.exit(code)
    except click.exceptions.Exit as exc:
        return sys.exit(exc.exit_code)
    except click.Abort:
        return sys.exit(report_error(KeyboardInterrupt()))
    except click.ClickException as exc:
        exc.show()
        return sys.exit(exc.exit_code)
    except BrokenPipeError:
        return sys.exit(1)
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        return sys.exit(report_error(exc))
    return sys.exit(0)
