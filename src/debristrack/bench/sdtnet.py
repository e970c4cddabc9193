"""``debristrack bench sdtnet``: the shipped SDT-Net weights on simulated sidereal test sets,
and the inference speed on 1024x1024 frames and on tiled 4096x4096 frames.

For each test set (the simulator's ``sdtd`` and ``sdtd-dense`` presets, the [SDT] motion model,
and ``debris`` and ``dense``, physical motion) it simulates sequences
in memory, tracks them with :class:`debristrack.pipeline.sidereal.SdtnetMethod` in the frame loop and reports the
TrackEval figures combined over the sequences ([SDT] Tab. 2 columns: IDF1, MOTA, IDS, HOTA,
DetA, AssA; thick-line IoU similarity). The speed rows are the whole per-frame work
(normalisation, network, decoding, validation, association) on 1024x1024 frames and on
4096x4096 frames (overlapping tiles of ``--sdtnet-tile`` px), with the torch thread count
used, and the process's peak memory after the 4096x4096 frames.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from astropy.table import vstack

from ..evaluate import MotConfig, MotResult, track_metrics
from ..simulate import iter_frames, make_scene
from ..io.sequence import Frame, FrameSequence, open_sequence
from ..pipeline.loop import run_method
from ..pipeline.sidereal import Config as SiderealConfig
from ..pipeline.sidereal import make_method
from ..sdtnet.options import DEFAULT_WEIGHTS
from ..sdtnet.infer import trained_input
from ..sdtnet.options import SdtnetConfig
from .report import section_preamble, update_section
from .sidereal import _Frames
from ..config import int_at_least


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="small run: 3 sequences per test set, 2 timing frames")
    parser.add_argument("--sequences", type=int_at_least(1), default=None, help="sequences per test set (default: 20; --quick: 3)")
    parser.add_argument("--size", type=int_at_least(16), default=512, help="frame size of the test sets, px (default: 512)")
    parser.add_argument("--frames", type=int_at_least(1), default=8, help="frames per test sequence (default: 8)")
    parser.add_argument("--timing-frames", type=int_at_least(1), default=None,
                        help="1024x1024 frames timed (default: 6; --quick: 4; a residual input needs 3 for its static sky)")
    parser.add_argument("--threads", type=int_at_least(1), default=2, help="torch CPU threads (default: 2)")
    parser.add_argument("--weights", default=None, help=f"weights file (default: shipped {DEFAULT_WEIGHTS.name})")
    parser.add_argument("--seed", type=int_at_least(0), default=1000, help="random seed of the test sets (default: 1000)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default: BENCHMARKS.md)")


def _frames(sim) -> list[Frame]:
    return [Frame(f.index, f"{f.index:06d}", f.data, f.header, None) for f in sim]


def track(frames: list[Frame] | FrameSequence, config: SdtnetConfig):
    """SDT-Net and the sidereal track filter through the frame loop, as ``track`` runs it (the
    static sky window of a residual input included); ``frames`` in memory or read from disk."""
    seq = frames if isinstance(frames, FrameSequence) else _Frames(frames)
    return run_method(make_method(seq, "sdtnet", SiderealConfig(sdtnet=config)), frames)


def evaluate_preset(preset: str, *, sequences: int, size: int, frames: int, seed: int,
                    config: SdtnetConfig) -> tuple[dict, float]:
    """Combined MOT summary and seconds per frame of SDT-Net on ``sequences`` simulated
    sequences of ``preset``."""
    results, seconds, n_frames = [], 0.0, 0
    for k in range(sequences):
        scene = make_scene("sidereal", preset, size=size, frames=frames)
        sim = list(iter_frames(scene, seed=seed + k))
        t0 = time.perf_counter()
        pred = track(_frames(sim), config)
        seconds += time.perf_counter() - t0
        n_frames += len(sim)
        results.append(track_metrics(vstack([f.truth for f in sim]), pred, kind="streak",
                                     config=MotConfig(fwhm=scene.fwhm)))
    return MotResult.combine(results).summary(), seconds / n_frames


def time_1024(frames: int, config: SdtnetConfig, seed: int) -> float:
    """Seconds per 1024x1024 frame (after one warm-up frame)."""
    scene = make_scene("sidereal", "sdtd", size=1024, frames=frames + 1)
    data = _frames(iter_frames(scene, seed=seed))
    track(data[:1], config)
    t0 = time.perf_counter()
    track(data[1:], config)
    return (time.perf_counter() - t0) / frames


def time_4096(frames: int, config: SdtnetConfig, seed: int) -> tuple[float, float, float]:
    """Seconds per 4096x4096 frame (tiled, after a warm-up frame), the frames streamed from FITS
    files as ``debristrack track`` reads them; the seconds of reading the same frames' pixels
    (the ratio is machine-independent); and the process's peak resident memory in GB
    afterwards (the frames are written one at a time, so it is tracking's, not the simulator's)."""
    import resource
    import tempfile

    from astropy.io import fits

    from ..simulate.dataset import write_frame

    scene = make_scene("sidereal", "debris", size=4096, frames=frames + 1, star_density=420.0)
    with tempfile.TemporaryDirectory() as tmp:
        warm, night = Path(tmp) / "warm", Path(tmp) / "night"
        for f in iter_frames(scene, seed=seed):
            write_frame(warm if f.index == 0 else night, f)
        track(open_sequence(warm), config)
        seq = open_sequence(night)
        t0 = time.perf_counter()
        track(seq, config)
        spf = (time.perf_counter() - t0) / frames
        t0 = time.perf_counter()
        for p in sorted((night / "frames").glob("*.fits")):
            with fits.open(p, memmap=False) as hdul:
                _ = hdul[0].data.astype("float32")
        read = (time.perf_counter() - t0) / frames
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GB (Linux)
    return spf, read, peak


def run(args: argparse.Namespace) -> int:
    sequences = args.sequences or (3 if args.quick else 20)
    timing = args.timing_frames or (4 if args.quick else 6)
    config = SdtnetConfig(weights=args.weights, device="cpu", threads=args.threads)
    rows = []
    for preset in ("sdtd", "sdtd-dense", "debris", "dense"):
        print(f"sdtnet: {preset}, {sequences} sequences of {args.size}x{args.size}...", file=sys.stderr)
        s, spf = evaluate_preset(preset, sequences=sequences, size=args.size, frames=args.frames,
                                 seed=args.seed, config=config)
        rows.append(f"| {preset} | {100 * s['IDF1']:.1f} | {100 * s['MOTA']:.1f} | {s['IDS']} | "
                    f"{100 * s['HOTA']:.1f} | {100 * s['DetA']:.1f} | {100 * s['AssA']:.1f} | {spf:.3f} |")
    print(f"sdtnet: timing {timing} frames of 1024x1024...", file=sys.stderr)
    spf_1024 = time_1024(timing, config, args.seed)
    print("sdtnet: timing 4096x4096 frames (tiled)...", file=sys.stderr)
    spf_4096, read_4096, peak = time_4096(4, config, args.seed)  # 4: a residual input's window holds 3 others
    weights = Path(args.weights or DEFAULT_WEIGHTS).name
    net_input = trained_input(args.weights)
    command = "debristrack bench " + " ".join(getattr(args, "command_argv", ["sdtnet"]))
    md = ("## SDT-Net ([SDT] sec. 4)\n\n" + section_preamble(command)
          + f"Weights `{weights}` (input: {net_input}); {sequences} simulated sequences of {args.frames} frames, "
          f"{args.size}x{args.size} px, per test set (seed {args.seed}: not the `bench sidereal` sequences); "
          f"CPU, torch {torch.__version__}, {args.threads} threads; default decoding and the sidereal track "
          "filter (`plausible_tracks`).\n\n"
          "| test set | IDF1 | MOTA | IDS | HOTA | DetA | AssA | s/frame |\n|---|---|---|---|---|---|---|---|\n"
          + "\n".join(rows)
          + "\n\nWhole per-frame work ("
          + ("static-sky residual, " if net_input == "residual" else "")
          + f"normalisation, network, decoding, validation, association) on CPU with "
            f"{args.threads} threads: **{spf_1024:.2f} s per 1024x1024 frame** ({timing} frames); "
            f"**{spf_4096:.2f} s per 4096x4096 frame** (4 frames, read from FITS files) in tiles of {config.tile} px "
            f"({spf_4096 / max(read_4096, 1e-9):.0f} x the time to read its pixels from a FITS file, "
            f"{read_4096:.2f} s; {spf_4096 / max(16 * spf_1024, 1e-9):.2f} x sixteen 1024x1024 frames); "
            f"peak memory of the process after it {peak:.2f} GB.\n")
    update_section("sdtnet", md, args.output)
    print(md)
    return 0
