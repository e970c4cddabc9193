"""The ``debristrack`` command line: a thin layer over the Python API.

Each sub-command lives in ``debristrack.commands.<name>`` with two functions,
``register(subparsers)`` and ``run(args) -> int``. Only the module of the command given is
imported (``--help`` and ``--version`` import none: no numpy, astropy or torch at start-up).
Bad input (:class:`InputError`) is printed as one line and exits with code 2; an interrupted
run exits with 130.
"""

from __future__ import annotations

import importlib
import sys

from . import __version__
from .config import ArgumentParser
from .errors import InputError, one_line

# name -> the one-line help of ``debristrack --help`` (the same text as the module's
# ``register``; tests/test_cli.py checks they agree)
COMMANDS = {
    "demo": "simulate, track and score one small sequence per mode",
    "simulate": "simulate a dataset with ground truth",
    "track": "detect and track moving objects in a FITS sequence or a dataset",
    "solve": "plate-solve frames without a WCS (astrometry.net), sidecar .wcs files",
    "watch": "track frames live as they are written into a folder",
    "evaluate": "score tracks against ground truth (HOTA, MOTA, IDF1, ...)",
    "residuals": "O-C accuracy of a track against a TLE or an ephemeris",
    "identify": "identify tracks against a TLE catalogue (NORAD id or UCT)",
    "export": "convert a tracks table: CCSDS TDM, IOD/UK/RDE, MOTChallenge, overlay GIF/PNG",
    "report": "one HTML page of a night: summary, overlays per track, sky plot, evaluation",
    "bench": "run a benchmark and update BENCHMARKS.md",
    "train": "train SDT-Net on simulated data",
}


def build_parser(command: str | None = None) -> ArgumentParser:
    """The parser; only ``command``'s module is imported and registered in full."""
    parser = ArgumentParser(
        prog="debristrack",
        description="Find and track space debris and satellites in optical image sequences.",
    )
    parser.add_argument("--version", action="version", version=f"debristrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in COMMANDS.items():
        if name == command:
            importlib.import_module(f"debristrack.commands.{name}").register(sub)
        else:
            sub.add_parser(name, help=text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # the command is the first word that is not an option (the top level has no valued options)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if extra and not getattr(args, "accepts_extra", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.extra = extra
        # the words after the sub-command, for commands that parse again once a mode is known
        args.command_argv = argv[argv.index(args.command) + 1:]
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"debristrack: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permissions changed mid-run: the OS names the file
        print(f"debristrack: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("debristrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
