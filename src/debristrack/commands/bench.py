"""``debristrack bench NAME``: run one benchmark and update its section of BENCHMARKS.md.

Each benchmark is a module ``debristrack.bench.<name>`` with ``add_arguments(parser)`` and
``run(args) -> int``; only the one asked for is imported (``bench sdtnet`` imports torch,
``bench --help`` nothing).
"""

from __future__ import annotations

import argparse
import importlib

from ..config import ArgumentParser

BENCHMARKS = {
    "simulate": "seconds per generated frame, per mode and size",
    "evaluate": "speed of the MOT metrics, and agreement with py-motmetrics/TrackEval",
    "astrometry": "stare-mode WCS propagation error, O-C recovery on a real TLE, pixel->sky speed",
    "identify": "identification against TLE catalogues: correct/wrong/UCT rates, speed for 30,000 objects",
    "parallel": "sequences per minute for simulate and track with 1 and 2 Dask workers",
    "stare": "[GEO] min/median/mean stacking: detection rate, false alarms, s/frame",
    "target": "[TRK] motion lists vs nearest-to-centre: detection rate, s/frame",
    "sidereal": "[SDT] Tab. 2: streak detectors x trackers, MOT metrics, s/frame",
    "sdtnet": "[SDT] SDT-Net shipped weights: MOT metrics on simulated sets, s/frame at 1024x1024 and tiled 4096x4096",
    "sdtnet_real": "SDT-Net on the real frames of bench real beside matched+physical: trails, false tracks, injected MOT",
    "memory": "peak memory of sidereal tracking on one 8192x8192 frame (3 GB) and speed and memory on a 4096x4096 sequence (1.5 s/frame, 1.5 GB)",
    "real": "sidereal methods on real frames: trails found, false tracks per streak-free frame, injected MOT",
    "startup": "start-up time of debristrack --help / --version, as a ratio to python -c pass",
    "solve": "plate solving of the real frames (astrometry.net): solved/tried, s/frame, offset from their own WCS",
    "watch": "live mode: per-frame latency, memory over a night, report build time",
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark and update BENCHMARKS.md",
                       description="Run one benchmark and write its table to BENCHMARKS.md.")
    bsub = p.add_subparsers(dest="bench_name", metavar="NAME", required=True)
    for name, text in BENCHMARKS.items():
        bp = bsub.add_parser(name, help=text, add_help=False)  # its own flags: parsed in run()
        bp.set_defaults(run=run, accepts_extra=True)


def bench_parser(name: str, module) -> ArgumentParser:
    """The full parser of ``debristrack bench NAME``."""
    p = ArgumentParser(prog=f"debristrack bench {name}", description=BENCHMARKS[name])
    module.add_arguments(p)
    return p


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"debristrack.bench.{args.bench_name}")
    words = args.command_argv[args.command_argv.index(args.bench_name) + 1:]
    parsed = bench_parser(args.bench_name, module).parse_args(words)
    parsed.command_argv = args.command_argv
    return int(module.run(parsed) or 0)
