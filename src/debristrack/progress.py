"""Progress display for long jobs: a rich progress bar on stderr, silent when not a terminal."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool | None = None) -> Iterator[Callable[..., None]]:
    """Yield ``update(done, total, failed=0)``; draws a bar while the block runs (on a terminal).

    The bar shows done/total, failures, the rate per minute, elapsed time and time left.
    """
    console = Console(stderr=True)
    if enabled is None:
        enabled = console.is_terminal
    if not enabled:
        yield lambda done, total, failed=0: None
        return
    start = time.monotonic()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[extra]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(description, total=None, extra="")

        def update(done: int, total: int, failed: int = 0) -> None:
            minutes = max(time.monotonic() - start, 1e-9) / 60.0
            extra = f"{done / minutes:.1f}/min" + (f", {failed} failed" if failed else "")
            bar.update(task, completed=done, total=total, extra=extra)

        yield update


def say(message: str) -> None:
    """One status line on stderr (stdout stays free for tables and JSON)."""
    print(message, file=sys.stderr, flush=True)
