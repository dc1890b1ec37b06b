"""Terminal output helpers: data to stdout, progress and logs to stderr.

Strings that come from GGUF files, the Hub or Ollama are untrusted: pass them
through :func:`safe_text` before printing so ANSI escapes and control characters
cannot repaint the terminal.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

#: ``forge -q``: status and progress lines on stderr are dropped (errors and warnings are not)
_QUIET = False
#: JSON documents written to stdout by :func:`print_json` (the CLI prints an error object only if none was)
json_documents = 0

_CONTROL = {i: f"\\x{i:02x}" for i in range(32) if chr(i) not in "\n\t"}
_CONTROL[0x7F] = "\\x7f"
for _i in range(0x80, 0xA0):
    _CONTROL[_i] = f"\\x{_i:02x}"


def scrub_surrogates(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates as U+FFFD (as Go decodes JSON).

    Python strings can hold lone surrogates (JSON or template escapes); no UTF-8 encoder
    accepts them, so text bound for a terminal, a file or a server goes through here.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def safe_text(value: object, *, keep_newlines: bool = True, limit: int | None = None) -> str:
    """Escape control characters (ANSI escapes, \\r, C1 controls) in untrusted text."""
    text = scrub_surrogates(str(value))
    table = dict(_CONTROL)
    if not keep_newlines:
        table[ord("\n")] = "\\n"
        table[ord("\t")] = "\\t"
    text = text.translate(table)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    return text


def human_bytes(value: int | None, *, unknown: str = "unknown") -> str:
    """Binary-unit sizes for humans: ``512 B``, ``235.16 MiB`` (Ollama's own decimal format is in ollama.ps)."""
    if value is None:
        return unknown
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} TiB"


def set_quiet(quiet: bool) -> None:
    global _QUIET
    _QUIET = quiet


def stderr_console(*, always: bool = False) -> Console:
    """The console for status lines on stderr (silent under ``forge -q`` unless ``always``)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=False, emoji=False, quiet=_QUIET and not always)


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
