"""Helpers of the watch tests: small frames with times, a writer that copies them into a folder at
a cadence (each file in two halves, so a half-written file exists for a while), and a small
windowed method with the frame loop's contract (a test double for the machinery, not a pipeline
method: it marks the brightest pixel, deciding each frame's row two frames later, the last two at
``finish``)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time, TimeDelta

from debristrack.io.tables import empty_table


def make_frames(folder: Path, n: int, *, size: int = 48, seed: int = 0, cadence: float = 10.0) -> list[Path]:
    """``n`` FITS frames with DATE-OBS/EXPTIME and one bright moving point; returns the paths."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = Time("2025-01-15T18:00:00", scale="utc")
    paths = []
    for k in range(n):
        data = rng.normal(100, 5, (size, size)).astype(np.float32)
        data[(5 + 2 * k) % size, (7 + 3 * k) % size] += 500
        hdu = fits.PrimaryHDU(data)
        hdu.header["DATE-OBS"] = (t0 + TimeDelta(k * cadence, format="sec")).isot
        hdu.header["EXPTIME"] = 5.0
        path = folder / f"{k:06d}.fits"
        hdu.writeto(path)
        paths.append(path)
    return paths


class SlowWriter(threading.Thread):
    """Copies ``sources`` into ``dest`` one every ``cadence`` seconds, each file written in two
    halves ``half_pause`` seconds apart (a camera still writing it)."""

    def __init__(self, sources: list[Path], dest: Path, *, cadence: float = 0.15, half_pause: float = 0.3):
        super().__init__(daemon=True)
        self.sources, self.dest, self.cadence, self.half_pause = sources, dest, cadence, half_pause
        self.done = threading.Event()

    def run(self) -> None:
        self.dest.mkdir(parents=True, exist_ok=True)
        for src in self.sources:
            raw = src.read_bytes()
            with open(self.dest / src.name, "wb") as fh:
                fh.write(raw[: len(raw) // 2])
                fh.flush()
                time.sleep(self.half_pause)
                fh.write(raw[len(raw) // 2:])
            time.sleep(self.cadence)
        self.done.set()


def copy_all(sources: list[Path], dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for src in sources:
        shutil.copy2(src, dest / src.name)


CRASH = {"at": None}  # a crash outside the method's state (a checkpoint does not carry it)


class BrightestLagged:
    """Row ``frame,id,x,y`` of the brightest pixel of each frame, decided ``lag`` frames later."""

    def __init__(self, lag: int = 2, crash_at: int | None = None):
        self.lag, self.crash_at = lag, crash_at
        self.pending: list[tuple[int, float, float]] = []
        self.steps = 0

    def step(self, index, frame):
        if index in (self.crash_at, CRASH["at"]):
            raise RuntimeError(f"crash at frame {index}")
        y, x = np.unravel_index(int(np.argmax(frame.data)), frame.data.shape)
        self.pending.append((index, float(x), float(y)))
        self.steps += 1
        if len(self.pending) > self.lag:
            return _table([self.pending.pop(0)])
        return None

    def finish(self):
        rows, self.pending = self.pending, []
        return _table(rows)


def _table(rows) -> Table:
    if not rows:
        return empty_table("point")
    f, x, y = zip(*rows)
    return Table([np.asarray(f, np.int64), np.ones(len(f), np.int64), np.asarray(x), np.asarray(y)],
                 names=("frame", "id", "x", "y"))


def batch(method, seq) -> Table:
    """The method over a finished sequence, every row (what ``track`` would write)."""
    from astropy.table import vstack

    parts = [method.step(i, f) for i, f in enumerate(seq)] + [method.finish()]
    return vstack([p for p in parts if p is not None and len(p)])
