"""``debristrack bench real``: the sidereal methods on real telescope frames.

For every real input in ``../shared/real/`` (the TEST pool: run, never tuned on) and
``../shared/real-dev/`` (the development pool):

- **trails found / annotated**: ``streaks.csv`` files (real-dev's own; ours for the four
  ``real/streaks`` frames in ``benchmarks/real/streaks.csv``, made by looking at them). A trail
  is found when reported segments of its frame lying within ``TRAIL_DIST`` px of its line
  (both ends) and within ``TRAIL_ANGLE`` degrees cover at least half of its length;
- **false tracks**: tracks none of whose rows lies on an annotated trail; per frame on
  every streak-free input (``no-streaks/`` and the sequences without annotated trails);
- overlays of every input with the default method's tracks, written to ``docs/real/``;
- **injected**: physical streaks (length = v x EXPTIME, displacement = v x the frames' start
  difference, :mod:`debristrack.simulate.debris`) added to the real frames of the real-dev
  sequences at SNR 6-30 against each frame's own noise, scored with MOT metrics (the
  annotated real trails join the ground truth so that finding them is not a false positive).

Rows are methods (``before`` = the [SDT]-style pipeline: ``real_sky=False``, ``min_hits``
filter). Sizes: the real inputs as they are (some 40 frames, about 1-2 Mpx each).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from ..detect.streaks.clean import robust_sigma
from ..detect.streaks.background import subtract_background
from ..errors import InputError
from ..evaluate.mot import MotConfig, evaluate_sequences
from ..io.sequence import Frame, mosaic_ccds, open_sequence
from ..simulate.debris import draw_debris, sample_debris
from ..simulate.scenes import make_scene
from ..pipeline.loop import run_method
from ..pipeline.sidereal import Config, PhysicalMethod, StreakMethod, frame_times, make_method, with_options
from .report import section_preamble, update_section

TRAIL_DIST = 6.0
TRAIL_ANGLE = 3.0
ANNOTATIONS = Path("benchmarks/real/streaks.csv")

# (row name, Config changes (flag names), method); rows of one config share the detections
ROWS = (("matched+ocsort, before ([SDT]-style: no real-sky front end)", dict(real_sky=False), "matched+ocsort"),
        ("matched+physical", {}, "matched+physical"),
        ("matched+ocsort", {}, "matched+ocsort"))
DEFAULT_ROW = "matched+physical"
INJECTED_ROWS = ROWS[1:]  # the [SDT]-style row takes ~1 min per NEOSSat frame: left out of the injections


@dataclasses.dataclass
class Input:
    """One real input: path, pool, whether it is a sequence, annotated trails per frame name."""

    path: Path
    pool: str
    trails: dict[str, list[np.ndarray]]
    streak_free: bool


def _read_annotations(csv: Path) -> dict[str, list[np.ndarray]]:
    if not csv.exists():
        return {}
    # file,id,x1,y1,x2,y2,note: the free-text note may hold commas, so split six times only
    lines = csv.read_text(encoding="utf-8").splitlines()
    out: dict[str, list[np.ndarray]] = {}
    for line in lines[1:]:
        if line.strip():
            f = line.split(",", 6)
            out.setdefault(f[0], []).append(np.array([float(v) for v in f[2:6]]))
    return out


def real_inputs(shared: Path, annotations: Path = ANNOTATIONS) -> list[Input]:
    """Every real input of the two pools, with its annotated trails."""
    out = []
    ours = _read_annotations(annotations)
    for pool in ("real", "real-dev"):
        root = shared / pool
        if not root.is_dir():
            continue
        for path in sorted((root / "streaks").glob("*.fit*")):
            trails = ours if pool == "real" else _read_annotations(root / "streaks" / "streaks.csv")
            out.append(Input(path, pool, {path.name: trails.get(path.name, [])}, streak_free=False))
        for path in sorted((root / "no-streaks").glob("*")):
            if path.is_dir() or path.suffix.lower() in (".fits", ".fit", ".fts"):
                out.append(Input(path, pool, {}, streak_free=True))
        for path in sorted((root / "sequences").glob("*")) if (root / "sequences").is_dir() else []:
            trails = _read_annotations(path / "streaks.csv")
            out.append(Input(path, pool, trails, streak_free=not trails))
    return out


def in_frame_pixels(trails: dict[str, list[np.ndarray]], seq, root: Path) -> dict[str, list[np.ndarray]]:
    """Annotations (file pixels) moved into the loaded frames' pixels: the reader crops
    overscan and common areas and records its shift in IRAF's LTV1/LTV2 (logical = physical
    + LTV); the shift is the loaded header's LTV minus the file's own (a file may carry LTV
    from its earlier processing)."""
    from astropy.io import fits

    out = {}
    names = [Path(n).name for n in seq.names]
    for fname, tlist in trails.items():
        if fname not in names:
            out[fname] = tlist
            continue
        h = seq.header(names.index(fname))
        file = root / fname if root.is_dir() else root
        raw = fits.getheader(file)
        shift = np.array([float(h.get("LTV1", 0.0)) - float(raw.get("LTV1", 0.0)),
                          float(h.get("LTV2", 0.0)) - float(raw.get("LTV2", 0.0))] * 2)
        out[fname] = [t + shift for t in tlist]
    return out


def on_trail(seg: np.ndarray, trail: np.ndarray) -> tuple[bool, tuple[float, float]]:
    """Whether segment ``seg`` lies on annotated ``trail`` (both ends within TRAIL_DIST px of
    its line, direction within TRAIL_ANGLE deg), and the stretch of the trail it covers
    (positions along the trail, px)."""
    a, b = trail[0:2], trail[2:4]
    length = float(np.hypot(*(b - a)))
    u = (b - a) / max(length, 1e-9)
    ends = np.stack([seg[0:2], seg[2:4]]) - a
    perp = np.abs(ends[:, 0] * u[1] - ends[:, 1] * u[0])
    d = seg[2:4] - seg[0:2]
    cosang = abs(float(d @ u)) / max(float(np.hypot(*d)), 1e-9)
    along = np.clip(np.sort(ends @ u), 0.0, length)
    ok = bool(perp.max() <= TRAIL_DIST and np.degrees(np.arccos(min(1.0, cosang))) <= TRAIL_ANGLE
              and along[1] > along[0])
    return ok, (float(along[0]), float(along[1]))


def score_tracks(table: Table, names: list[str], trails: dict[str, list[np.ndarray]]) -> tuple[int, int, int]:
    """(trails found, trails annotated, false tracks) of one input's track table."""
    found = 0
    on_any: set[int] = set()
    annotated = sum(len(v) for v in trails.values())
    for fname, tlist in trails.items():
        if fname not in names:
            continue
        frame = names.index(fname)
        rows = table[np.asarray(table["frame"]) == frame] if len(table) else table
        for trail in tlist:
            cover = []
            for r in rows:
                ok, stretch = on_trail(np.array([r["x1"], r["y1"], r["x2"], r["y2"]], float), trail)
                if ok:
                    cover.append(stretch)
                    on_any.add(int(r["id"]))
            length = float(np.hypot(*(trail[2:4] - trail[0:2])))
            if _union(cover) >= 0.5 * length:
                found += 1
    ids = set(np.asarray(table["id"]).tolist()) if len(table) else set()
    return found, annotated, len(ids - on_any)


