"""The one frame loop: read a sequence frame by frame and drive a method.

A *method* is an object with

- ``step(index, frame) -> Table | None``: take frame ``index`` (0, 1, 2, ... in time order)
  and return the rows it can decide now (None or an empty table: none yet);
- ``finish() -> Table``: the remaining rows, once no frame follows;
- optionally ``prepare(frame)``: per-frame work that needs no state (e.g. the min rule's
  local maximum), run in the read-ahead thread; ``step`` then receives what it returns.

Frames are read one ahead in a worker thread (:func:`read_ahead`): reading a FITS frame and
``prepare`` release the GIL, so on two cores they overlap the method's work on the previous
frame. A method keeps only what its window needs, so the same loop serves a finished
sequence (``debristrack track``) and frames arriving one at a time (:func:`feed`, for
``watch``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from astropy.table import Table, vstack


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


def feed(method, index: int, frame: Any) -> Table | None:
    """One frame arriving on its own (``watch``): ``prepare`` then ``step``, no read-ahead."""
    prepare = getattr(method, "prepare", None)
    return method.step(index, prepare(frame) if prepare is not None else frame)


def run_method(method, frames: Iterable[Any], *, total: int | None = None,
               progress: Callable[[int, int], None] | None = None,
               timings: list[float] | None = None) -> Table:
    """Drive ``method`` over ``frames`` and return all its rows (steps' then finish's).

    Parameters
    ----------
    method : a method object (module docstring).
    frames : iterable of frames in time order (e.g. a :class:`~debristrack.io.sequence.FrameSequence`).
    total : number of frames, for ``progress(done, total)`` (default ``len(frames)`` when it has one).
    timings : if given, receives the seconds of each ``step`` then of ``finish`` (benchmarks).
    """
    import time

    if total is None and hasattr(frames, "__len__"):
        total = len(frames)
    parts: list[Table] = []
    for index, frame in enumerate(read_ahead(frames, getattr(method, "prepare", None))):
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
