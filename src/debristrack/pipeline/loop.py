"""The one frame loop: read a sequence frame by frame and drive a method.

A *method* is an object with

- ``step(index, frame) -> Table | None``: take frame ``index`` (0, 1, 2, ... in time order)
  and return the rows it can decide now (None or an empty table: none yet);
- ``finish() -> Table``: the remaining rows, once no frame follows;
- optionally ``prepare(frame)``: per-frame work that needs no state (e.g. the min rule's
  local maximum), run in the read-ahead thread; ``step`` then receives what it returns;
- or ``frame_work(frame)``: per-frame work that needs no state but holds the GIL (``sep``'s
  extraction, target mode), so a thread would only wait for it: run in this thread, or shared
  with helper processes (:func:`share_work`, ``workers > 1``); it pickles; ``step`` receives
  what it returns.

Frames are read one ahead in a worker thread (:func:`read_ahead`): reading a FITS frame and
``prepare`` release the GIL, so on two cores they overlap the method's work on the previous
frame. A method keeps only what its window needs, so the same loop serves a finished
sequence (``debristrack track``) and frames arriving one at a time (:func:`feed`, for
``watch``).
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from astropy.table import Table, vstack

from ..errors import one_line
from ..io.sequence import FrameSequence
from ..parallel import children_ignore_ctrl_c

# A helper process costs about 1.5 s of a core to start (spawn imports the package), so
# helpers start only when the frames after the first would take longer than this here alone.
HELPERS_AFTER_S = 4.0


def read_ahead(frames: Iterable[Any], prepare: Callable[[Any], Any] | None = None) -> Iterator[Any]:
    """Yield ``prepare(frame)`` (or the frame) for each of ``frames``; the next one is read
    and prepared in a thread while the caller works on this one (one frame ahead at most)."""
    it = iter(frames)
    end = object()

    def load():
        frame = next(it, end)
        if frame is end:
            return end
        return prepare(frame) if prepare is not None else frame

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load)
        while (item := pending.result()) is not end:
            pending = pool.submit(load)
            yield item


class _Failed:
    """An exception raised by ``work`` on a frame, passed on when that frame's turn comes."""

    def __init__(self, exc: BaseException):
        try:
            pickle.dumps(exc)
        except Exception:  # a queue drops what it cannot pickle: send its text instead
            exc = RuntimeError(one_line(f"{type(exc).__name__}: {exc}"))
        self.exc = exc


def _claim(counter, n: int) -> int | None:
    """The next frame no process has taken, or None when all are taken."""
    with counter.get_lock():
        k = counter.value
        if k >= n:
            return None
        counter.value = k + 1
        return k


def _attempt(work, frames, k: int):
    try:
        return work(frames[k])
    except Exception as exc:
        return _Failed(exc)


def _help(frames, work, counter, results) -> None:
    """A helper process: work on the frames claimed from ``counter`` until none is left."""
    while (k := _claim(counter, len(frames))) is not None:
        results.put((k, _attempt(work, frames, k)))


