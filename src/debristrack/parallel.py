"""Run one task per sequence, in-process or on Dask: local cluster or an existing scheduler.

Every dataset-wide command (simulate, track, evaluate, bench) hands its per-sequence work
here. A task is a plain top-level function and its arguments (so it pickles); it writes its
own output atomically, and commands skip sequences whose output already exists, so a killed
run resumes where it stopped. A task that raises is reported with its name and error; the
others carry on.

- ``workers=1`` and no scheduler: a plain loop in this process, no Dask at all.
- ``workers=N`` (None = every core): a ``dask.distributed.LocalCluster`` of N single-threaded
  worker processes on loopback; its dashboard address is printed.
- ``scheduler="tcp://host:8786"``: the work is sent to that existing cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .config import int_at_least
from .errors import InputError, one_line
from .progress import say


@dataclass(frozen=True)
class Task:
    """One unit of work: ``func(*args, **kwargs)``, known to the user as ``name``."""

    name: str
    func: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class TaskResult:
    name: str
    ok: bool
    value: Any = None
    error: str | None = None
    seconds: float = 0.0


def _call(task: Task) -> TaskResult:
    start = time.perf_counter()
    try:
        value = task.func(*task.args, **task.kwargs)
    except InputError as exc:
        return TaskResult(task.name, False, error=one_line(str(exc)), seconds=time.perf_counter() - start)
    except Exception as exc:  # a worker must report, not die: the run goes on with the others
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" at {os.path.basename(last.filename)}:{last.lineno}"
        return TaskResult(task.name, False, error=one_line(f"{type(exc).__name__}: {exc}{where}"),
                          seconds=time.perf_counter() - start)
    return TaskResult(task.name, True, value=value, seconds=time.perf_counter() - start)


def add_parallel_arguments(p, *, default: int | None = None) -> None:
    """--workers / --scheduler, shared by every command that runs over a dataset.

    ``default`` None means every core; commands whose tasks take milliseconds use 1, since
    starting a cluster would cost more than it saves.
    """
    shown = "every core" if default is None else str(default)
    p.add_argument("--workers", type=int_at_least(1), default=default, metavar="N",
                   help=f"sequences run on a local Dask cluster of N worker processes (default: {shown}; "
                        "1 = in this process, no Dask)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="send the sequences to this dask.distributed scheduler (tcp://host:8786)")


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_tasks(tasks: Sequence[Task], *, workers: int | None = None, scheduler: str | None = None,
              progress: Callable[[int, int, int], None] | None = None) -> list[TaskResult]:
    """Run every task; results come back in the order of ``tasks``.

    ``progress(done, failed, total)`` is called after each task finishes.
    """
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    total = len(tasks)
    results: list[TaskResult | None] = [None] * total
    failed = 0
    if scheduler is None and (workers == 1 or total <= 1):
        for i, task in enumerate(tasks):
            results[i] = _call(task)
            failed += not results[i].ok
            if progress:
                progress(i + 1, failed, total)
        return results  # type: ignore[return-value]

    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        n = min(workers or default_workers(), total)
        with children_ignore_ctrl_c():
            # silence_logs: the workers' own log lines (heartbeats lost while the cluster closes);
            # a task's failure comes back as its TaskResult, a lost worker from future.result()
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL)
        say(f"dask: local cluster of {n} worker(s); dashboard {cluster.dashboard_link}")
    try:
        client = Client(cluster if cluster is not None else scheduler, timeout="30s")
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise InputError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    try:
        if cluster is None:
            say(f"dask: scheduler {scheduler}; dashboard {client.dashboard_link}")
        futures = {client.submit(_call, task, key=f"task-{i}-{task.name}", pure=False): i
                   for i, task in enumerate(tasks)}
        done = 0
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as exc:  # the worker itself died (killed, out of memory)
                results[i] = TaskResult(tasks[i].name, False, error=f"worker lost: {exc}")
            done += 1
            failed += not results[i].ok
            if progress:
                progress(done, failed, total)
    except KeyboardInterrupt:
        _quiet_dask()  # closing a cluster mid-task logs tens of lines of cancelled-task noise
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results  # type: ignore[return-value]


@contextlib.contextmanager
def children_ignore_ctrl_c():
    """Start processes with SIGINT ignored (inherited by the Dask nanny and worker processes).

    Ctrl-C goes to the whole foreground process group; each worker would print its own
    KeyboardInterrupt traceback. With SIGINT ignored they never see it, and this process,
    which alone handles it, closes the cluster and prints one line.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _quiet_dask() -> None:
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def summarize(results: Sequence[TaskResult], what: str) -> int:
    """Print failures and a summary line; return the exit code (0, or 2 if any failed)."""
    failed = [r for r in results if not r.ok]
    for r in failed:
        say(f"failed: {r.name}: {r.error}")
    total_s = sum(r.seconds for r in results)
    say(f"{what}: {len(results) - len(failed)} done, {len(failed)} failed, "
        f"{total_s:.1f} s of task time")
    return 2 if failed else 0
