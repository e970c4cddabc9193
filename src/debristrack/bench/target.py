"""``debristrack bench target``: [TRK] motion lists against the nearest-to-centre baseline.

Simulated target-tracking sequences ([TRK] sec. 5.2: 30-40 one-second frames, 1.45 arcsec/px)
over a grid of star counts (500 to 7,000 per frame), peak following errors (0.5 to 3 px) and
target SNR (3 to 50), with star collisions and second/third co-moving objects. Both methods
run on the same per-frame ``sep`` catalogues. Reported per method: detection rate per frame
(overall and per SNR bin), false detections, position RMS ([TRK] sec. 5.2; figures from
:mod:`debristrack.evaluate.detection`, match radius 3 px) and seconds per frame. A separate
speed run times one 4096 x 4096 frame with ~7,000 stars end to end (background, extraction,
matching, lists) against the 1 s target.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import vstack

from ..evaluate.detection import DetectionFigures, detection_figures
from ..io.sequence import Frame, open_sequence
from ..simulate import iter_frames, make_scene
from ..pipeline.loop import run_method
from ..pipeline.target import METHODS, Config, TargetMethod, make_method
from .report import section_preamble, update_section

SNR_BINS = ((3.0, 5.0), (5.0, 10.0), (10.0, 50.0))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a small run (a minute or two)")
    parser.add_argument("--sequences", type=int, default=2,
                        help="sequences per (stars, following error) cell (default 2; --quick 1)")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence (default 30)")
    parser.add_argument("--size", type=int, default=2048, help="frame size of the accuracy runs, px (default 2048)")
    parser.add_argument("--speed-size", type=int, default=4096, help="frame size of the speed run, px (default 4096)")
    parser.add_argument("--seed", type=int, default=2021, help="random seed (default 2021)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default BENCHMARKS.md)")


@dataclass
class Tally:
    """Figures of one method, summed over sequences."""

    figures: DetectionFigures = field(default_factory=DetectionFigures)
    by_snr: dict = field(default_factory=lambda: {b: DetectionFigures() for b in SNR_BINS})
    seconds: float = 0.0
    frames: int = 0
    objects_true: int = 0
    objects_found: int = 0

    def add(self, gt, pred, seconds: float, frames: int) -> None:
        self.figures += detection_figures(gt, pred)
        for lo, hi in SNR_BINS:
            sel = (np.asarray(gt["snr"]) >= lo) & (np.asarray(gt["snr"]) < hi)
            # Per-bin figures count the true targets of the bin and the detections matched to
            # them; a bin's false detections are not defined, so only its rate is reported.
            f = detection_figures(gt[sel], pred)
            self.by_snr[(lo, hi)] += DetectionFigures(f.n_true, f.n_detected)
        self.seconds += seconds
        self.frames += frames


FULL_FRAME = 4096  # star counts are per 4096 x 4096 frame, the [TRK] camera


def _scene(stars: int, following_error: float, size: int, frames: int):
    """The target scene of one grid cell: the star density of ``stars`` stars in a 4096 x 4096
    frame (a smaller ``size`` is a crop of it: same crowding, same collisions)."""
    density = stars / (FULL_FRAME * FULL_FRAME / 1e6)
    return make_scene("target", "multi", size=size, frames=frames, star_density=density,
                      following_error=following_error, snr=(3.0, 50.0), objects=(1, 3),
                      collisions=1.0, mag_limit=16.0, limit_snr=5.0, cadence=3.0, exptime=1.0,
                      offset=0.05)


def _k_max(following_error: float) -> float:
    """The list bound for a mount with this peak following error (px).

    Between two frames the error can swing from +peak to -peak, so the object moves at most
    twice the peak; [TRK] sec. 4.4 bounds it by the peak itself, which holds only when the
    error changes slowly against the cadence (the simulated error has 15-90 s periods, 3 s
    cadence). Rounded up to whole pixels, at least the 2 px of [TRK] sec. 5.1.
    """
    return float(max(2, math.ceil(2 * following_error)))


def run_sequence(scene, seed, config: Config, k_max: float):
    """Simulate one sequence and run both methods on it through the frame loop.

    Returns ``(gt, {method: (pred, seconds)})``; seconds of the whole run (extraction included).
    """
    frames, truth = [], []
    for sim in iter_frames(scene, seed=seed):
        frames.append(Frame(sim.index, str(sim.index), sim.data, sim.header, None))
        truth.append(sim.truth)
    out = {}
    for method in METHODS:
        t0 = time.perf_counter()
        pred = run_method(TargetMethod(method, config, shape=scene.shape, k_max=k_max), frames)
        out[method] = (pred, time.perf_counter() - t0)
    return vstack(truth), out


def speed_run(size: int, stars: int, frames: int, seed: int, config: Config) -> dict:
    """Seconds per ``size``^2 frame with ``stars`` stars.

    The motion-list method on the frames written as FITS files, through the frame loop:
    ``extract`` is the median of the loop's steps (bad-pixel mask, background, extraction and
    centroids of one frame, read ahead in the loop's thread), ``assoc`` its finish (matching,
    lists and clustering) per frame, ``end_to_end`` the whole run (reading included) per frame.
    """
    scene = _scene(round(stars * FULL_FRAME**2 / size**2), 1.5, size, frames)
    with tempfile.TemporaryDirectory(prefix="bench-target-") as tmp:
        for sim in iter_frames(scene, seed=seed):
            fits.PrimaryHDU(sim.data, sim.header).writeto(Path(tmp) / f"{sim.index:06d}.fits")
        seq = open_sequence(tmp)
        method = make_method(seq, "motionlist", config)
        timings: list[float] = []
        t0 = time.perf_counter()
        run_method(method, seq, timings=timings)
        end_to_end = (time.perf_counter() - t0) / frames
    n_sources = [len(c) for c in method.catalogues]
    return {"extract": float(np.median(timings[:-1])), "assoc": timings[-1] / frames, "end_to_end": end_to_end,
            "sources": float(np.median(n_sources)), "stars": stars, "size": size}


def run(args: argparse.Namespace) -> int:
    quick = args.quick
    star_counts = (500, 7000) if quick else (500, 2000, 7000)
    errors = (1.5,) if quick else (0.5, 1.5, 3.0)
    n_seq = 1 if quick else args.sequences
    frames = 12 if quick else args.frames
    size = 1024 if quick else args.size
    speed_size = 2048 if quick else args.speed_size
    config = Config()
    tallies = {m: Tally() for m in METHODS}
    cells = []
    ss = np.random.SeedSequence(args.seed)
    total = len(star_counts) * len(errors) * n_seq
    done = 0
    for stars in star_counts:
        for fe in errors:
            cell = {m: Tally() for m in METHODS}
            for _ in range(n_seq):
                scene = _scene(stars, fe, size, frames)
                gt, results = run_sequence(scene, ss.spawn(1)[0], config, _k_max(fe))
                for m, (pred, secs) in results.items():
                    cell[m].add(gt, pred, secs, frames)
                    tallies[m].add(gt, pred, secs, frames)
                    if m == "motionlist":
                        cell[m].objects_true += len(set(gt["id"]))
                        cell[m].objects_found += len(set(pred["id"]))
                done += 1
                print(f"bench target: {done}/{total} sequences", file=sys.stderr, flush=True)
            cells.append((stars, fe, cell))
    speed = speed_run(speed_size, round(7000 * speed_size**2 / FULL_FRAME**2), 3 if quick else 5, args.seed, config)
    markdown = _report(args, tallies, cells, speed, size, frames, n_seq)
    update_section("target", markdown, path=args.output)
    print(markdown)
    return 0


def _num(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.2f}"


def _pct(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{100 * x:.1f} %"


def _report(args, tallies, cells, speed, size, frames, n_seq) -> str:
    if sys.argv[1:3] == ["bench", "target"]:
        command = "debristrack " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    else:
        command = "debristrack bench target" + (" --quick" if args.quick else "")
    lines = ["## Target-tracking mode ([TRK] motion lists)", "", section_preamble(command).rstrip(), "",
             f"Simulated target-tracking sequences: {size}x{size} px crops at the star density of "
             f"the given number of stars (magnitude limit at SNR 5) in a 4096x4096 frame, {frames} frames of 1 s every 3 s, "
             f"1.45 arcsec/px, 1-3 followed objects (SNR 3-50), 1 star collision per object on average, "
             f"{n_seq} sequence(s) per cell. Both methods use the same sep catalogues; detection figures "
             "per frame (match radius 3 px, flagged rows are not detections); `||K_max||` = "
             "max(2, ceil(2 x peak following error)) px; objects within 5 % of the frame size of its centre.", "",
             "| method | detection rate | SNR 3-5 | SNR 5-10 | SNR 10-50 | false detections | position RMS (px) | s/frame |",
             "|---|---|---|---|---|---|---|---|"]
    for m, t in tallies.items():
        f = t.figures
        bins = " | ".join(_pct(t.by_snr[b].detection_rate) for b in SNR_BINS)
        lines.append(f"| `{m}` | {_pct(f.detection_rate)} | {bins} | {f.n_false} of {f.n_detections} "
                     f"({_pct(f.false_alarm_rate)}) | {_num(f.position_rms)} | {t.seconds / max(t.frames, 1):.3f} |")
    lines += ["", "Per cell (motionlist vs nearest):", "",
              "| stars per 4096² frame | peak following error (px) | motionlist detection | SNR >= 5 | objects found / true | false | nearest detection | nearest false |",
              "|---|---|---|---|---|---|---|---|"]
    for stars, fe, cell in cells:
        ml, nr = cell["motionlist"], cell["nearest"]
        hi = DetectionFigures.combine(ml.by_snr[b] for b in SNR_BINS[1:])
        lines.append(f"| {stars} | {fe:g} | {_pct(ml.figures.detection_rate)} | {_pct(hi.detection_rate)} | "
                     f"{ml.objects_found} / {ml.objects_true} | {ml.figures.n_false} | "
                     f"{_pct(nr.figures.detection_rate)} | {nr.figures.n_false} |")
    total = speed["extract"] + speed["assoc"]
    lines += ["", f"Speed: {speed['size']}x{speed['size']} frames with ~{speed['stars']} stars "
              f"({speed['sources']:.0f} sources extracted per frame): bad-pixel mask + background + "
              f"extraction + centroids {speed['extract']:.2f} s, matching + lists + clustering "
              f"{speed['assoc'] * 1000:.1f} ms, **{total:.2f} s per frame** in memory; "
              f"`track_sequence` on the same frames as FITS files (reading included): "
              f"**{speed['end_to_end']:.2f} s per frame**. Target: < 1 s per frame on 2 cores."]
    return "\n".join(lines) + "\n"