def _union(stretches: list[tuple[float, float]]) -> float:
    total, end = 0.0, -np.inf
    for lo, hi in sorted(stretches):
        lo = max(lo, end)
        if hi > lo:
            total += hi - lo
            end = hi
    return total


def _opened(inputs: list[Input]):
    """``(input, sequence)`` for every input; a mosaic exposure gives one sequence per CCD
    (each CCD of one exposure is a one-frame input, :func:`debristrack.io.sequence.mosaic_ccds`)."""
    for inp in inputs:
        ccds = mosaic_ccds(inp.path) if inp.path.is_file() else []
        for ccd in ccds or [None]:
            try:
                seq = open_sequence(inp.path, ccd=ccd) if ccd else open_sequence(inp.path)
            except InputError as exc:
                print(f"bench real: skipped {inp.path}: {exc}", file=sys.stderr)
                continue
            yield (dataclasses.replace(inp, path=Path(f"{inp.path}[{ccd}]")) if ccd else inp), seq


def real_dev_sequences(shared: Path):
    """``(input, frames, names)`` of every real-dev sequence (a folder of frames): the input
    with its trails in the loaded frames' pixels, the frames in memory, their file names."""
    for inp in real_inputs(shared):
        if inp.pool != "real-dev" or not inp.path.is_dir():
            continue
        seq = open_sequence(inp.path)
        names = [Path(n).name for n in seq.names]
        yield dataclasses.replace(inp, trails=in_frame_pixels(inp.trails, seq, inp.path)), _frames(seq), names


