"""``debristrack bench sdtnet_real``: SDT-Net on the real frames of ``bench real``, beside
the classical default in the same run.

The inputs, the trail scoring (found / annotated, false tracks per streak-free frame) and
the injections (physical streaks added to the real-dev sequences, MOT figures) are those of
:mod:`debristrack.bench.real` (its functions, unchanged); only the rows differ: the default
``matched+physical`` and ``sdtnet`` with the shipped weights (and ``--weights`` more files).
Writes its own BENCHMARKS.md section (``real-sdtnet``).
"""

from __future__ import annotations

import argparse
import re
import dataclasses
import sys
from collections import Counter
from pathlib import Path

from astropy.table import Table, vstack

from ..errors import InputError
from ..evaluate.mot import MotConfig, evaluate_sequences
from . import real
from .report import section_preamble, update_section


def rows_for(weights: list[str]) -> tuple:
    """Rows (name, flag changes, method): the classical default, then SDT-Net per weights file
    (None = shipped) on the input it was trained on (``--sdtnet-input auto``) and on the other
    one (the input ablation, ``, frame input`` or ``, residual input``). The SDT-Net changes
    name the weights, so ``real.run_rows`` never mistakes an SDT-Net row for one that can reuse
    the classical detections."""
    from ..sdtnet.infer import other_input, trained_input

    rows = [("matched+physical", {}, "matched+physical")]
    names = [Path(w).name for w in weights if w is not None]
    for w in weights:
        name = "sdtnet"
        if w is not None:  # a file's name, with its folder where two share it (each run writes weights.pt)
            p = Path(w)
            name = f"sdtnet ({p.name if names.count(p.name) == 1 else f'{p.parent.name}/{p.name}'})"
        flags = dict(sdtnet_weights=w, sdtnet_device="cpu", sdtnet_threads=1)
        rows.append((name, dict(flags, sdtnet_input="auto"), "sdtnet"))
        other = other_input(trained_input(w))
        rows.append((f"{name}, {other} input", dict(flags, sdtnet_input=other), "sdtnet"))
    return tuple(rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shared", type=Path, default=Path("../shared"),
                        help="folder holding real/ and real-dev/ (default ../shared)")
    parser.add_argument("--weights", action="append", default=None,
                        help="an extra SDT-Net weights file to add as a row (repeatable)")
    parser.add_argument("--injections", type=int, default=1,
                        help="injected sets per real-dev sequence (default 1; 0 = none)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default BENCHMARKS.md)")


def run(args: argparse.Namespace) -> int:
    inputs = real.real_inputs(args.shared)
    if not inputs:
        raise InputError(f"bench sdtnet_real: no real inputs under {args.shared} (real/, real-dev/)")
    config = real.Config()
    rows = rows_for([None] + list(args.weights or []))
    tallies = {name: Counter() for name, _, _ in rows}
    per_input = []
    for inp, seq in real._opened(inputs):
        frames = real._Frames(real._frames(seq))
        names = [Path(n).name for n in seq.names]
        inp = dataclasses.replace(inp, trails=real.in_frame_pixels(inp.trails, seq, inp.path))
        print(f"bench sdtnet_real: {inp.pool}/{inp.path.name} ({len(frames)} frame(s))", file=sys.stderr, flush=True)
        results = real.run_rows(frames, frames[0].clean.shape, config, rows=rows)
        cells = []
        for name, (table, _, secs) in results.items():
            found, annotated, false = real.score_tracks(table, names, inp.trails)
            t = tallies[name]
            for key, value in (("found", found), ("annotated", annotated), (f"{inp.pool} found", found),
                               (f"{inp.pool} annotated", annotated), ("seconds", secs), ("frames", len(frames))):
                t[key] += value
            if inp.streak_free:
                for key, value in (("free frames", len(frames)), ("free false", false),
                                   (f"{inp.pool} free frames", len(frames)), (f"{inp.pool} free false", false)):
                    t[key] += value
            else:
                t["annotated-input false"] += false
            cells.append((found, annotated, false))
        per_input.append((inp, len(frames), cells))
    injected = injected_rows(args, config, rows) if args.injections > 0 else None
    alone = alone_rows(args, config, rows)
    command = "debristrack bench sdtnet_real" + "".join(f" --weights {w}" for w in args.weights or [])
    if args.injections != 1:
        command += f" --injections {args.injections}"
    markdown = real.report(tallies, per_input, Counter(), injected, command, "-")
    # bench real's report, retitled; its overlays and validator counts belong to bench real
    markdown = markdown.replace("## Real frames: sidereal methods on real telescope data",
                                "## Real frames: SDT-Net beside the classical default (inputs and scoring of bench real)")
    markdown = markdown.replace(f" Overlays of the `{real.DEFAULT_ROW}` tracks: `-/`.", "")
    markdown = re.sub(r"\n\nTrail validator rejections[^\n]*", "", markdown)
    markdown = markdown.replace("\n\nPer input:", "\n\n" + alone_report(alone) + "\n\nPer input:", 1)
    path = update_section("real-sdtnet", markdown, args.output)
    print(markdown)
    print(f"bench sdtnet_real: wrote {path}", file=sys.stderr)
    return 0


