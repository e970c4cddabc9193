"""Writing simulated sequences and datasets to disk (DESIGN.md "Sequences on disk").

Layout: ``<root>/<split>/<sequence>/{frames/000000.fits ..., gt.csv, masks/000000.png ...,
meta.json}`` and ``<root>/dataset.json``. Frames are written one at a time as they are drawn
(never a whole sequence in memory), every file atomically. ``meta.json`` is written last and
marks a finished sequence: a finished sequence is never rewritten, a folder without it is
redone from scratch, so a killed run resumes where it stopped.

Seeds: sequence ``i`` of split ``S`` uses ``SeedSequence(seed, spawn_key=(crc32(S), i))``,
so it is the same bytes whatever the number of sequences generated beside it.
"""

from __future__ import annotations

import io
import json
import shutil
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from astropy.io import fits
from astropy.table import vstack
from PIL import Image

from .. import __version__
from ..errors import InputError
from ..io.atomic import atomic_write, write_fits_atomic, write_json_atomic
from ..io.lock import dataset_lock
from ..io.provenance import UNFINISHED, unfinished_reason
from ..parallel import Task, run_tasks
from ..progress import progress_bar, say
from ..io.tables import empty_table, write_table
from .render import SeedLike, SimFrame, check_background, iter_frames, seed_sequence
from .scenes import SkyScene, default_preset, make_scene, scene_to_dict


def frame_name(index: int) -> str:
    """``000000`` style name of frame ``index``."""
    return f"{index:06d}"


def sequence_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """The SeedSequence of sequence ``index`` in ``split`` of a dataset made with ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=(zlib.crc32(split.encode("utf-8")), index))


def write_frame(seq_dir: Path, frame: SimFrame) -> None:
    """Write ``frames/NNNNNN.fits`` (float32) and, when present, ``masks/NNNNNN.png`` (0/255)."""
    name = frame_name(frame.index)
    write_fits_atomic(seq_dir / "frames" / f"{name}.fits", fits.PrimaryHDU(frame.data, frame.header))
    if frame.mask is not None:
        buf = io.BytesIO()
        Image.fromarray(frame.mask.astype(np.uint8) * 255, mode="L").save(buf, format="PNG")
        with atomic_write(seq_dir / "masks" / f"{name}.png", "wb") as fh:
            fh.write(buf.getvalue())


def is_finished(seq_dir: str | Path) -> bool:
    """True when the sequence's ``meta.json`` exists (it is written last) and its frames are all there."""
    return unfinished_reason(seq_dir) is None and (Path(seq_dir) / "meta.json").is_file()


def _clear_unfinished(seq_dir: Path) -> None:
    """Remove what an interrupted run may have left (only the files this module writes)."""
    for sub in ("frames", "masks"):
        if (seq_dir / sub).is_dir():
            shutil.rmtree(seq_dir / sub)
    for path in seq_dir.glob("*"):
        if path.name == "gt.csv" or (path.name.startswith(".") and path.name.endswith(".tmp")):
            path.unlink()


def simulate_sequence(out_dir: str | Path, scene: SkyScene, *, seed: SeedLike,
                      background=None, on_frame: Callable[[int], None] | None = None,
                      info: dict | None = None) -> Path:
    """Simulate one sequence into ``out_dir`` (its own folder); return ``out_dir``.

    Parameters
    ----------
    out_dir : the sequence folder; created if needed.
    scene : scene dataclass from :func:`make_scene`.
    seed : int or SeedSequence; same seed and scene -> the same bytes in every file.
    background : None, a FITS file or a folder of FITS files used as the sky.
    on_frame : called with the frame index after each frame is written (progress).
    info : extra entries for ``meta.json``.

    A finished sequence (with ``meta.json``) is left untouched; an unfinished one is redone.
    """
    out_dir = Path(out_dir)
    if is_finished(out_dir):
        return out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / UNFINISHED).touch()  # first: a reader sees an unfinished sequence from here on
    (out_dir / "meta.json").unlink(missing_ok=True)  # a finished sequence that lost frames is redone
    _clear_unfinished(out_dir)
    ss = seed_sequence(seed)
    kind = "streak" if scene.mode == "sidereal" else "point"
    tables = []
    n_stars = 0
    for frame in iter_frames(scene, seed=ss, background=background):
        write_frame(out_dir, frame)
        tables.append(frame.truth)
        n_stars = max(n_stars, len(frame.stars))
        if on_frame is not None:
            on_frame(frame.index)
    written = len(list((out_dir / "frames").glob("*.fits")))
    if written != scene.frames:  # another writer removed files under us: never mark this finished
        raise InputError(f"{out_dir}: {written} of {scene.frames} frames on disk after writing them all; "
                         "was another process writing here?")
    truth = vstack(tables, metadata_conflicts="silent") if tables else empty_table(kind)
    write_table(truth, out_dir / "gt.csv")
    meta = {
        "mode": scene.mode,
        "kind": kind,
        "frames": scene.frames,
        "shape": list(scene.shape),
        "objects": int(len(set(np.asarray(truth["id"]).tolist()))),
        "stars_in_first_frame_max": n_stars,
        "scene": scene_to_dict(scene),
        "seed": {"entropy": ss.entropy, "spawn_key": list(ss.spawn_key)},
        "background": None if background is None or isinstance(background, np.ndarray) else str(background),
        "version": __version__,
        **(info or {}),
    }
    write_json_atomic(out_dir / "meta.json", meta)  # last: marks the sequence finished
    (out_dir / UNFINISHED).unlink()
    return out_dir


