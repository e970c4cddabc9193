"""``debristrack export TRACKS``: CCSDS TDM, MOTChallenge text, or an overlay of the frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..astrometry.export import write_motchallenge, write_overlay, write_tdm
from ..errors import InputError
from ..io.atomic import check_writable
from ..io.tables import read_table
from ..progress import say


def register(sub) -> None:
    p = sub.add_parser("export", help="convert a tracks table: CCSDS TDM, IOD/UK/RDE, MOTChallenge, overlay GIF/PNG",
                       description="Convert a tracks table for other tools. Each output is a view of the table.")
    p.add_argument("tracks", type=Path, metavar="TRACKS", help="tracks CSV (from debristrack track)")
    p.add_argument("--tdm", type=Path, help="CCSDS TDM (KVN) of RA/Dec angles; needs time, ra, dec columns")
    p.add_argument("--station", help="observer: PARTICIPANT_1 of the TDM (default OBSERVER); for --iod/--uk/--rde "
                                     "the 4-digit COSPAR station number (required)")
    p.add_argument("--iod", type=Path, help="IOD lines (80 columns, G. D. Lewis; angle format 2, J2000), one per "
                                            "position; needs norad/designator columns (debristrack identify)")
    p.add_argument("--uk", type=Path, help="UK (RGO) format lines, one per position")
    p.add_argument("--rde", type=Path, help="R.D.E. format report")
    p.add_argument("--sky", default="G", help="IOD sky condition: E, G, F, P, B or T (default G)")
    p.add_argument("--time-uncertainty", type=float, default=0.1, metavar="S",
                   help="time uncertainty of each position, s (default 0.1)")
    p.add_argument("--position-uncertainty", type=float, default=0.0003, metavar="DEG",
                   help="least position uncertainty, deg (default 0.0003, about 1 arcsec); a track of 3 rows or "
                        "more reports its scatter about uniform motion when larger")
    p.add_argument("--mot", type=Path, help="MOTChallenge text file (frames 1-based, boxes)")
    p.add_argument("--overlay", type=Path, help="OUT.gif (animated) or OUT.png (contact sheet); needs --sequence")
    p.add_argument("--sequence", type=Path, help="the frames the tracks were measured on (for --overlay)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not (args.tdm or args.mot or args.overlay or args.iod or args.uk or args.rde):
        raise InputError("export: give at least one of --tdm, --mot, --overlay, --iod, --uk, --rde")
    if (args.iod or args.uk or args.rde) and not (args.station and args.station.isdigit() and len(args.station) == 4):
        raise InputError("export --iod/--uk/--rde need --station NNNN (the 4-digit COSPAR station number)")
    if not (0 < args.time_uncertainty < float("inf") and 0 < args.position_uncertainty < float("inf")):
        raise InputError("export: --time-uncertainty and --position-uncertainty must be positive numbers")
    if args.overlay and not args.sequence:
        raise InputError("export --overlay needs --sequence (the frames to draw on)")
    for path, what, suffixes in ((args.tdm, "--tdm file", None), (args.mot, "--mot file", None),
                                 (args.overlay, "--overlay image", (".gif", ".png")), (args.iod, "--iod file", None),
                                 (args.uk, "--uk file", None), (args.rde, "--rde file", None)):
        if path is not None:
            check_writable(path, what=what, suffixes=suffixes)
    table = read_table(args.tracks)
    if args.iod or args.uk or args.rde:
        from ..astrometry.iod import write_observer_formats

        for fmt, path, n in write_observer_formats(table, station=args.station, iod=args.iod, uk=args.uk,
                                                   rde=args.rde, sky=args.sky, time_sigma_s=args.time_uncertainty,
                                                   default_position_sigma_deg=args.position_uncertainty):
            say(f"{fmt}: {n} position(s) -> {path}")
    if args.tdm:
        n = write_tdm(table, args.tdm, station=args.station or "OBSERVER")
        say(f"CCSDS TDM with {n} segment(s) -> {args.tdm}")
    if args.mot:
        n = write_motchallenge(table, args.mot)
        say(f"MOTChallenge text, {n} row(s) -> {args.mot}")
    if args.overlay:
        from ..io.sequence import open_sequence

        n = write_overlay(open_sequence(args.sequence), table, args.overlay)
        say(f"overlay of {n} frame(s) -> {args.overlay}")
    return 0
