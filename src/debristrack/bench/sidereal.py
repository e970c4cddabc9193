"""``debristrack bench sidereal``: streak detectors x segment trackers, [SDT] Tab. 2 columns.

Two test sets are simulated in memory with the ``sidereal`` presets ``debris`` (1-3 objects)
and ``dense`` (4-7 objects, crossings and near-parallel tracks), [SDT] sec. 3.3.2. Every
row runs on the same sequences; the MOT figures (IDF1, MOTA, IDS, HOTA, DetA, AssA) come
from :func:`debristrack.evaluate.mot.evaluate_sequences` (TrackEval, thick-line streak IoU,
width 2 x FWHM), combined over each set. Seconds per frame = detection + linking.

Rows come from the functions in :data:`ROW_SOURCES`: each takes one simulated sequence
(a list of frames) and returns ``{row name: (tracks table, seconds)}``; every row runs its
method through the frame loop (:func:`debristrack.pipeline.loop.run_method`), detection
included. Another method adds its rows by appending a function.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from ..errors import InputError
from ..evaluate.mot import MotConfig, MotResult, evaluate_sequences, with_fwhm
from ..io.sequence import Frame
from ..parallel import Task, add_parallel_arguments, run_tasks
from ..simulate import iter_frames, make_scene
from ..pipeline.loop import run_method
from ..pipeline.sidereal import DETECTORS, Config, make_method, with_options
from ..sdtnet.options import DEFAULT_WEIGHTS, SHIPPED_WEIGHTS, SdtnetConfig
from ..track.segments import TRACKERS
from .report import section_preamble, update_section
from ..config import int_at_least

SETS = (("debris", "Debris"), ("dense", "Dense Debris"), ("nuisance", "Nuisance"), ("sdtd", "SDTD Debris"),
        ("sdtd-dense", "SDTD Dense"))
# seeds of each set: the sdtd sets keep the ones that today's debris/dense sets (the [SDT] model) had
SET_SEED = {"sdtd": 0, "sdtd-dense": 1, "debris": 2, "dense": 3, "nuisance": 4}
COLUMNS = (("IDF1", 100.0, "{:.1f}"), ("MOTA", 100.0, "{:.1f}"), ("IDS", 1, "{:d}"),
           ("HOTA", 100.0, "{:.1f}"), ("DetA", 100.0, "{:.1f}"), ("AssA", 100.0, "{:.1f}"))


class _Frames(list):
    """The frames of one simulated sequence, with what a method asks of a sequence."""

    path = "simulated"

    def require(self, n: int, why: str) -> None:
        if len(self) < n:
            raise InputError(f"{self.path}: {len(self)} frame(s); {why}")


def _run(frames: list[Frame], method: str, config: Config) -> tuple[Table, float]:
    """One method through the frame loop; seconds of the whole run (the static-star median
    of ``matched`` included)."""
    t0 = time.perf_counter()
    tracks = run_method(make_method(_Frames(frames), method, config), frames)
    return tracks, time.perf_counter() - t0


def classical_rows(frames: list[Frame], config: Config) -> dict[str, tuple[Table, float]]:
    """Every ``detector+tracker`` pair and ``detector+physical`` on one sequence, each through the
    frame loop; ``matched+ocsort, [SDT]-style`` is the matched detector without the real-sky
    front end (``--real-sky false``), as before issue 14."""
    rows = {f"{d}+{t}": _run(frames, f"{d}+{t}", config) for d in DETECTORS for t in tuple(TRACKERS) + ("physical",)}
    rows["matched+ocsort, [SDT]-style"] = _run(frames, "matched+ocsort", with_options(config, real_sky=False))
    return rows


# [SDT] Tab. 3 ablation weights (trained with configs/ablation-*.json), relative to the repository
# root where the benchmark is run; see benchmarks/sdtnet-ablation/README.md.
ABLATION_DIR = Path("benchmarks/sdtnet-ablation")
ABLATIONS = (("a", "a-centre.pt", "CenterTrack-style centre + size"), ("b", "b-no-roife.pt", "LSE without RoI-FE"),
             ("c", "c-no-offset.pt", "without the offset module"), ("d", "d-full.pt", "full"))


def paper_decoding(config: SdtnetConfig) -> SdtnetConfig:
    """[SDT] as published: the frames themselves in, endpoints paired by embedding distance
    alone (eq. 10), tracks associated by the network's offsets alone (eq. 13-14)."""
    return dataclasses.replace(config, input="frame", embedding_distance=0.5, mask_support=0.0, support_weight=0.0,
                               motion=False, physics=False, singles=False, validate=False)


def _bench_config(config) -> SdtnetConfig:
    """The SDT-Net options of ``config`` on the CPU with one torch thread (one per task)."""
    return dataclasses.replace(config.sdtnet, threads=1, device="cpu")