def injected_rows(args, config, rows) -> dict[str, dict]:
    """MOT figures of every row on the real-dev sequences with injected physical streaks (the
    injections of :func:`debristrack.bench.real.inject`, same seeds)."""
    pairs: dict[str, dict] = {name: {} for name, _, _ in rows}
    for inp, base, names in real.real_dev_sequences(args.shared):
        for k in range(args.injections):
            frames, gt = real.inject(base, seed=1000 + 17 * k + len(names))
            ann = [(names.index(f), t) for f, ts in inp.trails.items() if f in names for t in ts]
            ann = [Table({"frame": [f], "id": [100000 + j], "x1": [t[0]], "y1": [t[1]], "x2": [t[2]], "y2": [t[3]]})
                   for j, (f, t) in enumerate(ann)]
            if ann:
                gt = vstack([gt] + ann, metadata_conflicts="silent")
            print(f"bench sdtnet_real: injected {inp.path.name} #{k}", file=sys.stderr, flush=True)
            results = real.run_rows(real._Frames(frames), frames[0].clean.shape, config, rows=rows)
            for name, (table, _, _) in results.items():
                pairs[name][f"{inp.path.name}-{k}"] = (gt, table)
    return {name: evaluate_sequences(p, config=MotConfig(fwhm=2.5))[1].summary() for name, p in pairs.items() if p}


def alone_rows(args, config, rows) -> dict[str, tuple[int, int]]:
    """(false tracks, frames) of every row on each streak-free frame of the real-dev
    sequences run alone: one-frame inputs as those of the real/ test pool (no static sky; the
    frame is its own sequence's first frame), a larger sample of them from the development pool."""
    out = {name: (0, 0) for name, _, _ in rows}
    for inp, frames, names in real.real_dev_sequences(args.shared):
        for k, frame in enumerate(frames):
            if inp.trails.get(names[k]):
                continue
            print(f"bench sdtnet_real: {inp.path.name} frame {k} alone", file=sys.stderr, flush=True)
            for name, (table, _, _) in real.run_rows(real._Frames([frame]), frame.clean.shape, config,
                                                       rows=rows).items():
                false, frames = out[name]
                out[name] = (false + real.score_tracks(table, [names[k]], {})[2], frames + 1)
    return out


def alone_report(alone: dict[str, tuple[int, int]]) -> str:
    frames = max((n for _, n in alone.values()), default=0)
    cells = ", ".join(f"`{name}` {false / n:.2f} ({false})" for name, (false, n) in alone.items() if n)
    return (f"Each streak-free frame of the real-dev sequences alone ({frames} one-frame inputs, as the real/ "
            f"test pool's; the Leonard comet counts as false): false tracks per frame (tracks): {cells}.")
