"""``debristrack report RESULTS -o night.html``: the night on one self-contained HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..progress import progress_bar, say


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="one HTML page of a night: summary, overlays per track, sky plot, evaluation",
        description="Make one self-contained HTML page (pictures embedded, no server, no network) from a "
                    "watch output folder, a tracks CSV, or the results folder of a dataset.")
    p.add_argument("results", type=Path, metavar="RESULTS",
                   help="a debristrack watch output folder, a tracks CSV, or a results folder (<split>/<seq>.csv)")
    p.add_argument("-o", "--output", type=Path, default=Path("night.html"), help="the page (default night.html)")
    p.add_argument("--sequence", type=Path,
                   help="the frames the tracks were measured on (for a results folder: the dataset root); "
                        "a watch folder knows its own")
    p.add_argument("--gt", type=Path, help="ground truth of one tracks table (default: gt.csv beside the frames)")
    p.add_argument("--title", default="debristrack night report", help="the page title")
    p.add_argument("--cutouts", type=int, default=6, metavar="N", help="cut-outs per track (default 6)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..report import build_report, find_night

    if args.cutouts < 1:
        raise InputError(f"--cutouts must be at least 1, got {args.cutouts}")
    entries = find_night(args.results, sequence=args.sequence, gt=args.gt)
    check_writable(args.output)
    with progress_bar("report") as update:
        reports = build_report(entries, args.output, title=args.title, per_track=args.cutouts, progress=update)
    tracks = sum(r.summary["tracks"] for r in reports)
    say(f"report of {len(reports)} sequence(s), {tracks} track(s) -> {args.output}")
    return 0


def check_writable(path: Path) -> None:
    """InputError unless ``path`` can be written (checked before the work)."""
    import os

    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{path}: the report is an HTML page; name it .html")
    parent = path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if path.is_dir() or not os.access(parent if not path.exists() else path, os.W_OK):
        raise InputError(f"{path}: cannot write here")
