"""``debristrack bench memory``: peak memory of ``track --mode sidereal`` on one big frame.

Issue 16 item 12: one 8192x8192 frame must be tracked within 3 GB. The frame is sky noise
with one streak (the run must find it, or the figure would say nothing); ``debristrack track``
runs in a child process and its peak resident set size (``ru_maxrss``) is reported.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

from ..config import int_at_least
from ..io.tables import read_table
from .report import section_preamble, update_section

LIMIT_GB = 3.0


def add_arguments(p) -> None:
    p.add_argument("--size", type=int_at_least(64), default=8192, help="frame size, px (default 8192)")
    p.add_argument("--output", default="BENCHMARKS.md", help="file to update (default BENCHMARKS.md)")


def synthetic_frame(path: Path, size: int, *, seed: int = 0) -> None:
    """A float32 frame of Gaussian sky noise (1000 +- 10 ADU) with one 60 ADU streak."""
    rng = np.random.default_rng(seed)
    data = rng.normal(1000.0, 10.0, (size, size)).astype(np.float32)
    t = np.linspace(0.0, 1.0, 4 * size)
    x = np.rint(size * (0.15 + 0.2 * t)).astype(int)
    y = np.rint(size * (0.3 + 0.05 * t)).astype(int)
    data[y, x] += 60.0
    fits.writeto(path, data, fits.Header({"EXPTIME": 5.0, "DATE-OBS": "2025-01-15T18:00:00"}))


def run(args) -> int:
    with tempfile.TemporaryDirectory(prefix="debristrack-bench-memory-") as tmp:
        frame, out = Path(tmp) / "frame.fits", Path(tmp) / "tracks.csv"
        synthetic_frame(frame, args.size)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "debristrack.cli", "track", str(frame), "--mode", "sidereal",
                        "-o", str(out)], check=True)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the only child process
        found = len(set(read_table(out)["id"])) if out.stat().st_size else 0
    gb = peak / 1e9
    before = (" Issue 16 reported 4.1 GB for this frame size before the fix (sep's pixel stack was sized "
              "to the whole frame)." if args.size == 8192 else "")
    text = (section_preamble(f"debristrack bench memory --size {args.size}")
            + "| frame | mode | peak RSS | limit | streaks found | wall s |\n|---|---|---|---|---|---|\n"
            + f"| {args.size}x{args.size} float32 | sidereal (matched+ocsort) | {gb:.2f} GB | {LIMIT_GB:.0f} GB "
            + f"| {found} of 1 | {seconds:.0f} |\n\n"
            + f"{peak / (args.size * args.size):.1f} bytes per pixel, the interpreter and libraries included.{before}\n")
    update_section("memory", text, args.output)
    print(text)
    return 0 if peak < LIMIT_GB * 1e9 and found == 1 else 1
