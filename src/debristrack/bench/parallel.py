"""``debristrack bench parallel``: sequences per minute with 1 and 2 workers; memory per task.

Runs ``simulate`` and ``track --mode stare`` over the same small dataset with the in-process
runner (1 worker) and with a local Dask cluster of 2 workers, in one run, and checks the
outputs are the same bytes. Then measures the peak memory of one worker process that
simulates and tracks one 4096x4096 stare sequence (``resource.getrusage`` in a fresh process).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import resource
import shutil
import tempfile
import time
from pathlib import Path

from ..io.sequence import find_sequences
from ..parallel import Task, run_tasks
from ..simulate.dataset import simulate_dataset
from .report import section_preamble, update_section
from ..config import int_at_least


def add_arguments(p) -> None:
    p.add_argument("--sequences", type=int_at_least(1), default=12, help="sequences in the dataset (default 12)")
    p.add_argument("--frames", type=int_at_least(1), default=12, help="frames per sequence (default 12)")
    p.add_argument("--size", type=int_at_least(16), default=2048, help="frame size in px (default 2048)")
    p.add_argument("--big", type=int_at_least(0), default=4096, help="frame size of the memory measurement (0: skip)")
    p.add_argument("--quick", action="store_true", help="4 sequences of 6 frames, 512 px, no memory run")
    p.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))


def _digest(root: Path, pattern: str) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob(pattern)):
        if p.is_file() and p.name != "dataset.json":
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _track_dataset(root: Path, out: Path, workers: int) -> None:
    from ..commands.track import track_path
    from ..pipeline import stare

    tasks = [Task(str(s.relative_to(root)), track_path, ("stare", s, out / s.relative_to(root).with_suffix(".csv")),
                  {"method": "minstack", "config": stare.Config()}) for s in find_sequences(root)]
    results = run_tasks(tasks, workers=workers)
    bad = [r for r in results if not r.ok]
    if bad:
        raise RuntimeError(f"{bad[0].name}: {bad[0].error}")


def _peak_memory_child(size: int, frames: int, folder: str, queue) -> None:
    from ..commands.track import track_path
    from ..pipeline import stare

    simulate_dataset(folder, mode="stare", sequences=1, seed=0, progress=False,
                     overrides={"size": size, "frames": frames})
    after_sim = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seq = Path(folder) / "stare" / "seq0000"
    track_path("stare", seq, Path(folder) / "tracks.csv", method="minstack", config=stare.Config())
    queue.put((after_sim, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def _cluster_startup() -> float:
    """Seconds to start and stop a 2-worker local cluster around two trivial tasks."""
    start = time.perf_counter()
    run_tasks([Task(f"noop{i}", time.sleep, (0.0,)) for i in range(2)], workers=2)
    return time.perf_counter() - start


def run(args) -> int:
    if args.quick:
        args.sequences, args.frames, args.size, args.big = 4, 6, 512, 0
    overrides = {"frames": args.frames, "size": args.size}
    rows, digests = [], {}
    with tempfile.TemporaryDirectory(prefix="debristrack-bench-") as tmp:
        tmp = Path(tmp)
        for workers in (1, 2):
            root = tmp / f"w{workers}"
            start = time.perf_counter()
            simulate_dataset(root, mode="stare", sequences=args.sequences, seed=0, overrides=overrides,
                             progress=False, workers=workers)
            sim_s = time.perf_counter() - start
            start = time.perf_counter()
            _track_dataset(root, tmp / f"t{workers}", workers)
            track_s = time.perf_counter() - start
            digests[workers] = (_digest(root, "*"), _digest(tmp / f"t{workers}", "*.csv"))
            rows.append((workers, sim_s, track_s))
        startup = _cluster_startup()
        memory = None
        if args.big:
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            proc = ctx.Process(target=_peak_memory_child, args=(args.big, 8, str(tmp / "big"), queue))
            proc.start()
            memory = queue.get()
            proc.join()
            shutil.rmtree(tmp / "big", ignore_errors=True)
    same = digests[1] == digests[2]
    n = args.sequences
    lines = [section_preamble(f"debristrack bench parallel{' --quick' if args.quick else ''}"),
             f"Dataset: {n} `stare` sequences of {args.frames} frames, {args.size}x{args.size}. "
             f"Outputs with 1 and 2 workers identical (frames, gt.csv, meta.json, tracks): **{same}**.\n",
             "| workers | simulate: sequences/min | track --mode stare: sequences/min | track: s/frame (wall) |",
             "|---:|---:|---:|---:|"]
    for workers, sim_s, track_s in rows:
        lines.append(f"| {workers} | {60 * n / sim_s:.1f} | {60 * n / track_s:.1f} | "
                     f"{track_s / (n * args.frames):.3f} |")
    base_sim, base_track = rows[0][1], rows[0][2]
    lines.append(f"\nSpeed-up with 2 workers: simulate x{base_sim / rows[1][1]:.2f}, track x{base_track / rows[1][2]:.2f}, "
                 f"each including the start of the local cluster ({startup:.1f} s, measured alone); without it: "
                 f"simulate x{base_sim / max(rows[1][1] - startup, 1e-9):.2f}, "
                 f"track x{base_track / max(rows[1][2] - startup, 1e-9):.2f}.")
    lines.append("\nExpected on a larger cluster: one task is one sequence and tasks share nothing, so throughput "
                 "grows with the number of workers until the storage saturates. `simulate` is compute-bound "
                 "(rendering, noise) and scales almost linearly; `track --mode stare` reads each frame once "
                 "(64 MiB per 4096x4096 float32 frame at under 0.1 s of compute), so on a shared file system it "
                 "becomes I/O-bound at roughly (file-system bandwidth / 0.7 GB/s) workers. With sequences of "
                 "seconds or more, the few seconds of cluster start-up are paid once per run.")
    if memory:
        lines.append(f"\nPeak memory (max RSS) of one worker process on one {args.big}x{args.big} stare sequence "
                     f"of 8 frames: {memory[0] / 1024:.0f} MiB after simulating it, {memory[1] / 1024:.0f} MiB after "
                     "tracking it (Python, numpy, astropy and the window of frames).")
    text = "\n".join(lines)
    update_section("parallel", "## Parallel runs: Dask\n\n" + text, args.output)
    print(text)
    return 0 if same else 1