def _sdtnet(frames: list[Frame], config, sdt: SdtnetConfig) -> tuple[Table, float]:
    return _run(frames, "sdtnet", dataclasses.replace(config, sdtnet=sdt))


def sdtnet_rows(frames: list[Frame], config) -> dict[str, tuple[Table, float]]:
    """SDT-Net ([SDT] sec. 4) with the shipped weights on the same frames, with our decoding
    (mask-aware pairing, motion prediction) and with the paper's; one torch thread, and the
    track filter of the classical rows (``min_hits``, :func:`plausible_tracks`)."""
    sdt = _bench_config(config)
    rows = {"sdtnet": _sdtnet(frames, config, sdt)}
    rows.update(input_ablation_rows(frames, config, "sdtnet", sdt))
    rows["sdtnet, paper decoding"] = _sdtnet(frames, config, paper_decoding(sdt))
    rows.update(other_weights_rows(frames, config))
    return rows


def input_ablation_rows(frames: list[Frame], config, name: str, sdt: SdtnetConfig) -> dict[str, tuple[Table, float]]:
    """Row ``name`` on the input its weights were not trained on (frames for weights trained on
    the static-sky residual, and the other way round): the input ablation."""
    from ..sdtnet.infer import other_input, trained_input

    other = other_input(trained_input(sdt.weights) if sdt.input == "auto" else sdt.input)
    return {f"{name}, {other} input": _sdtnet(frames, config, dataclasses.replace(sdt, input=other))}


def other_weights_rows(frames: list[Frame], config) -> dict[str, tuple[Table, float]]:
    """The shipped weights that are not the default, with this package's decoding: the issue 7
    weights (``sdtnet_cpu.pt``, [SDT] eq. 5 motion, ZScale input) and the issue 17 ones
    (``sdtnet_real.pt``, physical motion and randomised skies, asinh input)."""
    sdt = _bench_config(config)
    default = Path(sdt.weights) if sdt.weights else DEFAULT_WEIGHTS
    rows = {}
    for w in SHIPPED_WEIGHTS:
        if w.exists() and w.resolve() != default.resolve():
            mine = dataclasses.replace(sdt, weights=str(w))
            rows[f"sdtnet ({w.name})"] = _sdtnet(frames, config, mine)
            rows.update(input_ablation_rows(frames, config, f"sdtnet ({w.name})", mine))
    return rows


def default_row(frames: list[Frame], config: Config) -> dict[str, tuple[Table, float]]:
    """The default sidereal method alone (the classical reference of ``--sdtnet-only``)."""
    return {"matched+physical": _run(frames, "matched+physical", config)}


def ablation_rows(frames: list[Frame], config) -> dict[str, tuple[Table, float]]:
    """[SDT] Tab. 3 rows (a)-(d): the four variants trained alike (configs/cpu.json schedule),
    decoded as the paper does; none when :data:`ABLATION_DIR` is missing."""
    sdt = paper_decoding(_bench_config(config))
    return {f"Tab. 3 ({key}) {label}": _sdtnet(frames, config, dataclasses.replace(sdt, weights=str(ABLATION_DIR / name)))
            for key, name, label in ABLATIONS if (ABLATION_DIR / name).exists()}


ROW_SOURCES: list[Callable[[list[Frame], Config], dict[str, tuple[Table, float]]]] = [classical_rows, sdtnet_rows,
                                                                                      ablation_rows]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a small run: 3 sequences per set")
    parser.add_argument("--sequences", type=int_at_least(1), default=100,
                        help="sequences per test set (default 100; --quick 3)")
    parser.add_argument("--classical-only", action="store_true",
                        help="only the classical rows (no SDT-Net, which needs torch and is slow on 2 cores)")
    parser.add_argument("--sdtnet-only", action="store_true",
                        help="the default classical row (matched+physical) and the SDT-Net rows without the Tab. 3 "
                             "ablations (a shorter run for the SDT-Net figures)")
    parser.add_argument("--sets", default=",".join(p for p, _ in SETS),
                        help="comma-separated test sets (default all: " + ",".join(p for p, _ in SETS) + ")")
    parser.add_argument("--seed", type=int_at_least(0), default=2025, help="random seed of the test sets (default 2025)")
    parser.add_argument("--output", default="BENCHMARKS.md", help="file to update (default BENCHMARKS.md)")
    parser.add_argument("--section", default="sidereal",
                        help="BENCHMARKS.md section to write (default sidereal; another name keeps that table)")
    add_parallel_arguments(parser, default=1)


