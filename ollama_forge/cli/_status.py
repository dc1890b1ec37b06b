"""A status line on stderr while long local work runs (loading a model, generating).

The library reports what it is doing through a ``progress(text)`` callback and never prints;
this is the CLI's side: on a terminal a transient spinner with the elapsed time, otherwise one
plain line per step (so logs show where the time went). Silent under ``forge -q``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class Status:
    def __init__(self) -> None:
        from .console import stderr_console

        self.console = stderr_console()
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> Status:
        if self.console.is_terminal and not self.console.quiet:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.progress.start()
        return self

    def __call__(self, text: str) -> None:
        from rich.markup import escape

        from .console import safe_text

        line = escape(safe_text(text, keep_newlines=False, limit=160))
        if self.progress is None:
            self.console.print(f"[dim]{line} ...[/dim]")
        elif self.task is None:
            self.task = self.progress.add_task(line, total=None)
        else:
            self.progress.update(self.task, description=line)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
