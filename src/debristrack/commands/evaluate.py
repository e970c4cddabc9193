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
from ..io.atomic import write_json_atomic
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = dataclass_from_args(MotConfig, args)
    pairs = find_pairs(args.gt, args.pred)
    missing = [p for p in pairs if p.pred is None]
    if missing:
        say(f"debristrack: warning: {len(missing)} of {len(pairs)} result files missing under "
            f"{args.pred} (first: {missing[0].name}.csv); counted as empty predictions")

    per_seq: dict[str, MotResult] = {}
    detection = {}
    kind = args.kind
    with progress_bar("evaluate") as update:
        for done, pair in enumerate(pairs):
            gt, pred = read_pair(pair, kind)
            kind = resolve_kind(gt, pred, kind, gt_name=str(pair.gt),
                                pred_name=str(pair.pred or "empty prediction"))
            cfg = with_fwhm(config, pair.fwhm)
            try:
                per_seq[pair.name] = track_metrics(gt, pred, kind=kind, config=cfg,
                                                   num_timesteps=pair.frames)
            except InputError as exc:
                raise InputError(f"{pair.gt}: {exc}") from None
            if kind == "point":
                detection[pair.name] = detection_figures(gt, pred, radius=config.radius)
            update(done + 1, len(pairs))
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
    return 0
