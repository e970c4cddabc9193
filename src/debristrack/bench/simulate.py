"""``debristrack bench simulate``: seconds per simulated frame, per mode and frame size.

For each mode (its default preset) and size, one sequence of a few frames is drawn in memory
(:func:`iter_frames`) and once more written to a temporary folder (:func:`simulate_sequence`,
FITS, masks, gt.csv, meta.json). Times include the sequence plan (stars, objects), divided
by the number of frames.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from ..simulate import MODES, iter_frames, make_scene
from ..simulate.dataset import simulate_sequence
from .report import section_preamble, update_section
from ..config import int_at_least


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="1024x1024 only")
    parser.add_argument("--frames", type=int_at_least(1), default=3, help="frames per measurement (default: 3)")
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default: 0)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default: BENCHMARKS.md)")


def measure(mode: str, size: int, *, frames: int, seed: int) -> dict:
    """Time one sequence of ``frames`` frames of ``size`` x ``size`` in ``mode``."""
    scene = make_scene(mode, size=size, frames=frames)
    t0 = time.perf_counter()
    stars = [len(f.stars) for f in iter_frames(scene, seed=seed)]
    render = (time.perf_counter() - t0) / frames
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        simulate_sequence(Path(tmp) / "seq", scene, seed=seed)
        write = (time.perf_counter() - t0) / frames
    return {"mode": mode, "size": size, "stars": sum(stars) / len(stars), "render": render, "write": write}


def run(args: argparse.Namespace) -> int:
    sizes = (1024,) if args.quick else (1024, 4096)
    rows = []
    for size in sizes:
        for mode in MODES:
            row = measure(mode, size, frames=args.frames, seed=args.seed)
            rows.append(row)
            print(f"{mode:9s} {size}x{size}: {row['stars']:.0f} stars, {row['render']:.3f} s/frame in memory, "
                  f"{row['write']:.3f} s/frame written", file=sys.stderr)
    command = "debristrack bench simulate" + (" --quick" if args.quick else "")
    if args.frames != 3:
        command += f" --frames {args.frames}"
    lines = [
        "## Simulator: seconds per frame",
        "",
        section_preamble(command).rstrip(),
        "",
        f"Default preset of each mode, {args.frames} frames per sequence, seed {args.seed}; times include the "
        "sequence plan. *Written* adds the FITS, mask PNG, gt.csv and meta.json files (atomic writes).",
        "",
        "| mode | frame | stars per frame | s/frame in memory | s/frame written |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['size']}x{r['size']} | {r['stars']:.0f} | {r['render']:.3f} | "
                     f"{r['write']:.3f} |")
    update_section("simulate", "\n".join(lines) + "\n", path=args.output)
    print(f"updated {args.output} (section simulate)", file=sys.stderr)
    return 0
