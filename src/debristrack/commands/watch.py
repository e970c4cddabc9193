"""``debristrack watch DIR --mode MODE``: track frames as a camera writes them into DIR.

Each complete frame (readable FITS whose size stopped changing) goes, in time order, through
the same frame loop and method as ``debristrack track``; rows are appended to
``OUT/tracks.csv`` as the method decides them, one line per frame is printed with its latency,
ended tracks get a CCSDS TDM. Ctrl-C (exit 130) or ``--idle SECONDS`` without a new frame
finishes the night; a killed watch started again resumes where it stopped.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from ..config import add_dataclass_arguments, dataclass_from_args, to_dict
from ..errors import InputError
from ..pipeline import MODES
from ..progress import say


def register(sub) -> None:
    p = sub.add_parser(
        "watch", add_help=False, help="track frames live as they are written into a folder",
        description="Process each frame of DIR as soon as its file is complete, through the same methods as "
                    "track. Mode options: debristrack watch --mode MODE --help.")
    _common_arguments(p)
    p.set_defaults(run=run, accepts_extra=True, watch_parser=p)


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-h", "--help", action="store_true", help="show this help (with --mode: its options)")
    p.add_argument("folder", nargs="?", metavar="DIR",
                   help="the folder the frames are written to (or a simulated <sequence>/ with frames/)")
    p.add_argument("--mode", choices=MODES, help="observing mode (required)")
    p.add_argument("--method", help="method of the mode (default: the mode's first)")
    p.add_argument("-o", "--output", type=Path,
                   help="output folder (default DIR-watch/): tracks.csv, journal.csv, watch.json, tdm/")
    p.add_argument("--idle", type=float, metavar="SECONDS",
                   help="finish after this many seconds without a new frame (default: run until Ctrl-C)")
    p.add_argument("--settle", type=float, default=0.2, metavar="SECONDS",
                   help="a file must stay unchanged this long before it is read; also the polling period "
                        "(default 0.2)")
    p.add_argument("--end-after", type=int, default=5, metavar="FRAMES",
                   help="a track with no new row for this many frames has ended: its TDM is written (default 5)")
    p.add_argument("--checkpoint-every", type=int, default=25, metavar="FRAMES",
                   help="save the method's state every this many frames, so a restart replays at most that many "
                        "(0: never, a restart replays the night; default 25)")
    p.add_argument("--wcs", type=Path, metavar="FILE",
                   help="a WCS solved elsewhere for the whole night (stare mode: propagated by the Earth's rotation)")
    p.add_argument("--tle", type=Path, nargs="+", metavar="FILE",
                   help="identify each track when it ends against these TLE files (debristrack identify): "
                        "OUT/identified.csv; with --station, IOD lines tdm/track-NNNN.iod")
    p.add_argument("--site", help="observer for --tle as lat,lon[,height] (default: the frames' OBSGEO headers)")
    p.add_argument("--station", help="4-digit COSPAR station number for the IOD lines (with --tle)")
    p.add_argument("--report", nargs="?", const="", metavar="FILE",
                   help="at the end, write the night report (default OUT/night.html; give it last, "
                        "or as --report=FILE)")
    p.add_argument("--overwrite", action="store_true", help="start again: drop what OUT holds")


def run(args: argparse.Namespace) -> int:
    from ..pipeline import load_mode

    if args.mode is None:
        if args.help:
            args.watch_parser.print_help()
            return 0
        raise InputError("watch: --mode is required (sidereal, stare or target)")
    module = load_mode(args.mode)
    parser = argparse.ArgumentParser(prog=f"debristrack watch --mode {args.mode}", add_help=False,
                                     description=(module.__doc__ or "").strip().split("\n")[0])
    _common_arguments(parser)
    add_dataclass_arguments(parser, module.Config,
                            title=f"{args.mode} options (methods: {', '.join(module.METHODS)})")
    if args.help:
        parser.print_help()
        return 0
    full = parser.parse_args(args.command_argv)
    if full.folder is None:
        raise InputError("watch: give DIR, the folder the frames are written to")
    method = full.method or module.METHODS[0]
    if method not in module.METHODS:
        raise InputError(f"unknown method {method!r} for mode {args.mode}; choose one of {', '.join(module.METHODS)}")
    config = dataclass_from_args(module.Config, full)
    config.validate(f"watch --mode {args.mode}")
    for name in ("idle", "settle"):
        value = getattr(full, name)
        if value is not None and not value >= 0:
            raise InputError(f"--{name} must be a number of seconds >= 0, got {value}")
    if full.end_after < 1:
        raise InputError(f"--end-after must be at least 1 frame, got {full.end_after}")
    if full.checkpoint_every < 0:
        raise InputError(f"--checkpoint-every must be 0 (never) or a number of frames, got {full.checkpoint_every}")
    if (full.site or full.station) and not full.tle:
        raise InputError("watch: --site and --station go with --tle (identification)")
    if full.station and not (full.station.isdigit() and len(full.station) == 4):
        raise InputError(f"watch --station: a 4-digit COSPAR station number, got {full.station!r}")
    folder = Path(full.folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: not a folder; watch needs the folder the frames are written to")
    out = full.output or folder.resolve().with_name(folder.resolve().name + "-watch")
    report = None
    if full.report is not None:
        from .report import check_writable

        report = Path(full.report) if full.report else out / "night.html"
        check_writable(report)

    from ..watch import watch
    from ..watch.live import Identifier
    from ..watch.methods import live_method

    identifier = Identifier(list(full.tle), site_text=full.site, station=full.station) if full.tle else None

    state = {"folder": str(folder.resolve()), "mode": args.mode, "method": method, "config": to_dict(config),
             "wcs": str(full.wcs.resolve()) if full.wcs else None}
    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop now (a restart resumes)
        say("Ctrl-C: finishing after this frame (again to stop at once)")
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = watch(folder, out, make_method=lambda: live_method(args.mode, method, config, where=folder),
                       mode=args.mode, state=state, idle=full.idle, settle=full.settle, wcs_file=full.wcs,
                       end_after=full.end_after, stop=stop, overwrite=full.overwrite,
                       checkpoint_every=full.checkpoint_every or None, identifier=identifier,
                       say=lambda text: print(text, flush=True))
    finally:
        signal.signal(signal.SIGINT, previous)
    if report is not None:
        from ..report import build_report, find_night

        build_report(find_night(out), report)
        say(f"night report -> {report}")
    return 130 if result.interrupted else 0
