"""``debristrack bench watch``: live-mode latency and memory, and the night report's build time.

1. **Latency**, per mode: one simulated sequence (default preset, ``--size``, ``--frames``) is
   copied into an empty folder by a writer thread, one frame every ``--cadence`` seconds (each
   file written in place, as a camera does), while :func:`debristrack.watch.watch` runs with the
   mode's default method (target mode with ``--block`` from ``--target-block``, so its rows come during
   the night). The latency of a frame is the time from its file's last write to its
   journal line on disk (its rows, when the method decides any, are written before it); it
   includes the ``--settle`` wait that tells a complete file from one being written. The
   finish (rows the methods decide at the end, TDM files) is timed apart.
2. **Memory**, per mode: ``--memory-frames`` frames of ``--memory-size`` px (a pool of
   ``--pool`` simulated frames written again with later DATE-OBS, so the night is long but the
   disk use small) go through watch as fast as it takes them; resident memory (VmRSS) after
   50 frames and after the last.
3. **Report**: ``debristrack report`` on the stare-mode output of the memory run (a night of
   ``--memory-frames`` frames): seconds to build the page.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta

from .report import section_preamble, update_section

MODES = ("stare", "target", "sidereal")
TARGET_S = {"stare": 1.0, "target": 1.0, "sidereal": 2.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=4096, help="latency frames: side in px (default 4096)")
    parser.add_argument("--frames", type=int, default=12,
                        help="latency frames per mode (default 12)")
    parser.add_argument("--cadence", type=float, default=4.0,
                        help="seconds between frames written during the latency run (default 4)")
    parser.add_argument("--settle", type=float, default=0.1, help="watch --settle (default 0.1)")
    parser.add_argument("--memory-size", type=int, default=512, help="memory run: side in px (default 512)")
    parser.add_argument("--memory-frames", type=int, default=500, help="memory run: frames (default 500)")
    parser.add_argument("--pool", type=int, default=25, help="memory run: distinct simulated frames (default 25)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes (default all)")
    parser.add_argument("--memory-modes", default=",".join(MODES),
                        help="modes of the memory run (default all; the report is built for stare)")
    parser.add_argument("--target-stars", type=float, default=7000.0,
                        help="target mode: stars per 4096x4096 frame, the density of issue 20's speed target and of "
                             "`bench target`'s speed run (default 7000; 0 = the simulate preset's 2500 per "
                             "megapixel, ~42,000 per 4096x4096 frame)")
    parser.add_argument("--target-block", type=int, default=10,
                        help="target mode: --block of the watch runs (default 10: rows every 10 frames; "
                             "0 = all rows at the finish)")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default: BENCHMARKS.md)")


def rss_mib() -> float:
    """Resident memory of this process now, MiB (VmRSS of /proc/self/status)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _simulate(root: Path, mode: str, size: int, frames: int, seed: int, target_stars: float = 0.0) -> Path:
    from ..simulate import simulate_dataset

    overrides = {"size": size, "frames": frames}
    if mode == "target" and target_stars > 0:
        overrides["star_density"] = target_stars / (4096 * 4096 / 1e6)
    simulate_dataset(root, mode=mode, sequences=1, seed=seed, progress=False, overrides=overrides)
    return root / mode / "seq0000"


def _run_watch(mode: str, live: Path, out: Path, *, settle: float, idle: float, say, block: int = 0):
    from ..commands.track import load_mode
    from ..config import to_dict
    from ..watch import watch
    from ..watch.methods import live_method

    module = load_mode(mode)
    method, config = module.METHODS[0], module.Config()
    if mode == "target" and block:
        config = dataclasses.replace(config, block=block)
    state = {"folder": str(live), "mode": mode, "method": method, "config": to_dict(config), "wcs": None}
    t0 = time.perf_counter()
    result = watch(live, out, make_method=lambda: live_method(mode, method, config, where=live), mode=mode,
                   state=state, idle=idle, settle=settle, say=say)
    return result, time.perf_counter() - t0