def simulate(preset: str, index: int, seed: int) -> tuple[list[Frame], Table, float]:
    """Sequence ``index`` of test set ``preset``: frames, ground truth, PSF FWHM (px)."""
    scene = make_scene("sidereal", preset)
    ss = np.random.SeedSequence([seed, index, SET_SEED[preset]])
    frames, truth = [], []
    for sim in iter_frames(scene, seed=ss):
        frames.append(Frame(sim.index, f"{sim.index:06d}", sim.data, sim.header, None))
        truth.append(sim.truth)
    return frames, vstack(truth, metadata_conflicts="silent"), scene.fwhm


def sequence_rows(preset: str, index: int, seed: int, config: Config, sources=None):
    """One task: simulate sequence ``index`` of ``preset`` and run every row source on it.

    ``sources`` (default :data:`ROW_SOURCES`) travel with the task, so rows that another
    module registered reach Dask workers too.

    Returns (ground truth, FWHM, frames, {row: (tracks, seconds)}).
    """
    frames, gt, fwhm = simulate(preset, index, seed)
    rows = {}
    for source in sources or ROW_SOURCES:
        rows.update(source(frames, config))
    return gt, fwhm, len(frames), rows


def run_set(preset: str, n: int, seed: int, config: Config, *, workers: int = 1,
            scheduler: str | None = None, sources=None) -> tuple[dict[str, MotResult], dict[str, float]]:
    """All rows on ``n`` sequences of one set: combined MOT results and seconds per frame.

    With ``workers`` > 1 the sequences run on a local Dask cluster; seconds per frame are still
    measured inside each task (one core each), so they stay comparable.
    """
    sources = tuple(sources or ROW_SOURCES)
    tasks = [Task(f"{preset}{i:04d}", sequence_rows, (preset, i, seed, config, sources)) for i in range(n)]
    done = run_tasks(tasks, workers=workers, scheduler=scheduler,
                     progress=lambda d, f, t: print(f"bench sidereal: {preset} {d}/{t}", file=sys.stderr, flush=True))
    failed = [r for r in done if not r.ok]
    if failed:
        raise InputError(f"bench sidereal: {failed[0].name}: {failed[0].error}")
    pairs: dict[str, dict[str, tuple[Table, Table]]] = {}
    seconds: dict[str, float] = {}
    n_frames = 0
    mot = {}
    for result in done:
        gt, fwhm, frames, rows = result.value
        n_frames += frames
        mot[result.name] = with_fwhm(MotConfig(), fwhm)
        for row, (tracks, secs) in rows.items():
            pairs.setdefault(row, {})[result.name] = (gt, tracks)
            seconds[row] = seconds.get(row, 0.0) + secs
    results = {row: evaluate_sequences(p, configs=mot)[1] for row, p in pairs.items()}
    return results, {row: s / max(n_frames, 1) for row, s in seconds.items()}


def _cells(result: MotResult) -> list[str]:
    s = result.summary()
    return [fmt.format(int(s[k]) if scale == 1 else scale * float(s[k])) for k, scale, fmt in COLUMNS]


