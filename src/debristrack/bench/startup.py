"""``debristrack bench startup``: start-up time of ``debristrack --help`` and ``--version``.

Each command runs in a fresh interpreter (``python -m debristrack.cli ...``), best of
``--repeat`` runs, against ``python -c pass`` on the same machine in the same run: the ratio
is what the start-up costs beyond Python itself. A second interpreter per command reports
which heavy modules the command imported (none is the aim: the CLI imports a command's
module only when that command runs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .report import section_preamble, update_section

HEAVY = ("numpy", "astropy", "scipy", "torch", "dask", "cv2", "matplotlib")
COMMANDS = (("python -c pass", ["-c", "pass"]),
            ("debristrack --help", ["-m", "debristrack.cli", "--help"]),
            ("debristrack --version", ["-m", "debristrack.cli", "--version"]),
            ("debristrack track --help", ["-m", "debristrack.cli", "track", "--help"]))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=7, help="runs per command, the best counts (default: 7)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default: BENCHMARKS.md)")


def _env() -> dict:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])  # the folder holding the debristrack package
    env["PYTHONPATH"] = os.pathsep.join([src] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def best_seconds(args: list[str], repeat: int) -> float:
    """Best wall-clock seconds of ``python ARGS`` over ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *args], env=_env(), check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def heavy_imports(args: list[str]) -> list[str]:
    """The :data:`HEAVY` modules imported by ``python ARGS`` (run through runpy with exit caught)."""
    if args[0] != "-m":
        return []
    code = ("import runpy, sys\n"
            f"sys.argv = ['debristrack'] + {args[2:]!r}\n"
            "try:\n    runpy.run_module('debristrack.cli', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            f"print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=_env(), check=True, capture_output=True, text=True)
    last = [line for line in out.stdout.splitlines() if line.startswith("HEAVY:")][-1]
    return [m for m in last[len("HEAVY:"):].split(",") if m]


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        from ..errors import InputError

        raise InputError(f"bench startup: --repeat must be at least 1, got {args.repeat}")
    rows = []
    base = None
    for label, argv in COMMANDS:
        s = best_seconds(argv, args.repeat)
        base = base if base is not None else s
        heavy = heavy_imports(argv)
        rows.append(f"| `{label}` | {s:.3f} | {s / base:.2f} | {', '.join(heavy) or 'none'} |")
    command = "debristrack bench " + " ".join(getattr(args, "command_argv", ["startup"]))
    md = ("## Start-up\n\n" + section_preamble(command)
          + f"Best of {args.repeat} runs, each in a fresh interpreter; ratio to `python -c pass` in the same run.\n\n"
          "| command | seconds | ratio to `python -c pass` | heavy modules imported |\n|---|---:|---:|---|\n"
          + "\n".join(rows) + "\n")
    update_section("startup", md, args.output)
    print(md)
    return 0
