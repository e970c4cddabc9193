"""Progress display for long jobs: a rich progress bar on stderr, silent when not a terminal."""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool | None = None) -> Iterator[Callable[[int, int], None]]:
    """Yield ``update(done, total)``; draws a bar while the block runs (only on a terminal)."""
    console = Console(stderr=True)
    if enabled is None:
        enabled = console.is_terminal
    if not enabled:
        yield lambda done, total: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def say(message: str) -> None:
    """One status line on stderr (stdout stays free for tables and JSON)."""
    print(message, file=sys.stderr, flush=True)
