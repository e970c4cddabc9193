"""``debristrack bench target``: [TRK] motion lists against the nearest-to-centre baseline.

Simulated target-tracking sequences ([TRK] sec. 5.2: 30-40 one-second frames, 1.45 arcsec/px)
over a grid of star counts (500 to 7,000 per frame), peak following errors (0.5 to 3 px) and
target SNR (3 to 50), with star collisions and second/third co-moving objects. Both methods
run on the same per-frame ``sep`` catalogues. Reported per method: detection rate per frame
(overall and per SNR bin), false detections, position RMS ([TRK] sec. 5.2; figures from
:mod:`debristrack.evaluate.detection`, match radius 3 px) and seconds per frame. A separate
speed run times 4096 x 4096 frames with ~7,000 stars end to end (reading, background,
extraction, matching, lists) against the 1 s target, in one process and with a helper process
sharing the frames; ``--speed-only`` runs only it and rewrites only the speed paragraph.

The real-field set (issue 20, :mod:`.target_real`) is built from real frames of
``../shared/real-dev`` (``--real-dev``): each real frame slides across the detector as the
stars do when the telescope follows an object, with fresh noise per frame and one injected
followed object; it is scored the same way (flagged rows are misses). It also reports the
same catalogues associated without the pixels (``--forced false``), the set again with the
fresh noise at 3 times the frame's RMS (the real frame's own noise slides with its stars, so
a sky template removes it too), and sequences without an object (false objects).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack

from ..config import int_at_least
from ..errors import InputError
from ..evaluate.detection import DetectionFigures, detection_figures
from ..io.atomic import atomic_write
from ..io.sequence import Frame, open_sequence
from ..simulate import iter_frames, make_scene
from ..pipeline.loop import run_method
from ..pipeline.target import METHODS, Config, TargetMethod, make_method, track_catalogues
from .report import section_preamble, update_section
from .target_real import FIELDS, load_field, make_real_sequence

SNR_BINS = ((3.0, 5.0), (5.0, 10.0), (10.0, 50.0))
REAL_SNR_BINS = ((5.0, 10.0), (10.0, 20.0), (20.0, 40.0))
REAL_CROSSINGS = ("star", "emission", "", "")  # sequence j of a field: what is steered over the object
REAL_K_MAX = 2.0  # px: a 0.2-0.6 px peak following error moves the object at most 1.2 px per frame
REAL_NOISE_X = 3.0  # the second real-field run: fresh noise at this many frame RMS (target_real.make_real_sequence)
ABLATION = "motionlist --forced false"  # the same catalogues, associated without the pixels
BLOCK = 10  # the --block row: the same catalogues associated in blocks of this many frames
BLOCKED = f"motionlist --block {BLOCK}"


def blocked(done: TargetMethod) -> Table:
    """The catalogues (and held pixels) of the finished motionlist method ``done`` associated
    again in blocks of :data:`BLOCK` frames, as ``--block`` does live (extraction not repeated)."""
    method = TargetMethod("motionlist", replace(done.config, block=BLOCK), shape=done.shape, k_max=done.k_max)
    held = done._held or [None] * len(done.catalogues)
    parts = [method.step(k, item) for k, item in enumerate(zip(done.names, done.catalogues, held))]
    rest = method.finish()
    parts = [p for p in parts + [rest] if p is not None and len(p)]
    return vstack(parts) if parts else rest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a small run (a minute or two)")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the speed run: rewrite the speed paragraph of the section, keep its tables")
    parser.add_argument("--sequences", type=int_at_least(1), default=2,
                        help="sequences per (stars, following error) cell (default 2; --quick 1)")
    parser.add_argument("--frames", type=int_at_least(1), default=30, help="frames per sequence (default 30)")
    parser.add_argument("--size", type=int_at_least(16), default=2048, help="frame size of the accuracy runs, px (default 2048)")
    parser.add_argument("--speed-size", type=int_at_least(16), default=4096, help="frame size of the speed run, px (default 4096)")
    parser.add_argument("--speed-frames", type=int_at_least(3), default=16,
                        help="frames of the speed run (default 16; --quick 3; a helper process repays its "
                             "start-up over several frames)")
    parser.add_argument("--seed", type=int_at_least(0), default=2021, help="random seed (default 2021)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default BENCHMARKS.md)")
    parser.add_argument("--real-sequences", type=int_at_least(0), default=4,
                        help="real-field sequences per real-dev frame (default 4; --quick 2; 0 skips the real-field set)")
    parser.add_argument("--real-frames", type=int_at_least(3), default=16, help="frames per real-field sequence (default 16)")
    parser.add_argument("--real-empty", type=int_at_least(0), default=2,
                        help="real-field sequences without an object per real-dev frame, for false objects (default 2; --quick 1)")
    parser.add_argument("--real-dev", type=Path, default=Path("../shared/real-dev"),
                        help="the real-dev folder (default ../shared/real-dev)")


@dataclass
class Tally:
    """Figures of one method, summed over sequences."""

    figures: DetectionFigures = field(default_factory=DetectionFigures)
    bins: tuple = SNR_BINS
    by_snr: dict = field(default_factory=dict)
    seconds: float = 0.0
    frames: int = 0
    objects_true: int = 0
    objects_found: int = 0
    flags: dict = field(default_factory=dict)

    def __post_init__(self):
        self.by_snr = {b: DetectionFigures() for b in self.bins}

    def add(self, gt, pred, seconds: float, frames: int) -> None:
        self.figures += detection_figures(gt, pred)
        if "flag" in pred.colnames:
            for f in np.asarray(pred["flag"], dtype=str):
                self.flags[f] = self.flags.get(f, 0) + 1
        for lo, hi in self.bins:
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
    for name in METHODS:
        t0 = time.perf_counter()
        method = TargetMethod(name, config, shape=scene.shape, k_max=k_max)
        pred = run_method(method, frames)
        out[name] = (pred, time.perf_counter() - t0)
        if name == "motionlist":
            out[BLOCKED] = (blocked(method), float("nan"))
    return vstack(truth), out


def real_field_run(root: Path, n_seq: int, frames: int, seed: int, config: Config, n_empty: int = 0,
                   noise_factor: float = 1.0, methods: tuple[str, ...] = METHODS):
    """The real-field set: ``n_seq`` sequences of ``frames`` frames from each of
    :data:`~debristrack.bench.target_real.FIELDS` (star motion 3-10 px per frame in a random
    direction, SNR 5-40 uniform, peak following error 0.2-0.6 px; sequence ``j`` of a field
    steers ``REAL_CROSSINGS[j % 4]`` over the object). ``methods`` run through the frame loop;
    ``motionlist`` is also scored with its catalogues only (``forced=False``, the same
    catalogues, key ``"motionlist --forced false"``). ``noise_factor``: the fresh noise, in
    frame RMS (:func:`~debristrack.bench.target_real.make_real_sequence`). Then ``n_empty`` sequences per field built the same way but without an object (their own
    random stream, so the sequences with an object do not change): ``motionlist`` should
    report nothing there (``nearest`` always reports, so it is not run on them).

    Returns ``(tallies {method: Tally}, cells [(field name, {method: Tally}, crossings)],
    empty {"sequences", "objects", "rows"} of motionlist on the sequences without an object)``.
    """
    ss = np.random.SeedSequence([seed, 20])
    ss_empty = np.random.SeedSequence([seed, 20, 0])
    empty = {"sequences": 0, "objects": 0, "rows": 0}
    keys = list(methods) + ([ABLATION, BLOCKED] if "motionlist" in methods else [])
    tallies = {m: Tally(bins=REAL_SNR_BINS) for m in keys}
    cells = []
    for fi, spec in enumerate(FIELDS):
        image = load_field(root, spec)
        cell = {m: Tally(bins=REAL_SNR_BINS) for m in keys}
        crossings = []
        for j in range(n_seq):
            rng = np.random.default_rng(ss.spawn(1)[0])
            seq = make_real_sequence(image, rng, n_frames=frames, rate=rng.uniform(3.0, 10.0),
                                     angle=rng.uniform(0, 2 * math.pi), snr=rng.uniform(5.0, 40.0),
                                     error_peak=rng.uniform(0.2, 0.6), crossing=REAL_CROSSINGS[j % 4],
                                     noise_factor=noise_factor)
            crossings.append(seq.crossing)
            shape = seq.frames.shape[1:]
            inputs = [Frame(k, str(k), f, fits.Header(), None) for k, f in enumerate(seq.frames)]
            for m in methods:
                t0 = time.perf_counter()
                method = TargetMethod(m, config, shape=shape, k_max=REAL_K_MAX)
                pred = run_method(method, inputs)
                secs = time.perf_counter() - t0
                runs = [(m, pred, secs)]
                if m == "motionlist":
                    alone = track_catalogues(method.catalogues, shape=shape, config=replace(config, forced=False),
                                             k_max=REAL_K_MAX)
                    runs.append((ABLATION, alone, float("nan")))
                    runs.append((BLOCKED, blocked(method), float("nan")))
                for key, p, sec in runs:
                    for t in (cell[key], tallies[key]):
                        t.add(seq.truth, p, sec, frames)
                        t.objects_true += 1
                        t.objects_found += len(set(p["id"]))
            print(f"bench target: real field {fi + 1}/{len(FIELDS)}, sequence {j + 1}/{n_seq}",
                  file=sys.stderr, flush=True)
        for j in range(n_empty):
            rng = np.random.default_rng(ss_empty.spawn(1)[0])
            seq = make_real_sequence(image, rng, n_frames=frames, rate=rng.uniform(3.0, 10.0),
                                     angle=rng.uniform(0, 2 * math.pi), snr=0.0,
                                     error_peak=rng.uniform(0.2, 0.6), crossing=REAL_CROSSINGS[j % 4],
                                     noise_factor=noise_factor)
            inputs = [Frame(k, str(k), f, fits.Header(), None) for k, f in enumerate(seq.frames)]
            pred = run_method(TargetMethod("motionlist", config, shape=seq.frames.shape[1:], k_max=REAL_K_MAX), inputs)
            empty["sequences"] += 1
            empty["objects"] += len(set(pred["id"]))
            empty["rows"] += int(np.sum(np.asarray(pred["flag"], dtype=str) == "ok"))
        cells.append((spec.name, cell, crossings))
    return tallies, cells, empty


def speed_run(size: int, stars: int, frames: int, seed: int, config: Config) -> dict:
    """Seconds per ``size``^2 frame with ``stars`` stars: the motion-list method on the frames
    written as FITS files, through the frame loop (``track_sequence``), reading included.

    ``end_to_end``: wall seconds per frame in this process alone (the read-ahead thread reads
    the next frame); ``cpu``: its CPU seconds per frame (all threads); ``assoc``: its finish
    per frame (matching, lists, clustering, and the forced measurements, which read the frames
    again); ``shared``: wall seconds per frame with a helper process sharing the frames
    (:func:`~debristrack.pipeline.loop.share_work`, started at once: the 2-core figure);
    ``read``: reading one frame (median), the unit that scales with the machine and its load;
    ``load``: the 1-minute load average after the runs (other work on the machine).
    """
    scene = _scene(round(stars * FULL_FRAME**2 / size**2), 1.5, size, frames)
    with tempfile.TemporaryDirectory(prefix="bench-target-") as tmp:
        for sim in iter_frames(scene, seed=seed):
            fits.PrimaryHDU(sim.data, sim.header).writeto(Path(tmp) / f"{sim.index:06d}.fits")
        seq = open_sequence(tmp)
        reads = []
        for k in range(frames):
            t0 = time.perf_counter()
            seq[k].data
            reads.append(time.perf_counter() - t0)
        method = make_method(seq, "motionlist", config)
        timings: list[float] = []
        t0, c0 = time.perf_counter(), time.process_time()
        alone = run_method(method, seq, timings=timings)
        end_to_end, cpu = (time.perf_counter() - t0) / frames, (time.process_time() - c0) / frames
        t0 = time.perf_counter()
        shared = run_method(make_method(seq, "motionlist", config), seq, workers=2, helpers_after_s=0.0)
        shared_s = (time.perf_counter() - t0) / frames
    if not _same_table(alone, shared):
        raise RuntimeError("bench target: the frames shared with a helper process gave another table")
    n_sources = [len(c) for c in method.catalogues]
    return {"assoc": timings[-1] / frames, "end_to_end": end_to_end, "cpu": cpu, "shared": shared_s,
            "read": float(np.median(reads)), "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
            "sources": float(np.median(n_sources)), "stars": stars, "size": size, "frames": frames}


def _same_table(a, b) -> bool:
    return a.colnames == b.colnames and len(a) == len(b) and all(
        np.array_equal(np.asarray(a[c]), np.asarray(b[c]), equal_nan=a[c].dtype.kind == "f") for c in a.colnames)


def speed_line(speed: dict) -> str:
    """The speed paragraph of the report (:func:`speed_run`'s figures)."""
    ratio = (lambda s: f"{s / speed['read']:.0f} reads") if speed["read"] > 0 else (lambda s: "-")
    return (f"Speed: {speed['frames']} frames of {speed['size']}x{speed['size']} with ~{speed['stars']} stars "
            f"({speed['sources']:.0f} sources extracted per frame), the whole `track_sequence` run on the "
            f"frames as FITS files (reading, bad-pixel mask, background, extraction, centroids, and the "
            f"finish: matching, lists, clustering, forced measurements with the frames read again, "
            f"{speed['assoc'] * 1000:.0f} ms per frame): **{speed['end_to_end']:.2f} s per frame** in one "
            f"process ({speed['cpu']:.2f} CPU s; {ratio(speed['end_to_end'])} of one frame, "
            f"{speed['read'] * 1000:.0f} ms), **{speed['shared']:.2f} s per frame** with a helper process "
            f"sharing the frames (`--workers 2`; {ratio(speed['shared'])}); load average "
            f"{speed['load']:.1f} after the runs (other work on the 2 cores slows both). "
            "Target: < 1 s per frame on 2 cores.")


def run(args: argparse.Namespace) -> int:
    quick = args.quick
    if args.speed_only:
        size = 2048 if quick else args.speed_size
        speed = speed_run(size, round(7000 * size**2 / FULL_FRAME**2), 3 if quick else args.speed_frames, args.seed,
                          Config())
        line = speed_line(speed).replace("Speed:", f"Speed (`{_command(args)}`, {datetime.date.today()}):", 1)
        if not _replace_speed_line(args.output, line):
            print(f"bench target: no target section with a speed paragraph in {args.output}; nothing written",
                  file=sys.stderr)
        print(line)
        return 0
    star_counts = (500, 7000) if quick else (500, 2000, 7000)
    errors = (1.5,) if quick else (0.5, 1.5, 3.0)
    n_seq = 1 if quick else args.sequences
    frames = 12 if quick else args.frames
    size = 1024 if quick else args.size
    speed_size = 2048 if quick else args.speed_size
    config = Config()
    n_real = min(args.real_sequences, 2) if quick else args.real_sequences
    missing = [f.path for f in FIELDS if not (args.real_dev / f.path).is_file()] if n_real > 0 else []
    if missing:   # checked before the simulated runs, not after them
        raise InputError(f"{args.real_dev / missing[0]}: real-dev frame not found (give --real-dev, "
                         "or --real-sequences 0 to skip the real-field set)")
    tallies = {m: Tally() for m in (*METHODS, BLOCKED)}
    cells = []
    ss = np.random.SeedSequence(args.seed)
    total = len(star_counts) * len(errors) * n_seq
    done = 0
    for stars in star_counts:
        for fe in errors:
            cell = {m: Tally() for m in (*METHODS, BLOCKED)}
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
    n_empty = min(args.real_empty, 1) if quick else args.real_empty
    real = (real_field_run(args.real_dev, n_real, args.real_frames, args.seed, config, n_empty=n_empty)
            if n_real > 0 else None)
    noisy = (real_field_run(args.real_dev, n_real, args.real_frames, args.seed, config, n_empty=n_empty,
                            noise_factor=REAL_NOISE_X, methods=("motionlist",)) if n_real > 0 else None)
    speed = speed_run(speed_size, round(7000 * speed_size**2 / FULL_FRAME**2), 3 if quick else args.speed_frames,
                      args.seed, config)
    markdown = _report(args, tallies, cells, speed, size, frames, n_seq, real=real, noisy=noisy,
                       real_size=(n_real, args.real_frames))
    update_section("target", markdown, path=args.output)
    print(markdown)
    return 0


def _num(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.2f}"


def _num3(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.3f}"


def _pct(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{100 * x:.1f} %"


def _command(args) -> str:
    if sys.argv[1:3] == ["bench", "target"]:
        return "debristrack " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return "debristrack bench target" + (" --quick" if args.quick else "") + (
        " --speed-only" if getattr(args, "speed_only", False) else "")


def _replace_speed_line(path, line: str) -> bool:
    """Put ``line`` in place of the speed paragraph of the target section of ``path``; False
    (nothing written) when there is none."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = re.search(r"<!-- bench:target -->.*?<!-- /bench:target -->", text, re.S)
    old = re.search(r"^Speed[ :(].*$", section.group(0), re.M) if section else None
    if old is None:
        return False
    start = section.start() + old.start()
    text = text[:start] + line + text[section.start() + old.end():]
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return True


def _report(args, tallies, cells, speed, size, frames, n_seq, *, real=None, noisy=None, real_size=(0, 0)) -> str:
    command = _command(args)
    lines = ["## Target-tracking mode ([TRK] motion lists)", "", section_preamble(command).rstrip(), "",
             f"Simulated target-tracking sequences: {size}x{size} px crops at the star density of "
             f"the given number of stars (magnitude limit at SNR 5) in a 4096x4096 frame, {frames} frames of 1 s every 3 s, "
             f"1.45 arcsec/px, 1-3 followed objects (SNR 3-50), 1 star collision per object on average, "
             f"{n_seq} sequence(s) per cell. Both methods use the same sep catalogues; detection figures "
             "per frame (match radius 3 px, flagged rows are not detections); `||K_max||` = "
             "max(2, ceil(2 x peak following error)) px; objects within 5 % of the frame size of its centre. "
             f"`{BLOCKED}`: the same catalogues associated in blocks of {BLOCK} frames (rows during the night, "
             "ids linked from block to block by position).", "",
             "| method | detection rate | SNR 3-5 | SNR 5-10 | SNR 10-50 | false detections | position RMS (px) | s/frame |",
             "|---|---|---|---|---|---|---|---|"]
    for m, t in tallies.items():
        f = t.figures
        bins = " | ".join(_pct(t.by_snr[b].detection_rate) for b in SNR_BINS)
        lines.append(f"| `{m}` | {_pct(f.detection_rate)} | {bins} | {f.n_false} of {f.n_detections} "
                     f"({_pct(f.false_alarm_rate)}) | {_num(f.position_rms)} | {_num3(t.seconds / max(t.frames, 1))} |")
    lines += ["", "Per cell (motionlist vs nearest):", "",
              "| stars per 4096² frame | peak following error (px) | motionlist detection | SNR >= 5 | objects found / true | false | nearest detection | nearest false |",
              "|---|---|---|---|---|---|---|---|"]
    for stars, fe, cell in cells:
        ml, nr = cell["motionlist"], cell["nearest"]
        hi = DetectionFigures.combine(ml.by_snr[b] for b in SNR_BINS[1:])
        lines.append(f"| {stars} | {fe:g} | {_pct(ml.figures.detection_rate)} | {_pct(hi.detection_rate)} | "
                     f"{ml.objects_found} / {ml.objects_true} | {ml.figures.n_false} | "
                     f"{_pct(nr.figures.detection_rate)} | {nr.figures.n_false} |")
    if real is not None:
        lines += _real_report(*real, *real_size, noisy=noisy)
    lines += ["", speed_line(speed)]
    return "\n".join(lines) + "\n"


def _real_report(tallies, cells, empty, n_seq, frames, *, noisy=None) -> list[str]:
    lines = ["", f"Real-field set (`bench/target_real.py`): {n_seq} sequence(s) of {frames} frames from each of "
             f"{len(cells)} real frames of `real-dev` (window of at most 384x384 px slid across the real frame at "
             "3-10 px per frame in a random direction, fresh noise of the frame's RMS, one followed object of SNR "
             "5-40 with the frame's PSF near the centre, 0.2-0.6 px peak following error; per field, one sequence "
             "in four steers a star over the object and one its extended emission). `||K_max||` = 2 px; flagged "
             "rows count as misses, as in the simulated sets. "
             f"`{ABLATION}`: the same catalogues associated without the pixels (the method before the forced "
             f"measurements); `{BLOCKED}`: the same catalogues in blocks of {BLOCK} frames (the last {BLOCK} "
             "frames make the last block). *Fresh noise x3*: the same sequences with the fresh noise at 3 times the frame's RMS "
             "(the object's flux still set by its SNR): the real frame's own noise slides with its stars, so a sky "
             "template removes it too, which real frames, whose noise is all independent, do not allow; at x3 it is a "
             "tenth of the variance.", "",
             "| method | detection rate | SNR 5-10 | SNR 10-20 | SNR 20-40 | false detections | position RMS (px) | flags (not ok) | s/frame |",
             "|---|---|---|---|---|---|---|---|---|"]
    rows = [(f"`{m}`", t) for m, t in tallies.items()]
    if noisy is not None:
        rows += [(f"`{m}` (fresh noise x{REAL_NOISE_X:g})", t) for m, t in noisy[0].items()]
    for label, t in rows:
        f = t.figures
        bins = " | ".join(_pct(t.by_snr[b].detection_rate) for b in REAL_SNR_BINS)
        lines.append(f"| {label} | {_pct(f.detection_rate)} | {bins} | {f.n_false} of {f.n_detections} "
                     f"({_pct(f.false_alarm_rate)}) | {_num(f.position_rms)} | {_flags(t.flags)} | "
                     f"{_num3(t.seconds / max(t.frames, 1))} |")
    lines += ["", "Per real frame (motionlist):", "",
              "| real frame | crossings steered | detection | false | objects found / true | flags (not ok) |",
              "|---|---|---|---|---|---|"]
    for name, cell, crossings in cells:
        ml = cell["motionlist"]
        steered = ", ".join(c for c in crossings if c) or "-"
        lines.append(f"| {name} | {steered} | {_pct(ml.figures.detection_rate)} | {ml.figures.n_false} of "
                     f"{ml.figures.n_detections} | {ml.objects_found} / {ml.objects_true} | {_flags(ml.flags)} |")
    if empty["sequences"]:
        line = (f"Sequences without an object ({empty['sequences']}, built the same way from the same real frames): "
                f"`motionlist` reported **{empty['objects']} object(s)**, {empty['rows']} measured row(s)")
        if noisy is not None and noisy[2]["sequences"]:
            line += (f"; with the fresh noise x{REAL_NOISE_X:g}: {noisy[2]['objects']} object(s), "
                     f"{noisy[2]['rows']} row(s)")
        lines += ["", line + "."]
    return lines


def _flags(flags: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(flags.items()) if k != "ok") or "-"
