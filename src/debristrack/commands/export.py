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
    p = sub.add_parser("export", help="convert a tracks table: CCSDS TDM, MOTChallenge, overlay GIF/PNG",
                       description="Convert a tracks table for other tools. Each output is a view of the table.")
    p.add_argument("tracks", type=Path, metavar="TRACKS", help="tracks CSV (from debristrack track)")
    p.add_argument("--tdm", type=Path, help="CCSDS TDM (KVN) of RA/Dec angles; needs time, ra, dec columns")
    p.add_argument("--station", default="OBSERVER", help="PARTICIPANT_1 of the TDM (default OBSERVER)")
    p.add_argument("--mot", type=Path, help="MOTChallenge text file (frames 1-based, boxes)")
    p.add_argument("--overlay", type=Path, help="OUT.gif (animated) or OUT.png (contact sheet); needs --sequence")
    p.add_argument("--sequence", type=Path, help="the frames the tracks were measured on (for --overlay)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not (args.tdm or args.mot or args.overlay):
        raise InputError("export: give at least one of --tdm, --mot, --overlay")
    if args.overlay and not args.sequence:
        raise InputError("export --overlay needs --sequence (the frames to draw on)")
    for path, what, suffixes in ((args.tdm, "--tdm file", None), (args.mot, "--mot file", None),
                                 (args.overlay, "--overlay image", (".gif", ".png"))):
        if path is not None:
            check_writable(path, what=what, suffixes=suffixes)
    table = read_table(args.tracks)
    if args.tdm:
        n = write_tdm(table, args.tdm, station=args.station)
        say(f"CCSDS TDM with {n} segment(s) -> {args.tdm}")
    if args.mot:
        n = write_motchallenge(table, args.mot)
        say(f"MOTChallenge text, {n} row(s) -> {args.mot}")
    if args.overlay:
        from ..io.sequence import open_sequence

        n = write_overlay(open_sequence(args.sequence), table, args.overlay)
        say(f"overlay of {n} frame(s) -> {args.overlay}")
    return 0
