"""``debristrack solve SEQUENCE``: plate-solve frames with no WCS or a pointing-only one.

Writes one sidecar ``.wcs`` per frame (beside the frames, or in ``--wcs-dir``); the frames are
never modified, and every later ``debristrack track`` of the sequence reads the sidecars.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..astrometry.solve import MODES, SolveConfig, solve_sequence
from ..io.sequence import mosaic_ccds, open_sequence
from ..progress import progress_bar, say


def register(sub) -> None:
    p = sub.add_parser("solve", help="plate-solve frames without a WCS (astrometry.net), sidecar .wcs files",
                       description="Plate-solve the frames of a sequence that have no WCS or a pointing-only one "
                                   "with astrometry.net's solve-field, once per pointing, and write the solutions "
                                   "as sidecar .wcs files.")
    p.add_argument("sequence", type=Path, metavar="SEQUENCE", help="a folder of FITS frames, a cube or MEF file")
    p.add_argument("--mode", choices=MODES,
                   help="how the telescope moved: sidereal (solve the median stack once), stare (solve the first "
                        "frame, turn it with the Earth for the others), target or none (solve each frame)")
    p.add_argument("--wcs-dir", type=Path, metavar="DIR", help="write the .wcs files here (default: beside the frames)")
    p.add_argument("--time-limit", type=float, default=SolveConfig.time_limit, metavar="SECONDS",
                   help=f"give up one solve after this long (default {SolveConfig.time_limit:g})")
    p.add_argument("--force", action="store_true", help="solve frames that already have a WCS too")
    p.add_argument("--blind", action="store_true", help="ignore the header's pointing and plate scale")
    p.add_argument("--astrometry-config", metavar="FILE",
                   help="an astrometry.cfg naming other index files (default: solve-field's own)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = SolveConfig(time_limit=args.time_limit, use_hints=not args.blind, index_config=args.astrometry_config)
    failed = 0
    for ccd in mosaic_ccds(args.sequence) or [None]:
        seq = open_sequence(args.sequence, ccd=ccd, wcs_dir=args.wcs_dir)
        where = f"{args.sequence}[{ccd}]" if ccd else str(args.sequence)
        with progress_bar(f"solve {where}") as update:
            results = solve_sequence(seq, mode=args.mode, config=config, wcs_dir=args.wcs_dir, force=args.force,
                                     progress=update)
        if not results:
            say(f"{where}: every frame has a WCS already (--force solves them again)")
        for r in results:
            say(r.message)
        failed += sum(r.sidecar is None for r in results)
        say(f"{where}: {sum(r.sidecar is not None for r in results)} of {len(results)} frame(s) have a solution")
    return 1 if failed else 0
