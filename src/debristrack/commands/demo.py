"""``debristrack demo``: simulate one small sequence per mode, track it, score it.

The whole product on built-in data in under a minute: the README's first command.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..config import int_at_least
from ..evaluate.detection import detection_figures
from ..evaluate.mot import evaluate_tracks
from ..io.tables import read_table
from ..simulate.dataset import simulate_dataset
from ..progress import say
from .track import MODES, load_mode, track_path


def register(sub) -> None:
    p = sub.add_parser("demo", help="simulate, track and score one small sequence per mode",
                       description="Simulate a small dataset (one sequence per observing mode), track each "
                                   "with its default method and score the tracks against the ground truth.")
    p.add_argument("--out", type=Path, default=Path("debristrack-demo"),
                   help="dataset folder (default ./debristrack-demo); tracks go to <out>-tracks/")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="simulation seed (default 0)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rows = []
    for mode in MODES:
        simulate_dataset(args.out, mode=mode, sequences=1, seed=args.seed, split=mode)
        seq_dir = args.out / mode / "seq0000"
        module = load_mode(mode)
        method = module.METHODS[0]
        out = args.out.with_name(args.out.name + "-tracks") / mode / "seq0000.csv"
        start = time.perf_counter()
        track_path(mode, seq_dir, out, method=method, config=module.Config())
        seconds = time.perf_counter() - start
        gt, pred = read_table(seq_dir / "gt.csv"), read_table(out)
        mot = evaluate_tracks(gt, pred)
        frames = int(gt.meta.get("frames", 0)) or len(list((seq_dir / "frames").glob("*.fits")))
        det = detection_figures(gt, pred) if mode != "sidereal" else None
        rows.append((mode, method, frames, len(set(gt["id"])), len(set(pred["id"])) if len(pred) else 0,
                     mot["HOTA"], mot["MOTA"], mot["IDF1"],
                     det.detection_rate if det else float("nan"), seconds / max(frames, 1), out))
    print(f"{'mode':<9} {'method':<16} {'frames':>6} {'objects':>7} {'tracks':>6} {'HOTA':>6} {'MOTA':>6} "
          f"{'IDF1':>6} {'det.rate':>8} {'s/frame':>8}")
    for mode, method, frames, n_gt, n_pred, hota, mota, idf1, rate, spf, _ in rows:
        rate_text = f"{rate:8.3f}" if rate == rate else f"{'-':>8}"
        print(f"{mode:<9} {method:<16} {frames:>6} {n_gt:>7} {n_pred:>6} {hota:6.3f} {mota:6.3f} {idf1:6.3f} "
              f"{rate_text} {spf:8.3f}")
    say(f"frames and ground truth in {args.out}/, tracks in {rows[0][-1].parent.parent}/; "
        f"look at them with: debristrack export {rows[1][-1]} --overlay stare.gif --sequence {args.out}/stare/seq0000")
    return 0