def _frames(seq) -> list[Frame]:
    return [seq[i] for i in range(len(seq))]


class _Frames(list):
    """Frames in memory with the sequence interface the pipeline uses (``header``, ``require``)."""

    path = "frames"

    def header(self, i):
        return self[i].header

    def require(self, n: int, why: str) -> None:
        if len(self) < n:
            raise InputError(f"{self.path}: {len(self)} frame(s); {why}")


def run_rows(frames, shape, config: Config, rows=ROWS) -> dict[str, tuple[Table, Counter, float]]:
    """Every row of ``rows`` on one list of frames through the frame loop: tracks, validator
    rejections, seconds. A segment-tracker row whose config an earlier row had reuses that
    row's detections (seconds: its detection time plus its own linking)."""
    out = {}
    done: dict[tuple, tuple] = {}  # config changes -> (method object, rejections, detection seconds)
    for name, changes, method in rows:
        cfg = with_options(config, **changes)
        key = tuple(sorted(changes.items()))
        t0 = time.perf_counter()
        if key in done and not method.endswith("+physical"):
            first, rej, secs = done[key]
            m = StreakMethod(method.split("+")[0], method.split("+")[1], cfg)
            parts = [m.link(i, dets) for i, dets in enumerate(first.out)] + [m.finish()]
            table = vstack([p for p in parts if p is not None and len(p)] or [parts[-1]],
                           metadata_conflicts="silent")
            out[name] = (table, rej, secs + time.perf_counter() - t0)
            continue
        rej: Counter = Counter()
        m = make_method(frames, method, cfg, rejections=rej)
        if isinstance(m, PhysicalMethod):
            m.out = []  # its trails, for the segment-tracker rows of this config
        table = run_method(m, frames)
        secs = time.perf_counter() - t0
        done.setdefault(key, (m, rej, secs))
        out[name] = (table, rej, secs)
    return out


def inject(frames: list[Frame], seed: int) -> tuple[list[Frame], Table]:
    """Physical streaks added to real frames: 2-4 objects at SNR 6-30 (per FWHM of length)
    against each frame's robust noise, rates such that they cross the field in 1-8 frames.
    Returns the new frames and the ground truth (the simulator's labels)."""
    rng = np.random.default_rng(seed)
    ny, nx = frames[0].clean.shape
    starts, exptimes = frame_times(_Frames(frames))
    cadence = float(np.median(np.diff(starts))) if len(frames) > 1 else float(exptimes[0])
    exptime = float(np.median(exptimes))
    cadence = max(cadence, exptime)
    size = max(nx, ny)
    scene = make_scene("sidereal", "debris", size=nx, height=ny, frames=len(frames), exptime=exptime, cadence=cadence,
                       objects=(2, 4), snr=(6.0, 30.0), speed=(0.1 * size, 0.6 * size), leo_prob=0.25,
                       min_separation=40.0)
    sigma = float(np.median([robust_sigma(subtract_background(f.clean, f.mask)[0][::2, ::2]) for f in frames]))
    fwhm = 2.5

    def flux_per_fwhm(snr):
        # a FWHM-long piece of streak summed over ~ 1.13 FWHM^2 pixels of noise sigma^2 each
        return np.asarray(snr) * sigma * np.sqrt(1.13 * fwhm ** 2)

    debris = sample_debris(scene, frames=len(frames), flux_per_fwhm=flux_per_fwhm, rng=rng)
    out, truth = [], []
    for k, f in enumerate(frames):
        signal = np.zeros((ny, nx), np.float32)
        # the motion follows the headers' start times (the frames need not be evenly spaced)
        labels, _ = draw_debris(signal, debris, (starts[k] - starts[0]) / cadence, fwhm=fwhm, psf="gaussian", beta=2.5, brightness_noise=0.25,
                                gap_prob=0.0, rng=rng)
        out.append(Frame(k, f.name, (f.data + signal).astype(np.float32), f.header, f.time))
        truth.append(Table({"frame": np.full(len(labels["id"]), k, np.int64), "id": labels["id"].astype(np.int64),
                            "x1": labels["x1"], "y1": labels["y1"], "x2": labels["x2"], "y2": labels["y2"]}))
    return out, vstack(truth, metadata_conflicts="silent")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shared", type=Path, default=Path("../shared"),
                        help="folder holding real/ and real-dev/ (default ../shared)")
    parser.add_argument("--overlays", type=Path, default=Path("docs/real"),
                        help="folder for the overlays (default docs/real)")
    parser.add_argument("--injections", type=int, default=1,
                        help="injected sets per real-dev sequence (default 1; 0 = none)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default BENCHMARKS.md)")


