"""The ``debristrack`` command line: a thin layer over the Python API.

Each sub-command lives in ``debristrack.commands.<name>`` with two functions,
``register(subparsers)`` and ``run(args) -> int``. Bad input (:class:`InputError`) is printed
as one line and exits with code 2; an interrupted run exits with 130.
"""

from __future__ import annotations

import importlib
import sys

from . import __version__
from .config import ArgumentParser
from .errors import InputError, one_line

COMMANDS = ("demo", "simulate", "track", "evaluate", "residuals", "export", "bench", "train")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="debristrack",
        description="Find and track space debris and satellites in optical image sequences.",
    )
    parser.add_argument("--version", action="version", version=f"debristrack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"debristrack.commands.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
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
