"""The read loop shared by the interactive chats (``forge chat``, ``forge run-hf``).

Lines starting with ``/`` are commands, as in ``ollama run``: ``/?`` lists them, ``/bye``
leaves; each chat passes the commands it supports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

EXIT_WORDS = {"/bye", "/exit", "/quit"}
#: command word -> (usage, what it does); the handler gets the rest of the line
Handler = Callable[[str], None]


def user_lines(
    err: Console, commands: Mapping[str, tuple[str, str, Handler]] | None = None
) -> Iterator[str]:
    """Non-empty lines typed at a ``>>>`` prompt (on stderr) until /bye, EOF or Ctrl-C.

    ``commands`` maps a word (``/clear``) to (usage, help, handler); ``/?`` and ``/help`` list them.
    A handler's :class:`~ollama_forge.errors.ForgeError` is shown and the chat goes on.
    """
    from ..errors import ForgeError

    table = dict(commands or {})
    while True:
        try:
            text = click.prompt(">>>", prompt_suffix=" ", default="", show_default=False, err=True)
        except (EOFError, click.Abort):
            err.print()
            return
        stripped = text.strip()
        if stripped in EXIT_WORDS:
            return
        if stripped.startswith("/"):
            word, _, rest = stripped.partition(" ")
            if word in ("/?", "/help"):
                _print_help(err, table)
            elif word in table:
                try:
                    table[word][2](rest.strip())
                except ForgeError as exc:
                    _print_error(err, exc)
            else:
                err.print(
                    f"Unknown command {word!r}. Type /? for help", markup=False, highlight=False
                )
            continue
        if stripped:
            yield text


def _print_help(err: Console, table: Mapping[str, tuple[str, str, Handler]]) -> None:
    rows = [(usage, about) for usage, about, _ in table.values()]
    rows += [("/bye", "Leave the chat (also Ctrl-D)"), ("/?, /help", "Show these commands")]
    width = max(len(usage) for usage, _ in rows)
    err.print("Available commands:", markup=False, highlight=False)
    for usage, about in rows:
        err.print(f"  {usage.ljust(width)}   {about}", markup=False, highlight=False)


def _print_error(err: Console, exc: BaseException) -> None:
    from ..errors import ForgeError
    from .console import safe_text

    message = exc.message if isinstance(exc, ForgeError) else str(exc)
    err.print(f"error: {safe_text(message)}", markup=False, highlight=False)
    hint = exc.hint if isinstance(exc, ForgeError) else None
    if hint:
        err.print(f"fix: {safe_text(hint)}", markup=False, highlight=False)