def run(args: argparse.Namespace) -> int:
    from ..astrometry.export import write_overlay

    inputs = real_inputs(args.shared)
    if not inputs:
        raise InputError(f"bench real: no real inputs under {args.shared} (real/, real-dev/)")
    config = Config()
    tallies = {name: Counter() for name, _, _ in ROWS}
    rejections: Counter = Counter()
    per_input = []
    n_frames_total = 0
    for inp, seq in _opened(inputs):
        frames = _Frames(_frames(seq))
        names = [Path(n).name for n in seq.names]
        inp = dataclasses.replace(inp, trails=in_frame_pixels(inp.trails, seq, inp.path))
        shape = frames[0].clean.shape
        n_frames_total += len(frames)
        print(f"bench real: {inp.pool}/{inp.path.name} ({len(frames)} frame(s))", file=sys.stderr, flush=True)
        results = run_rows(frames, shape, config)
        cells = []
        for name, (table, rej, secs) in results.items():
            found, annotated, false = score_tracks(table, names, inp.trails)
            tally = tallies[name]
            tally["found"] += found
            tally["annotated"] += annotated
            tally[f"{inp.pool} found"] += found
            tally[f"{inp.pool} annotated"] += annotated
            tally["seconds"] += secs
            tally["frames"] += len(frames)
            if inp.streak_free:
                tally["free frames"] += len(frames)
                tally["free false"] += false
                tally[f"{inp.pool} free frames"] += len(frames)
                tally[f"{inp.pool} free false"] += false
            else:
                tally["annotated-input false"] += false
            cells.append((found, annotated, false))
            if name == DEFAULT_ROW:
                rejections.update(rej)
                if args.overlays:
                    args.overlays.mkdir(parents=True, exist_ok=True)
                    write_overlay(seq, table, args.overlays / f"{inp.pool}-{inp.path.stem}.png")
        per_input.append((inp, len(frames), cells))
    injected = _injected(args, config) if args.injections > 0 else None
    command = "debristrack bench real" + (f" --injections {args.injections}" if args.injections != 1 else "")
    markdown = report(tallies, per_input, rejections, injected, command, args.overlays)
    path = update_section("real", markdown, args.output)
    print(markdown)
    print(f"bench real: wrote {path}", file=sys.stderr)
    return 0


def _injected(args, config) -> dict[str, dict]:
    """MOT figures of every row on the real-dev sequences with injected physical streaks."""
    pairs: dict[str, dict] = {name: {} for name, _, _ in INJECTED_ROWS}
    for inp, base, names in real_dev_sequences(args.shared):
        for k in range(args.injections):
            frames, gt = inject(base, seed=1000 + 17 * k + len(names))
            real = [(names.index(f), t) for f, ts in inp.trails.items() if f in names for t in ts]
            real = [Table({"frame": [f], "id": [100000 + j], "x1": [t[0]], "y1": [t[1]], "x2": [t[2]], "y2": [t[3]]})
                    for j, (f, t) in enumerate(real)]
            if real:
                gt = vstack([gt] + real, metadata_conflicts="silent")
            print(f"bench real: injected {inp.path.name} #{k}", file=sys.stderr, flush=True)
            results = run_rows(_Frames(frames), frames[0].clean.shape, config, rows=INJECTED_ROWS)
            for name, (table, _, _) in results.items():
                pairs[name][f"{inp.path.name}-{k}"] = (gt, table)
    out = {}
    for name, p in pairs.items():
        if p:
            out[name] = evaluate_sequences(p, config=MotConfig(fwhm=2.5))[1].summary()
    return out