def simulate_dataset(root: str | Path, *, mode: str, preset: str | None = None, sequences: int = 1,
                     seed: int = 0, split: str | None = None, overrides: dict | None = None,
                     background=None, progress: bool = True, preview: bool = False,
                     workers: int | None = 1, scheduler: str | None = None) -> Path:
    """Simulate ``sequences`` sequences into ``<root>/<split>/seqNNNN`` and update ``dataset.json``.

    Parameters
    ----------
    root : dataset root folder.
    mode, preset, overrides : the scene, see :func:`make_scene`.
    sequences : number of sequences in the split.
    seed : dataset seed; sequence i uses :func:`sequence_seed` ``(seed, split, i)``.
    split : split folder name (default: the mode).
    background : None, a FITS file or a folder of FITS files (one picked per sequence).
    progress : show a rich progress bar on stderr when it is a terminal.
    preview : also write ``<root>/<split>/seqNNNN-preview.png`` contact sheets.
    workers, scheduler : where the sequences run, see :func:`debristrack.parallel.run_tasks`
        (1 = this process; N = a local Dask cluster; scheduler = an existing cluster). The
        bytes written do not depend on this. A sequence that fails is reported and the others
        carry on; then InputError names how many failed.

    Returns
    -------
    root as a Path. Finished sequences are skipped, so a killed run can simply be re-run.
    """
    scene = make_scene(mode, preset, **(overrides or {}))
    if sequences < 0:
        raise InputError(f"--sequences must be >= 0, got {sequences}")
    check_background(background)
    split = split or mode
    if not split or "/" in split or split in (".", ".."):
        raise InputError(f"invalid split name {split!r}")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not a folder")
    with dataset_lock(root):
        return _simulate_locked(root, scene, mode=mode, preset=preset, sequences=sequences, seed=seed,
                                split=split, overrides=overrides, background=background, progress=progress,
                                preview=preview, workers=workers, scheduler=scheduler)


def _simulate_locked(root: Path, scene: SkyScene, *, mode, preset, sequences, seed, split, overrides,
                     background, progress, preview, workers, scheduler) -> Path:
    """:func:`simulate_dataset` once the dataset lock is held."""
    stale = 0
    tasks = []
    for i in range(sequences):
        seq_dir = root / split / f"seq{i:04d}"
        if is_finished(seq_dir):
            stale += not _same_recipe(seq_dir, scene, sequence_seed(seed, split, i))
            continue
        info = {"dataset_seed": seed, "split": split, "index": i, "preset": preset or default_preset(mode)}
        tasks.append(Task(f"{split}/seq{i:04d}", simulate_sequence, (seq_dir, scene),
                          {"seed": sequence_seed(seed, split, i), "background": background, "info": info}))
    in_process = scheduler is None and (workers == 1 or len(tasks) <= 1)
    with progress_bar(f"simulate {split}", enabled=None if progress else False) as update:
        if in_process:  # frame-level progress, no Dask
            total = len(tasks) * scene.frames
            done = 0
            update(done, total)

            def tick(_index: int) -> None:
                nonlocal done
                done += 1
                update(done, total)

            tasks = [Task(t.name, t.func, t.args, {**t.kwargs, "on_frame": tick}) for t in tasks]
        results = run_tasks(tasks, workers=1 if in_process else workers, scheduler=scheduler,
                            progress=None if in_process else (lambda d, f, t: update(d, t, f)))
    failed = [r for r in results if not r.ok]
    for r in failed:
        say(f"failed: {r.name}: {r.error}")
    if preview:
        from .preview import write_preview  # matplotlib is imported only when asked for

        for i in range(sequences):
            png = root / split / f"seq{i:04d}-preview.png"
            if is_finished(root / split / f"seq{i:04d}") and not png.exists():
                write_preview(root / split / f"seq{i:04d}", png)
    if failed:
        raise InputError(f"{root / split}: {len(failed)} of {len(tasks)} sequence(s) failed, first: {failed[0].error}")
    if stale:
        say(f"debristrack: warning: kept {stale} finished sequence(s) in {root / split} made with other "
            "parameters or seed; finished sequences are never rewritten (use a new --out to regenerate)")
    _update_dataset_json(root, split, {
        "mode": mode, "preset": preset or default_preset(mode), "sequences": sequences,
        "frames": sequences * scene.frames, "seed": seed, "overrides": dict(overrides or {}),
        "background": None if background is None else str(background),
    })
    return root


def _same_recipe(seq_dir: Path, scene: SkyScene, ss: np.random.SeedSequence) -> bool:
    """True when the finished sequence's meta.json has this scene and seed."""
    try:
        meta = json.loads((seq_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    want = json.loads(json.dumps(scene_to_dict(scene)))
    return meta.get("scene") == want and meta.get("seed", {}).get("spawn_key") == list(ss.spawn_key) \
        and meta.get("seed", {}).get("entropy") == ss.entropy


def _update_dataset_json(root: Path, split: str, entry: dict) -> None:
    path = root / "dataset.json"
    data: dict = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            say(f"debristrack: warning: {path} was unreadable and is rewritten")
            data = {}
    splits = data.get("splits", {}) if isinstance(data.get("splits"), dict) else {}
    splits[split] = entry
    data = {"splits": splits, "version": __version__,
            "sequences": sum(int(s.get("sequences", 0)) for s in splits.values()),
            "frames": sum(int(s.get("frames", 0)) for s in splits.values())}
    write_json_atomic(path, data)
