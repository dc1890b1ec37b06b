"""The read loop shared by the interactive chats (``forge chat``, ``forge run-hf``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.console import Console

EXIT_WORDS = {"/bye", "/exit", "/quit"}


def user_lines(err: Console) -> Iterator[str]:
    """Non-empty lines typed at a ``>>>`` prompt (on stderr) until /bye, EOF or Ctrl-C."""
    while True:
        try:
            text = click.prompt(">>>", prompt_suffix=" ", default="", show_default=False, err=True)
        except (EOFError, click.Abort):
            err.print()
            return
        if text.strip() in EXIT_WORDS:
            return
        if text.strip():
            yield text