def _pct(a, b):
    return f"{100.0 * a / b:.0f} % ({a}/{b})" if b else "-"


def report(tallies, per_input, rejections, injected, command, overlays) -> str:
    head = ("| Method | trails found, all | real/ (test) | real-dev/ | false tracks per streak-free frame, all "
            "| real/ (test) | real-dev/ | false tracks on annotated inputs | s/frame |")
    lines = [head, "|" + "---|" * 9]
    for name, t in tallies.items():
        per = lambda k: f"{t[k + ' false'] / t[k + ' frames']:.2f}" if t[k + " frames"] else "-"  # noqa: E731
        lines.append(f"| {name} | {_pct(t['found'], t['annotated'])} | {_pct(t['real found'], t['real annotated'])} | "
                     f"{_pct(t['real-dev found'], t['real-dev annotated'])} | {per('free')} | {per('real free')} | "
                     f"{per('real-dev free')} | {t['annotated-input false']} | {t['seconds'] / max(t['frames'], 1):.2f} |")
    rows_names = list(tallies)
    detail = ["| input | frames | " + " | ".join(f"{n}: found/annotated, false" for n in rows_names) + " |",
              "|" + "---|" * (2 + len(rows_names))]
    for inp, n, cells in per_input:
        detail.append(f"| {inp.pool}/{inp.path.name} | {n} | " + " | ".join(
            f"{f}/{a}, {fa}" if a else f"-, {fa}" for f, a, fa in cells) + " |")
    rej = ", ".join(f"{k} {v}" for k, v in rejections.most_common()) or "none"
    inj = ""
    if injected:
        inj_lines = ["| Method | MOTA | IDF1 | HOTA | FP | FN | IDS |", "|---|---|---|---|---|---|---|"]
        for name, s in injected.items():
            inj_lines.append(f"| {name} | {100 * s['MOTA']:.1f} | {100 * s['IDF1']:.1f} | {100 * s['HOTA']:.1f} | "
                             f"{int(s['FP'])} | {int(s['FN'])} | {int(s['IDS'])} |")
        inj = ("\n\nPhysical streaks injected into the real frames of the real-dev sequences (2-4 objects, SNR 6-30 "
               "per FWHM of length against each frame's robust noise, streak = v x EXPTIME, next one v x cadence "
               "later, a quarter of them LEOs crossing the field in one exposure; no photon noise added on the "
               "streaks); the annotated real trails join the ground truth. MOT figures combined over the "
               "sequences (thick-line IoU, width 5 px), %:\n\n" + "\n".join(inj_lines))
    return ("## Real frames: sidereal methods on real telescope data\n\n" + section_preamble(command)
            + "Every real input of `../shared/real/` (TEST pool, never tuned on) and `../shared/real-dev/`. "
              f"A trail is found when reported segments within {TRAIL_DIST:.0f} px and {TRAIL_ANGLE:.0f} deg of "
              "its line cover half its length; annotations: real-dev's `streaks.csv`, ours for real/ in "
              "`benchmarks/real/streaks.csv`. A false track has no row on an annotated trail (the slow comet of "
              "the NEOSSat Leonard sequence counts as false). s/frame: detection + linking, one core, "
              f"frames of 0.02-2 Mpx. Overlays of the `{DEFAULT_ROW}` tracks: `{overlays}/`.\n\n"
            + "\n".join(lines) + "\n\nPer input:\n\n" + "\n".join(detail)
            + f"\n\nTrail validator rejections (`{DEFAULT_ROW}`, all inputs): {rej}." + inj + "\n")
