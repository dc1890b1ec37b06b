"""The ``forge`` command line.

Each command lives in its own module under :mod:`ollama_forge.cli` and is imported
only when it runs (or for ``forge --help``, which reads each command's docstring), so no
command pays for torch, transformers or langchain at start-up. Commands parse options, call
one public library function and print its result. Errors become terminal messages here, in
one place (:func:`main`); with ``--json`` the error object goes to stdout as well.
The conventions every command follows (exit codes, option names) are in docs/cli.md.
"""

from __future__ import annotations

import difflib
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
    "help": "help_cmd:help_command",
}
#: other spellings of a command (as ``ollama ls``), not listed separately in ``forge --help``
ALIASES: dict[str, str] = {"ls": "list"}

#: exit codes every command follows (docs/cli.md has the same table; a test compares them)
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "error: the work failed or found a problem (bad file, server error, verify mismatch, check failure)",
    2: "misuse: bad option or argument, a path or name that is not found, a malformed setting",
    130: "interrupted (Ctrl-C)",
}

#: distributions shown by ``forge --version`` (read from package metadata: nothing is imported)
VERSION_PACKAGES: tuple[tuple[str, str], ...] = (
    ("llama-cpp-python", "llama.cpp runtime"),
    ("huggingface_hub", "Hub client"),
    ("ollama", "Ollama Python client"),
)


def load_command(name: str) -> click.Command:
    """The click command for ``name`` (an alias is resolved; the module is imported now)."""
    target = COMMANDS[ALIASES.get(name, name)]
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    command: click.Command = getattr(module, attr)
    return command


def short_help(name: str) -> str:
    """A command's one-line help: the first line of its docstring (the only place it is written)."""
    command = load_command(name)
    return (command.help or "").strip().splitlines()[0].strip() if command.help else ""


def __getattr__(name: str) -> Any:
    if name == "SHORT_HELP":  # computed from the docstrings, kept for callers of the old table
        return {command: short_help(command) for command in COMMANDS}
    raise AttributeError(name)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use; typos get a "did you mean"."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if ALIASES.get(cmd_name, cmd_name) not in COMMANDS:
            return None
        return load_command(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if self.get_command(ctx, name) is None and not name.startswith("-"):
            close = difflib.get_close_matches(name, [*COMMANDS, *ALIASES], n=3, cutoff=0.6)
            guess = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            ctx.fail(f"No such command {name!r}.{guess} (see forge --help)")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, short_help(name)) for name in self.list_commands(ctx)]
        rows += [(alias, f"Same as forge {target}.") for alias, target in sorted(ALIASES.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def versions() -> list[tuple[str, str]]:
    """(what, version) pairs for ``forge --version``: cheap, from package metadata only."""
    import importlib.metadata
    import platform

    rows = [("forge", __version__), ("Python", f"{platform.python_version()} ({sys.executable})")]
    for dist, label in VERSION_PACKAGES:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        rows.append((f"{dist} ({label})", version))
    return rows


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    rows = versions()
    click.echo(f"forge, version {__version__}")
    for what, version in rows[1:]:
        click.echo(f"{what}: {version}")
    ctx.exit()


def _set_verbosity(quiet: bool, verbose: int) -> None:
    import logging

    from .console import set_quiet

    set_quiet(quiet)
    if verbose:
        level = logging.DEBUG if verbose > 1 else logging.INFO
        logging.basicConfig(
            stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
        )
        for logger in ("ollama_forge", "huggingface_hub"):
            logging.getLogger(logger).setLevel(level)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the versions of forge, Python, the llama.cpp runtime and the Hub/Ollama clients.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress or status lines on stderr (errors and warnings stay).",
)
@click.option(
    "-v", "--verbose", count=True, help="Log what forge does on stderr (-vv: debug details)."
)
def cli(quiet: bool, verbose: int) -> None:
    """ollama_forge: from a Hugging Face GGUF to a correctly configured Ollama model.

    \b
    Typical flow:
      forge pull-gguf owner/repo --name mymodel
      forge modelfile mymodel -o
      forge verify mymodel
      forge check mymodel
      forge register mymodel
      forge ps --require-gpu

    forge help COMMAND (or forge COMMAND -h) shows a command's options and examples.
    Exit status: 0 ok, 1 error, 2 misuse (docs/cli.md). FORGE_DEBUG=1 shows tracebacks.
    """
    _set_verbosity(quiet, verbose)


def json_requested(argv: list[str]) -> bool:
    """Whether the command line asks for ``--json`` (an error is then printed as JSON on stdout)."""
    for arg in argv:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def error_object(exc: BaseException) -> dict[str, Any]:
    """What ``--json`` prints on stdout for a failure (:meth:`ForgeError.to_dict` for forge's own)."""
    from ..errors import ForgeError

    if isinstance(exc, ForgeError):
        data = exc.to_dict()
    elif isinstance(exc, click.ClickException):
        data = {"error": "UsageError", "message": exc.format_message()}
    elif isinstance(exc, (KeyboardInterrupt, click.Abort)):
        data = {"error": "Interrupted", "message": "interrupted"}
    else:
        data = {"error": "InternalError", "message": f"{type(exc).__name__}: {exc}"}
    data["exit_code"] = exit_code_of(exc)
    return data


def exit_code_of(exc: BaseException) -> int:
    from ..errors import ForgeError

    if isinstance(exc, ForgeError):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        return exc.exit_code
    if isinstance(exc, (KeyboardInterrupt, click.Abort)):
        return 130
    return 1


def report_error(exc: BaseException) -> int:
    """Turn an exception into a terminal message; return the exit code."""
    from rich.console import Console

    from ..config import debug_enabled
    from ..errors import ForgeError
    from .console import safe_text

    # not stderr_console(): --quiet silences status lines, never errors
    console = Console(stderr=True, highlight=False, soft_wrap=False, emoji=False)
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
    console.print(
        f"[bold red]internal error:[/bold red] {_escape(safe_text(f'{type(exc).__name__}: {exc}'))}"
    )
    if not debug_enabled():
        console.print("[bold]fix:[/bold] re-run with FORGE_DEBUG=1 for a traceback and report it")
    return 1


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _fail(exc: BaseException, as_json: bool) -> int:
    from . import console

    if (
        as_json and not console.json_documents
    ):  # stdout holds one JSON document: the result or the error
        try:
            console.print_json(error_object(exc))
        except BrokenPipeError:
            pass
    if isinstance(exc, click.ClickException):
        exc.show()
        return exc.exit_code
    if isinstance(exc, click.Abort):
        exc = KeyboardInterrupt()
    return report_error(exc)


def _run(args: list[str], as_json: bool) -> int:
    try:
        code = cli.main(args=args, prog_name="forge", standalone_mode=False)
        return (
            code if isinstance(code, int) else 0
        )  # ctx.exit(n) is returned, not raised, in this mode
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        return 1
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        return _fail(exc, as_json)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    import logging
    import time
    import warnings

    from ..errors import ForgeWarning
    from . import console

    args = list(sys.argv[1:] if argv is None else argv)
    console.json_documents = 0
    started = time.perf_counter()
    with (
        warnings.catch_warnings()
    ):  # the library warns (ForgeWarning); the CLI prints "warning: ..."
        warnings.simplefilter("always", ForgeWarning)
        warnings.showwarning = console.show_warning
        code = _run(args, json_requested(args))
    # shown with forge -v: where the time went, and how the command ended
    logging.getLogger("ollama_forge.cli").info(
        "exit %d after %.2f s", code, time.perf_counter() - started
    )
    return sys.exit(code)
