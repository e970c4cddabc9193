"""``debristrack bench evaluate``: speed of the metrics, and agreement with the peers.

    debristrack bench evaluate [--frames 200] [--objects 20] [--repeat 3] [--seed 0]

Agreement: TUD-Campus and TUD-Stadtmitte (py-motmetrics' test data, tests/data/) scored with
box IoU, our figures beside the published py-motmetrics and TrackEval 1.3.0 values.

Speed: builds a streak ground truth of ``objects`` straight-moving streaks over ``frames`` frames
and a prediction with endpoint noise, missed frames, false alarms and one id switch per
track; prints the best-of-``repeat`` time of the similarity alone and of the whole metric
computation (similarity + TrackEval HOTA, CLEAR, Identity), for the thick-line and box
similarities and for the point table of the streak midpoints.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..errors import InputError
from ..evaluate import MotConfig, detection_figures, track_metrics
from ..evaluate.motchallenge import box_track_metrics, read_motchallenge
from ..geometry.similarity import streak_iou_pairs
from .report import section_preamble, update_section
from ..config import int_at_least


def synthetic(frames: int, objects: int, rng: np.random.Generator) -> tuple[Table, Table]:
    """Streak GT and a noisy prediction with misses, false alarms and id switches."""
    t = np.repeat(np.arange(frames), objects)
    k = np.tile(np.arange(objects), frames)
    start = rng.uniform(100, 1900, (objects, 2))
    vel = rng.uniform(-4, 4, (objects, 2))
    half = rng.uniform(5, 20, objects)[:, None] * np.stack([np.cos(a := rng.uniform(0, np.pi, objects)),
                                                             np.sin(a)], axis=1)
    centre = start[k] + vel[k] * t[:, None]
    gt_seg = np.concatenate([centre - half[k], centre + half[k]], axis=1)
    gt = Table([t, k + 1, *gt_seg.T], names=("frame", "id", "x1", "y1", "x2", "y2"))
    keep = rng.random(len(t)) > 0.05
    pred_id = k + 1 + 1000 * (t > rng.integers(0, frames, objects)[k])
    pred_seg = gt_seg + rng.normal(0, 0.8, gt_seg.shape)
    n_fa = frames * objects // 20
    fa_t = rng.integers(0, frames, n_fa)
    fa_c = rng.uniform(0, 2000, (n_fa, 2))
    fa_seg = np.concatenate([fa_c - 5, fa_c + 5], axis=1)
    pred = Table([np.concatenate([t[keep], fa_t]), np.concatenate([pred_id[keep], 5000 + np.arange(n_fa)]),
                  *np.concatenate([pred_seg[keep], fa_seg]).T], names=gt.colnames)
    return gt, pred


def midpoints(table: Table) -> Table:
    return Table([table["frame"], table["id"], (table["x1"] + table["x2"]) / 2, (table["y1"] + table["y2"]) / 2],
                 names=("frame", "id", "x", "y"))


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


# Published reference values (tests/data/README.md): name -> (ours key, sequence -> value).
PEER = (
    ("IDF1 (py-motmetrics)", "IDF1", {"TUD-Campus": 0.557659, "TUD-Stadtmitte": 0.644619}),
    ("MOTA (py-motmetrics)", "MOTA", {"TUD-Campus": 0.526462, "TUD-Stadtmitte": 0.564014}),
    ("IDS (py-motmetrics)", "IDS", {"TUD-Campus": 7, "TUD-Stadtmitte": 7}),
    ("HOTA (TrackEval 1.3.0)", "HOTA", {"TUD-Campus": 0.391397, "TUD-Stadtmitte": 0.397849}),
    ("DetA (TrackEval 1.3.0)", "DetA", {"TUD-Campus": 0.418047, "TUD-Stadtmitte": 0.392268}),
    ("AssA (TrackEval 1.3.0)", "AssA", {"TUD-Campus": 0.369121, "TUD-Stadtmitte": 0.408841}),
)


def add_arguments(p) -> None:
    p.add_argument("--frames", type=int_at_least(1), default=200, help="frames of the synthetic sequence")
    p.add_argument("--objects", type=int_at_least(1), default=20, help="streaks per frame")
    p.add_argument("--repeat", type=int_at_least(1), default=3, help="best of this many runs")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--peer-data", type=Path, default=Path("tests/data/motmetrics-tud"),
                   help="folder with TUD-Campus/ and TUD-Stadtmitte/ (gt.txt, test.txt)")
    p.add_argument("--quick", action="store_true", help="50 frames, 1 repeat")
    p.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))


def run(args) -> int:
    if args.quick:
        args.frames, args.repeat = 50, 1
    gt, pred = synthetic(args.frames, args.objects, np.random.default_rng(args.seed))
    g = np.stack([np.asarray(gt[c]) for c in ("x1", "y1", "x2", "y2")], axis=1)
    q = np.stack([np.asarray(pred[c]) for c in ("x1", "y1", "x2", "y2")], axis=1)
    gi, pj = np.nonzero(np.asarray(gt["frame"])[:, None] == np.asarray(pred["frame"])[None, :])
    rows = [("thick-segment IoU of all same-frame pairs", best_of(args.repeat, lambda: streak_iou_pairs(
        g[gi], q[pj], width=5.0)), "")]
    for name, cfg in (("thick", MotConfig(similarity="thick", fwhm=2.5)),
                      ("box", MotConfig(similarity="box", fwhm=2.5))):
        dt = best_of(args.repeat, lambda: track_metrics(gt, pred, config=cfg))
        s = track_metrics(gt, pred, config=cfg).summary()
        rows.append((f"MOT metrics, streaks, {name} similarity", dt,
                     f"HOTA {s['HOTA']:.3f}, MOTA {s['MOTA']:.3f}, IDF1 {s['IDF1']:.3f}"))
    gp, pp = midpoints(gt), midpoints(pred)
    rows.append(("MOT metrics, points", best_of(args.repeat, lambda: track_metrics(gp, pp)), ""))
    rows.append(("detection figures, points", best_of(args.repeat, lambda: detection_figures(gp, pp)), ""))

    md = [section_preamble(f"debristrack bench evaluate{' --quick' if args.quick else ''}"),
          f"### Speed: one sequence of {args.frames} frames x {args.objects} streaks "
          f"({len(gt)} GT rows, {len(pred)} result rows, {len(gi)} same-frame pairs), best of {args.repeat}\n",
          "| step | seconds | figures |", "|---|---:|---|"]
    md += [f"| {name} | {dt:.3f} | {extra} |" for name, dt, extra in rows]
    ours = {}
    for seq in ("TUD-Campus", "TUD-Stadtmitte"):
        folder = args.peer_data / seq
        if not folder.is_dir():
            raise InputError(f"{folder}: peer data not found (run from the repository root or give --peer-data)")
        ours[seq] = box_track_metrics(read_motchallenge(folder / "gt.txt"),
                                      read_motchallenge(folder / "test.txt")).summary()
    md += ["", "### Agreement with peers (box IoU >= 0.5), published value / ours\n",
           "| figure | TUD-Campus | TUD-Stadtmitte | largest difference |", "|---|---|---|---:|"]
    for label, key, ref in PEER:
        cells, worst = [], 0.0
        for seq in ("TUD-Campus", "TUD-Stadtmitte"):
            got = ours[seq][key]
            worst = max(worst, abs(got - ref[seq]))
            cells.append(f"{ref[seq]} / {got:.6f}" if isinstance(got, float) else f"{ref[seq]} / {got}")
        md.append(f"| {label} | {cells[0]} | {cells[1]} | {worst:.1e} |")
    update_section("evaluate", "## Evaluation: speed and agreement\n\n" + "\n".join(md), args.output)
    print("\n".join(md))
    return 0
