"""The option vocabulary shared by every command (docs/cli.md holds the table a test checks).

One spelling per meaning, taken from Ollama and the ``hf`` CLI where they have one
(``-f/--file`` is a Modelfile as in ``ollama create -f``, ``--num-ctx`` is Ollama's num_ctx).
Older spellings stay accepted as hidden aliases so existing scripts keep working: they parse
like the new name but are not shown in ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class Option(click.Option):
    """A click option with hidden alias spellings (``aliases=["--max-ctx"]``).

    The aliases are parsed like the option's own names but kept out of ``opts``, so help, shell
    completion and "did you mean" show only the current spelling.
    """

    def __init__(
        self, param_decls: Sequence[str], *, aliases: Sequence[str] = (), **kwargs: Any
    ) -> None:
        super().__init__([*param_decls, *aliases], **kwargs)
        self.aliases: tuple[str, ...] = tuple(aliases)
        self.opts = [o for o in self.opts if o not in self.aliases]

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        shown = self.opts
        self.opts = [*shown, *self.aliases]
        try:
            super().add_to_parser(parser, ctx)
        finally:
            self.opts = shown


def option(*param_decls: str, aliases: Sequence[str] = (), **kwargs: Any) -> Callable[[F], F]:
    """``click.option`` with hidden ``aliases``."""
    return click.option(*param_decls, cls=Option, aliases=aliases, **kwargs)


class TextOrFile(click.ParamType):  # type: ignore[type-arg]  # generic only in click >= 8.3
    """``TEXT`` or ``@FILE`` (a UTF-8 file's text, trailing newlines dropped); ``@@`` is a literal ``@``."""

    name = "text_or_file"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "TEXT|@FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if text.startswith("@@"):
            return text[1:]
        if not text.startswith("@"):
            return text
        path = Path(text[1:]).expanduser()
        if not path.is_file():
            self.fail(
                f"{text[1:]!r} not found (looked for a text file after @; write @@ for a literal @)",
                param,
                ctx,
            )
        try:
            return path.read_text(encoding="utf-8").rstrip("\n")
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(
                f"cannot read {text[1:]!r}: {exc} (@FILE takes a readable UTF-8 text file)",
                param,
                ctx,
            )


TEXT_OR_FILE = TextOrFile()
#: a file path argument/option: shells complete it as a path (existence is checked by the library,
#: which words every "not found" the same way)
FILE = click.Path(dir_okay=False)
TARGET = click.Path()  # a GGUF path, a stored name or a repo reference: still completed as a path


def json_option(
    help: str = 'Print the result as JSON on stdout (an error as {"error": ...}).',
) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help)


def host_option() -> Callable[[F], F]:
    return click.option(
        "--host",
        default=None,
        metavar="URL",
        help="Ollama server (default: OLLAMA_HOST, else http://127.0.0.1:11434).",
    )


def system_option(
    help: str = "A system message (replaces the Modelfile's SYSTEM).",
) -> Callable[[F], F]:
    return option("-s", "--system", "system", type=TEXT_OR_FILE, default=None, help=help)


def modelfile_option(help: str) -> Callable[[F], F]:
    return option(
        "-f", "--file", "modelfile", aliases=["--modelfile"], type=FILE, default=None, help=help
    )


def max_tokens_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    kwargs.setdefault("type", click.IntRange(min=1))
    kwargs.setdefault("default", None)
    return option(
        "-n",
        "--max-tokens",
        "max_tokens",
        aliases=["--max-new-tokens"],
        metavar="N",
        help=help,
        **kwargs,
    )


def num_ctx_option(help: str, *, minimum: int = 1) -> Callable[[F], F]:
    return option(
        "--num-ctx",
        "num_ctx",
        aliases=["--ctx", "--max-ctx"],
        type=click.IntRange(min=minimum),
        default=None,
        metavar="N",
        help=help,
    )


class ExistingFile(click.Path):
    """A file that must exist, refused with the one "not found" wording (completed as a path)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not Path(str(value)).expanduser().is_file():
            self.fail(f"{str(value)!r} not found (looked for a file)", param, ctx)
        return super().convert(value, param, ctx)


EXISTING_FILE = ExistingFile()
