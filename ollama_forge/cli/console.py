"""Terminal output helpers: data to stdout, progress, warnings and logs to stderr (only cli/ prints).

Strings that come from GGUF files, the Hub or Ollama are untrusted: pass them
through :func:`safe_text` (from :mod:`ollama_forge.text`) before printing so ANSI escapes and
control characters cannot repaint the terminal.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import TYPE_CHECKING, Any

from ..text import human_bytes, safe_text, scrub_surrogates

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = [
    "human_bytes",
    "safe_text",
    "scrub_surrogates",
]  # re-exported: the CLI's one import for output

#: ``forge -q``: status and progress lines on stderr are dropped (errors and warnings are not)
_QUIET = False
#: JSON documents written to stdout by :func:`print_json` (the CLI prints an error object only if none was)
json_documents = 0


def set_quiet(quiet: bool) -> None:
    global _QUIET
    _QUIET = quiet


def stderr_console(*, always: bool = False) -> Console:
    """The console for status lines on stderr (silent under ``forge -q`` unless ``always``)."""
    from rich.console import Console

    return Console(
        stderr=True, highlight=False, soft_wrap=False, emoji=False, quiet=_QUIET and not always
    )


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, emoji=False)


def print_json(data: Any) -> None:
    """Write JSON to stdout (stable key order as given, UTF-8, trailing newline)."""
    global json_documents
    text = json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)
    json_documents += 1
    sys.stdout.write(scrub_surrogates(text) + "\n")
    sys.stdout.flush()


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    from pathlib import PurePath

    if isinstance(obj, PurePath):
        return str(obj)
    return str(obj)


def info(message: str) -> None:
    """A log line on stderr (rich markup allowed; escape untrusted parts with safe_text)."""
    stderr_console().print(message)


def warn(message: str) -> None:
    stderr_console(always=True).print(f"[yellow]warning:[/yellow] {message}")


def make_progress(*, transient: bool = False, disable: bool = False) -> Progress:
    """A rich progress display on stderr with bytes, rate and ETA columns."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        # rich before 15 still writes a newline when a disabled display stops: give it a quiet console
        console=stderr_console() if not disable else _quiet_console(),
        transient=transient,
        disable=disable,
    )


def _quiet_console() -> Console:
    from rich.console import Console

    return Console(quiet=True)


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` while a command runs: the library's ForgeWarnings as ``warning: ...``."""
    from rich.markup import escape

    from ..errors import ForgeWarning

    if issubclass(category, ForgeWarning):
        warn(escape(safe_text(str(message))))
    else:
        _ORIGINAL_SHOWWARNING(message, category, filename, lineno, file, line)


_ORIGINAL_SHOWWARNING = warnings.showwarning
