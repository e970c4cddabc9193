"""``debristrack simulate``: write a simulated dataset with ground truth.

With no options it writes a small demo dataset (one short sequence per mode) to
``./debristrack-demo``. With ``--mode`` it writes ``--sequences`` sequences of one scene; the
scene's parameters are flags too (``debristrack simulate --mode stare --help`` lists them).
The mode is parsed first and the scene flags from the remaining arguments.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..config import ArgumentParser, add_dataclass_arguments, int_at_least, overrides_from_args
from ..errors import InputError
from ..io.atomic import check_writable
from ..parallel import add_parallel_arguments
from ..simulate.dataset import simulate_dataset
from ..simulate.scenes import MODES, PRESETS, SCENES, SkyScene, make_scene

DEMO_OUT = "debristrack-demo"
DESCRIPTION = ("Simulate FITS sequences of space debris and satellites with ground truth. "
               "Without options: a small demo dataset, one sequence per mode, in ./debristrack-demo.")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-h", "--help", action="store_true", help="show this help (with --mode: the scene flags too)")
    p.add_argument("--mode", choices=MODES, help="observing mode (default: the demo, one sequence per mode)")
    p.add_argument("--preset", metavar="NAME",
                   help="scene preset: " + "; ".join(f"{m}: {', '.join(PRESETS[m])}" for m in MODES)
                   + " (default: the first)")
    p.add_argument("--out", "-o", metavar="DIR", default=DEMO_OUT, help=f"dataset root (default: ./{DEMO_OUT})")
    p.add_argument("--sequences", type=int_at_least(0), default=1, metavar="N", help="sequences to write (default: 1)")
    p.add_argument("--seed", type=int_at_least(0), default=0, metavar="S", help="random seed (default: 0)")
    p.add_argument("--split", metavar="NAME", help="split folder name (default: the mode)")
    p.add_argument("--background", metavar="FILE_OR_FOLDER",
                   help="real FITS image(s) to use as the sky (resampled, cropped or mirror-tiled)")
    p.add_argument("--preview", action="store_true",
                   help="write a contact sheet <split>/<sequence>-preview.png per sequence")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_parallel_arguments(p)


def register(sub) -> None:
    p = sub.add_parser("simulate", help="simulate a dataset with ground truth", description=DESCRIPTION,
                       add_help=False, allow_abbrev=False)
    _common(p)
    p.set_defaults(run=run, accepts_extra=True)


def scene_parser(mode: str | None, preset: str | None) -> tuple[argparse.ArgumentParser, type]:
    """The full parser for ``mode``: common options plus one flag per scene field."""
    cls = SCENES[mode] if mode else SkyScene
    p = ArgumentParser(prog="debristrack simulate", description=DESCRIPTION, add_help=False,
                       allow_abbrev=False)
    _common(p)
    defaults = make_scene(mode, preset) if mode else None
    title = f"{mode} scene options" if mode else "scene options (applied to every mode of the demo)"
    add_dataclass_arguments(p, cls, title=title, defaults=defaults)
    return p, cls


def run(args: argparse.Namespace) -> int:
    parser, cls = scene_parser(args.mode, args.preset if args.mode else None)
    if args.help:
        parser.print_help()
        return 0
    scene_args = parser.parse_args(list(args.extra))
    overrides = overrides_from_args(cls, scene_args)
    out = check_writable(args.out, what="dataset folder", folder=True)
    if args.mode is None:
        if args.preset or args.split:
            raise InputError("--preset and --split need --mode")
        jobs = [(m, None, m) for m in MODES]
    else:
        jobs = [(args.mode, args.preset, args.split or args.mode)]
    for mode, preset, split in jobs:
        simulate_dataset(out, mode=mode, preset=preset, sequences=args.sequences, seed=args.seed, split=split,
                         overrides=overrides, background=args.background, progress=not args.no_progress,
                         preview=args.preview, workers=args.workers, scheduler=args.scheduler)
    for mode, preset, split in jobs:
        print(_summary(out, split, args.sequences, args.preview))
    return 0


def _summary(root: Path, split: str, sequences: int, preview: bool) -> str:
    frames = objects = 0
    shapes: dict[str, int] = {}  # each sequence's own size: a rerun keeps finished ones as they were
    for i in range(sequences):
        meta = json.loads((root / split / f"seq{i:04d}" / "meta.json").read_text(encoding="utf-8"))
        frames += meta["frames"]
        objects += meta["objects"]
        mode, shape = meta["mode"], f"{meta['shape'][1]}x{meta['shape'][0]}"
        shapes[shape] = shapes.get(shape, 0) + 1
    if sequences == 0:
        return f"wrote {root / split}: no sequences"
    first = root / split / "seq0000"
    extra = f", previews {root / split}/seqNNNN-preview.png" if preview else ""
    sizes = next(iter(shapes)) if len(shapes) == 1 else ", ".join(f"{s} ({n} sequences)" for s, n in shapes.items())
    return (f"wrote {root / split}: {sequences} {mode} sequence(s), {frames} frames of "
            f"{sizes}, {objects} objects in ground truth (e.g. {first}/gt.csv){extra}")