def share_work(frames: FrameSequence, work: Callable[[Any], Any], helpers: int, *,
               after_s: float | None = None) -> Iterator[Any]:
    """Yield ``work(frames[k])`` for k = 0, 1, ... in order, the work shared between this
    process and up to ``helpers`` helper processes (for ``work`` that holds the GIL).

    Each process reads the frames it claims from a shared counter itself (``frames`` and
    ``work`` are pickled once per helper; only what ``work`` returns comes back), so the
    results are ``work``'s own whichever process made them, and this process never waits
    for a helper that is still starting. Helpers start after the first frame, when the rest
    would take more than ``after_s`` seconds here (None: :data:`HELPERS_AFTER_S`); otherwise
    this process does them all, the next frame read in the read-ahead thread. An exception
    raised on a frame is raised at that frame's turn; a helper that dies leaves its frame to
    this process.
    """
    n = len(frames)
    if n == 0:
        return
    after_s = HELPERS_AFTER_S if after_s is None else after_s
    t0 = time.perf_counter()
    first = _attempt(work, frames, 0)
    if helpers < 1 or n < 3 or (n - 1) * (time.perf_counter() - t0) <= after_s:
        yield _unwrap(first)
        for frame in read_ahead(frames[k] for k in range(1, n)):
            yield work(frame)
        return
    ctx = multiprocessing.get_context("spawn")  # not fork: this process may run threads
    counter, results = ctx.Value("q", 1), ctx.Queue()
    procs = [ctx.Process(target=_help, args=(frames, work, counter, results), daemon=True)
             for _ in range(helpers)]
    with children_ignore_ctrl_c():
        for p in procs:
            p.start()
    done = {0: first}
    try:
        for k in range(n):
            while k not in done:
                j = _claim(counter, n)
                if j is not None:
                    done[j] = _attempt(work, frames, j)
                else:  # every frame is taken: wait for the helpers'
                    try:
                        j, value = results.get(timeout=1.0)
                    except queue.Empty:
                        died = any(p.exitcode not in (None, 0) for p in procs)
                        if died or not any(p.is_alive() for p in procs):
                            done[k] = _attempt(work, frames, k)  # its helper may have died on it
                        continue
                    if j >= k:  # not a frame already passed on (done twice after a helper died)
                        done.setdefault(j, value)
                while True:  # the helpers' results that are in already
                    try:
                        j, value = results.get_nowait()
                    except queue.Empty:
                        break
                    if j >= k:
                        done.setdefault(j, value)
            yield _unwrap(done.pop(k))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join()


def _unwrap(value):
    if isinstance(value, _Failed):
        raise value.exc
    return value


def feed(method, index: int, frame: Any) -> Table | None:
    """One frame arriving on its own (``watch``): ``prepare`` or ``frame_work``, then ``step``
    (no read-ahead)."""
    for name in ("prepare", "frame_work"):
        if (func := getattr(method, name, None)) is not None:
            frame = func(frame)
    return method.step(index, frame)


def run_method(method, frames: Iterable[Any], *, total: int | None = None,
               progress: Callable[[int, int], None] | None = None,
               timings: list[float] | None = None, workers: int = 1,
               helpers_after_s: float | None = None) -> Table:
    """Drive ``method`` over ``frames`` and return all its rows (steps' then finish's).

    Parameters
    ----------
    method : a method object (module docstring).
    frames : iterable of frames in time order (e.g. a :class:`~debristrack.io.sequence.FrameSequence`).
    total : number of frames, for ``progress(done, total)`` (default ``len(frames)`` when it has one).
    timings : if given, receives the seconds of each ``step`` then of ``finish`` (benchmarks).
    workers : processes that do the method's ``frame_work``, this one included (:func:`share_work`);
        only for a :class:`~debristrack.io.sequence.FrameSequence`. Otherwise it runs here.
    helpers_after_s : :func:`share_work`'s ``after_s`` (benchmarks: 0 starts the helpers at once).
    """
    if total is None and hasattr(frames, "__len__"):
        total = len(frames)
    parts: list[Table] = []
    work = getattr(method, "frame_work", None)
    if work is not None and workers > 1 and isinstance(frames, FrameSequence):
        items = share_work(frames, work, workers - 1, after_s=helpers_after_s)
    else:
        items = read_ahead(frames, getattr(method, "prepare", None))
        if work is not None:  # here: the read-ahead thread reads the next frame meanwhile
            items = map(work, items)
    for index, frame in enumerate(items):
        t0 = time.perf_counter()
        rows = method.step(index, frame)
        if timings is not None:
            timings.append(time.perf_counter() - t0)
        if rows is not None and len(rows):
            parts.append(rows)
        if progress is not None:
            progress(index + 1, total or index + 1)
    t0 = time.perf_counter()
    rest = method.finish()
    if timings is not None:
        timings.append(time.perf_counter() - t0)
    if not parts:
        return rest
    return vstack(parts + ([rest] if len(rest) else []), metadata_conflicts="silent")