def latency_run(mode: str, tmp: Path, args) -> dict:
    """Frames copied at a cadence while watch runs; per-frame latency from the journal."""
    from ..watch.journal import read_journal

    seq = _simulate(tmp / f"lat-{mode}", mode, args.size, args.frames, args.seed, args.target_stars)
    sources = sorted((seq / "frames").glob("*.fits"))
    live = tmp / f"live-{mode}"
    live.mkdir()
    finish_started = []

    def writer():
        for src in sources:
            shutil.copyfile(src, live / src.name)
            time.sleep(args.cadence)

    def say(text):
        if text.startswith("no new frame"):
            finish_started.append(time.perf_counter())
        print(f"  {mode}: {text}", file=sys.stderr)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    result, _ = _run_watch(mode, live, tmp / f"out-{mode}", settle=args.settle, idle=args.cadence + 1.0, say=say,
                           block=args.target_block)
    finish = time.perf_counter() - finish_started[0] if finish_started else float("nan")
    thread.join()
    entries, _ = read_journal(tmp / f"out-{mode}" / "journal.csv")
    lat = np.array([e.latency_s for e in entries if e.kind == "frame"])
    early = sum(e.rows for e in entries if e.kind == "frame")  # rows written before the finish
    shutil.rmtree(live)
    late = lat[len(lat) // 2:]  # after the start (a method built from its first frames holds them)
    return {"mode": mode, "frames": len(lat), "median": float(np.median(lat)), "late": float(np.median(late)),
            "max": float(lat.max()), "finish": finish, "rows": result.rows, "early": early}


def memory_run(mode: str, tmp: Path, args) -> dict:
    """A long night from a pool of frames; RSS after 50 frames and after the last."""
    seq = _simulate(tmp / f"mem-{mode}", mode, args.memory_size, args.pool, args.seed)
    pool = sorted((seq / "frames").glob("*.fits"))
    live = tmp / f"mlive-{mode}"
    live.mkdir()
    processed = threading.Semaphore(3)  # the writer stays at most 3 frames ahead
    rss = {}
    n = args.memory_frames

    with fits.open(pool[0]) as hdul:
        t0 = Time(hdul[0].header["DATE-OBS"], scale="utc")
    with fits.open(pool[1]) as hdul:
        cadence = (Time(hdul[0].header["DATE-OBS"], scale="utc") - t0).to_value("s")

    def writer():
        for k in range(n):
            processed.acquire()
            with fits.open(pool[k % len(pool)]) as hdul:
                hdul[0].header["DATE-OBS"] = (t0 + TimeDelta(k * cadence, format="sec")).isot
                hdul.writeto(live / f"{k:06d}.fits")

    def say(text):
        if text.startswith("frame"):
            processed.release()
            k = int(text.split()[1]) + 1
            if k in (50, n):
                rss[k] = rss_mib()
            if k % 100 == 0:
                print(f"  {mode}: {k} frames, {rss_mib():.0f} MiB", file=sys.stderr)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    result, wall = _run_watch(mode, live, tmp / f"mout-{mode}", settle=args.settle, idle=3.0, say=say,
                              block=args.target_block)
    thread.join()
    nan = float("nan")
    return {"mode": mode, "frames": result.frames, "rss50": rss.get(50, nan), "rss_end": rss.get(n, nan),
            "s_per_frame": wall / max(result.frames, 1), "out": str(tmp / f"mout-{mode}"), "live": str(live)}


def memory_run_fresh(mode: str, tmp: Path, args) -> dict:
    """:func:`memory_run` in a new process, so the resident memory is this night's alone."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(memory_run, (mode, tmp, args))


def run(args: argparse.Namespace) -> int:
    from ..report import build_report, find_night

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    load = os.getloadavg()[0]
    lat, mem = [], []
    report_s = None
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        tmp = Path(tmp)
        for mode in modes:
            lat.append(latency_run(mode, tmp, args))
            print(f"{mode}: latency median {lat[-1]['median']:.2f} s, max {lat[-1]['max']:.2f} s", file=sys.stderr)
        for mode in [m for m in modes if m in args.memory_modes.split(",")]:
            mem.append(memory_run_fresh(mode, tmp, args))
            m = mem[-1]
            print(f"{mode}: RSS {m['rss50']:.0f} MiB after 50 frames, {m['rss_end']:.0f} after {m['frames']}",
                  file=sys.stderr)
            if mode == "stare":
                t0 = time.perf_counter()
                build_report(find_night(m["out"]), tmp / "night.html")
                report_s = time.perf_counter() - t0
                report_mib = (tmp / "night.html").stat().st_size / 2 ** 20
            shutil.rmtree(m["live"])
    command = (f"debristrack bench watch --size {args.size} --frames {args.frames} --cadence {args.cadence:g} "
               f"--memory-size {args.memory_size} --memory-frames {args.memory_frames}")
    if args.target_stars != 7000.0:
        command += f" --target-stars {args.target_stars:g}"
    if args.target_block != 10:
        command += f" --target-block {args.target_block}"
    if args.modes != ",".join(MODES):
        command += f" --modes {args.modes}"
    if args.memory_modes != ",".join(MODES):
        command += f" --memory-modes {args.memory_modes}"
    load_end = os.getloadavg()[0]
    lines = ["## Live mode: watch latency and memory, report build time", "", section_preamble(command).rstrip(), "",
             f"Load average of the machine (other jobs included): {load:.1f} at the start, {load_end:.1f} at the end; "
             "on a shared machine the latencies grow with it.", "",
             f"Latency: one simulated sequence per mode (default preset and method), {args.frames} frames of "
             f"{args.size}x{args.size}, copied into the watched folder one every {args.cadence:g} s while "
             f"`watch --settle {args.settle:g}` runs in the same process"
             + (f" (target mode at {args.target_stars:g} stars per 4096x4096 frame, as `bench target`'s speed run)"
                if args.target_stars > 0 else "")
             + (f"; target mode with `--block {args.target_block}`, so its rows come every {args.target_block} frames"
                if args.target_block else "") + ". Latency = the frame file's last write -> "
             "its journal line synced to disk (after its rows), so it includes the settle wait. *Finish* = the "
             "methods' `finish()` (the rows they decide only at the end), the TDM files and the journal's last line. "
             "*Rows before the finish*: of all rows, those written as their frames came.",
             "*Second half* is the median over the later half of the frames, after the start (the sidereal "
             "`matched` method holds its first 9 frames for the static-star median and then works them all).",
             "", "| mode | frames | latency median (s) | second half (s) | max (s) | target (s) | finish (s) | rows "
             "| rows before the finish |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in lat:
        lines.append(f"| {r['mode']} | {r['frames']} | {r['median']:.2f} | {r['late']:.2f} | {r['max']:.2f} | "
                     f"<= {TARGET_S[r['mode']]:g} | {r['finish']:.2f} | {r['rows']} | {r['early']} |")
    lines += ["", f"Memory: {args.memory_frames} frames of {args.memory_size}x{args.memory_size} (a pool of "
              f"{args.pool} simulated frames written again with later DATE-OBS), watch taking them as fast as it "
              "can; resident memory of the process (watch, the writer thread and its pool).", "",
              "| mode | frames | RSS after 50 frames (MiB) | RSS after the last (MiB) | s/frame |",
              "|---|---:|---:|---:|---:|"]
    for m in mem:
        lines.append(f"| {m['mode']} | {m['frames']} | {m['rss50']:.0f} | {m['rss_end']:.0f} | "
                     f"{m['s_per_frame']:.3f} |")
    if report_s is not None:
        lines += ["", f"Report: `debristrack report` on the stare night of {args.memory_frames} frames "
                  f"({args.memory_size}x{args.memory_size}): **{report_s:.1f} s**, a page of {report_mib:.1f} MiB."]
    update_section("watch", "\n".join(lines) + "\n", path=args.output)
    print(f"updated {args.output} (section watch)", file=sys.stderr)
    return 0
