"""``debristrack evaluate GT PRED``: MOT metrics (and detection figures) of tracks vs ground truth.

GT is a ``gt.csv`` (or a sequence folder holding one) and PRED a results table; or GT is a
dataset root and PRED the results folder with ``<split>/<sequence>.csv``. Prints a table
per sequence plus the combined row (TrackEval's combination), or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import add_dataclass_arguments, dataclass_from_args, to_dict
from ..errors import InputError
from ..evaluate.detection import detection_figures
from ..evaluate.inputs import find_pairs, read_pair
from ..evaluate.mot import MotConfig, MotResult, resolve_kind, track_metrics, with_fwhm
from ..evaluate.report import plot_results, results_document, text_report
from ..io.atomic import PLOT_SUFFIXES, check_writable, write_json_atomic
from ..parallel import Task, add_parallel_arguments, run_tasks
from ..progress import progress_bar, say


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="score tracks against ground truth (HOTA, MOTA, IDF1, ...)",
        description="Score a results table against its ground truth, or every sequence of a "
                    "dataset root against a results folder (<split>/<sequence>.csv). MOT "
                    "metrics are TrackEval's HOTA, CLEAR and Identity; the combined row is "
                    "computed TrackEval's way over all sequences. Point tables also get the "
                    "detection rate, false-alarm rate and position RMS.")
    p.add_argument("gt", metavar="GT", type=Path,
                   help="ground truth: a gt.csv, a sequence folder, or a dataset root")
    p.add_argument("pred", metavar="PRED", type=Path,
                   help="results: a tracks CSV, or for a dataset root the results folder")
    p.add_argument("--kind", choices=("streak", "point"),
                   help="table kind (default: what the GT table's columns say)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="print the results as JSON instead of a table, or write them to FILE")
    p.add_argument("--plot", type=Path, metavar="OUT.png",
                   help="write HOTA/DetA/AssA vs alpha and per-sequence bars to this image")
    add_dataclass_arguments(p, MotConfig, title="matching options")
    add_parallel_arguments(p, default=1)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = dataclass_from_args(MotConfig, args)
    if args.json not in (None, "-"):
        check_writable(args.json, what="--json file")
    if args.plot is not None:
        check_writable(args.plot, what="--plot image", suffixes=PLOT_SUFFIXES)
    pairs = find_pairs(args.gt, args.pred)
    missing = [p for p in pairs if p.pred is None]
    if missing:
        say(f"debristrack: warning: {len(missing)} of {len(pairs)} result files missing under "
            f"{args.pred} (first: {missing[0].name}.csv); counted as empty predictions")

    tasks = [Task(pair.name, score_pair, (pair, args.kind, config)) for pair in pairs]
    with progress_bar("evaluate") as update:
        results = run_tasks(tasks, workers=args.workers, scheduler=args.scheduler,
                            progress=lambda d, f, t: update(d, t, f))
    ok = [r.value for r in results if r.ok]
    kinds = {k for _, k, _, _ in ok}
    if len(kinds) > 1:
        raise InputError(f"{args.gt}: the sequences mix streak and point tables; evaluate them apart")
    kind = kinds.pop() if kinds else args.kind
    per_seq = {name: mot for name, _, mot, _ in ok}
    detection = {name: det for name, _, _, det in ok if det is not None}
    failed = [r for r in results if not r.ok]
    if failed and not ok:
        raise InputError(failed[0].error)
    for r in failed:
        say(f"failed: {r.name}: {r.error}")
    combined = MotResult.combine(per_seq.values())

    if args.json is not None:
        doc = results_document(per_seq, combined, kind=kind, options=to_dict(config),
                               detection=detection or None)
        if args.json == "-":
            json.dump(doc, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            write_json_atomic(args.json, doc)
            say(f"wrote {args.json}")
    else:
        print(text_report(per_seq, combined, detection=detection or None))
    if args.plot is not None:
        plot_results(args.plot, per_seq, combined,
                     title=args.gt.name if len(per_seq) == 1 else "all sequences")
        say(f"wrote {args.plot}")
    return 2 if failed else 0


def score_pair(pair, kind: str | None, config: MotConfig):
    """(name, kind, MotResult, DetectionFigures or None) of one sequence: one runner task."""
    gt, pred = read_pair(pair, kind)
    kind = resolve_kind(gt, pred, kind, gt_name=str(pair.gt), pred_name=str(pair.pred or "empty prediction"))
    try:
        mot = track_metrics(gt, pred, kind=kind, config=with_fwhm(config, pair.fwhm), num_timesteps=pair.frames)
    except InputError as exc:
        raise InputError(f"{pair.gt}: {exc}") from None
    det = detection_figures(gt, pred, radius=config.radius) if kind == "point" else None
    return pair.name, kind, mot, det