def report(results: dict[str, tuple[dict, dict]], n: int, command: str, workers: int = 1, title: str = "") -> str:
    """Markdown section: one row per method, the [SDT] Tab. 2 columns for each set."""
    sets = [(p, t) for p, t in SETS if p in results]
    head = ["Tracker"]
    for _, title in sets:
        head += [f"{title} {k}" for k, _, _ in COLUMNS] + [f"{title} s/frame"]
    rows = list(next(iter(results.values()))[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row]
        for preset, _ in sets:
            mot, secs = results[preset]
            cells += _cells(mot[row]) + [f"{secs[row]:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    scene = make_scene("sidereal", SETS[0][0])
    return (
        f"## Sidereal mode: streak detectors x trackers ([SDT] Tab. 2 columns)"
        + (", physical and sdtd presets" if len(sets) > 2 else "") + "\n\n"
        + section_preamble(command)
        + f"{n} simulated sequences per set ({scene.frames} frames of {scene.size}x{scene.size} px; presets "
          "`debris` and `dense`: physical motion, streak = v x EXPTIME and the next one v x cadence later, a fifth "
          "of the objects LEOs crossing the field in one exposure; `sdtd` and `sdtd-dense`: the [SDT] eq. 5 model "
          "of the paper's Tab. 2/3, the same sequences as the earlier `debris`/`dense` sets; `nuisance`: `debris` on a real-looking sky, "
          "simulate/nuisances.py, with a labelled one-frame meteor), the same sequences "
          "for every row. `matched+physical` links with the streaks' physics (track/physical.py) and reports "
          "one-frame trails; `, [SDT]-style` is the matched detector without the real-sky front end. MOT figures from TrackEval "
          "(HOTA/CLEAR/Identity) with the thick-line streak IoU (width 2 x FWHM), combined over each set; "
          "IDF1, MOTA, HOTA, DetA, AssA in %, IDS a count; s/frame = detection + linking on one core"
          + (f", measured inside each task while {workers} Dask workers shared the machine (compare "
             "rows with each other, not with a serial run)" if workers > 1 else "") + ".\n\n"
        + "\n".join(lines) + "\n\n"
        "SDT-Net rows: `sdtnet` is the default weights (`sdtnet_realseq_first.pt`, issue 17: trained on static-sky "
        "residuals, half the scenes real sequences of real-dev with simulated streaks, some samples a "
        "sequence's first frame) with this package's decoding: the net sees each frame's static-sky residual "
        "(`--sdtnet-input auto`: what the weights were trained on; the classical front end's window and "
        "cleaning); endpoints paired by embedding distance plus the RoI-FE mask along the segment; association "
        "by the net's offsets, the streak's own geometry (rate = length / EXPTIME, the next streak a cadence "
        "later on its line) and the track's velocity; the trail validator on tracks of one or two streaks "
        "(on residuals all of them must pass, on frames most) while longer tracks are judged by their motion; tracks of two or more streaks with parallel streaks and, from three, centres on a line moving "
        "one way (`unsteady_tracks`); one-frame trails kept as `matched+physical` keeps them. `sdtnet "
        "(sdtnet_cpu.pt)` is the issue 7 weights ([SDT] eq. 5 motion, ZScale input, frames in) and `sdtnet "
        "(sdtnet_real.pt)` the first issue 17 weights (asinh input, physical and sdtd scenes with randomised "
        "skies, frames in), `sdtnet (sdtnet_residual.pt)` the first residual weights (simulated scenes only) "
        "and `sdtnet (sdtnet_realseq.pt)` the default's starting point (no first-frame samples), with the same decoding; a row `, frame input` or `, residual input` is those "
        "weights given the input they were not trained on (`--sdtnet-input`: the input ablation). `sdtnet, "
        "paper decoding` is the default network decoded as [SDT] publishes it (frames in, eq. 10 pairing, eq. "
        "13-14 association). The `Tab. 3` rows are the four ablation variants trained "
        "alike (`configs/ablation-*.json` and `cpu.json`: 16 epochs x 200 steps on 2 CPU threads, "
        "weights in `benchmarks/sdtnet-ablation/`), paper decoding. Every SDT-Net row runs on one torch "
        "thread and gets the classical rows' track filter (at least `min_hits` detections, moving along "
        "its streaks).\n\n"
        "For orientation, [SDT] Tab. 2 and 3 (their SDTD data, box-based matching, GPU-trained DLA-34): "
        "SDT-Net (d) IDF1 / MOTA / HOTA 91.8 / 87.7 / 87.8 (Debris) and 80.6 / 70.3 / 73.6 (Dense); "
        "(a) 86.3 / 77.1 / 81.0 and 72.5 / 64.8 / 66.1; (b) 90.4 / 85.5 / 84.8 and 78.5 / 64.9 / 65.3; "
        "(c) 88.2 / 86.0 / 85.2 and 73.5 / 62.9 / 63.0; LSD MOTA 9.8, ByteTrack MOTA 83.3 / 62.8, "
        "OC-SORT MOTA 84.1 / 68.5. Not comparable number for number: different data and similarity.\n"
    )


def run(args: argparse.Namespace) -> int:
    n = 3 if args.quick else args.sequences
    if n < 1:
        raise InputError(f"bench sidereal: --sequences must be at least 1, got {n}")
    config = Config()
    chosen = [p for p in args.sets.split(",") if p]
    unknown = sorted(set(chosen) - {p for p, _ in SETS})
    if unknown:
        raise InputError(f"bench sidereal: unknown set(s) {', '.join(unknown)}; use {', '.join(p for p, _ in SETS)}")
    sdtnet_only = getattr(args, "sdtnet_only", False)
    sources = [classical_rows] if args.classical_only else ([default_row, sdtnet_rows] if sdtnet_only else None)
    results = {preset: run_set(preset, n, args.seed, config, workers=args.workers, scheduler=args.scheduler,
                               sources=sources) for preset in chosen}
    command = "debristrack bench sidereal" + (" --quick" if args.quick else f" --sequences {n}")
    if args.classical_only:
        command += " --classical-only"
    if sdtnet_only:
        command += " --sdtnet-only"
    if args.sets != ",".join(p for p, _ in SETS):
        command += f" --sets {args.sets}"
    if args.workers > 1:
        command += f" --workers {args.workers}"
    if args.seed != 2025:
        command += f" --seed {args.seed}"
    if args.section != "sidereal":
        command += f" --section {args.section}"
    title = f": sets {', '.join(chosen)}" if args.section != "sidereal" else ""
    markdown = report(results, n, command, workers=args.workers, title=title)
    path = update_section(args.section, markdown, args.output)
    print(markdown)
    print(f"bench sidereal: wrote {path}", file=sys.stderr)
    return 0
