"""What ``debristrack report RESULTS`` reads: the tracks of a night, their frames, their truth.

RESULTS is one of:

- a ``debristrack watch`` output folder (it holds ``watch.json``): its ``tracks.csv``, the
  watched folder as the frames, and its ``journal.csv`` (per-frame latency);
- one tracks CSV (from ``debristrack track``); the frames come from ``--sequence``;
- a results folder of ``debristrack track DATASET`` (``<split>/<sequence>.csv``); the
  frames from ``--sequence DATASET_ROOT`` (``<root>/<split>/<sequence>/``).

Ground truth is ``--gt`` (one sequence) or the ``gt.csv`` beside the frames of a simulated
sequence (``<sequence>/gt.csv``, also when the frames are its ``frames/`` folder).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..evaluate.inputs import read_meta

WATCH_STATE = "watch.json"


@dataclass(frozen=True)
class NightSequence:
    """One sequence of the night.

    ``tracks`` is the tracks CSV; ``frames`` the sequence the tracks were measured on (None:
    no cut-outs); ``gt`` its ground truth (None: no evaluation); ``journal`` the watch
    journal (None unless the results come from ``watch``); ``fwhm`` from ``meta.json``.
    """

    name: str
    tracks: Path
    frames: Path | None = None
    gt: Path | None = None
    journal: Path | None = None
    mode: str | None = None
    method: str | None = None
    fwhm: float | None = None


def _sequence_dir(frames: Path) -> Path:
    """The simulated sequence folder of a frames path (``<seq>/frames`` -> ``<seq>``)."""
    return frames.parent if frames.name == "frames" else frames


def auto_gt(frames: Path | None) -> Path | None:
    """``<sequence>/gt.csv`` when the frames belong to a simulated sequence, else None."""
    if frames is None or not frames.is_dir():
        return None
    gt = _sequence_dir(frames) / "gt.csv"
    return gt if gt.is_file() else None


def _one(name: str, tracks: Path, frames: Path | None, gt: Path | None, **extra) -> NightSequence:
    if frames is not None and not frames.exists():
        raise InputError(f"{frames}: no such sequence (the frames of {tracks})")
    if gt is not None and not gt.is_file():
        raise InputError(f"{gt}: no such ground-truth file")
    gt = gt if gt is not None else auto_gt(frames)
    fwhm = read_meta(_sequence_dir(frames))[0] if frames is not None and frames.is_dir() else None
    return NightSequence(name, tracks, frames, gt, fwhm=fwhm, **extra)


def find_night(results: str | os.PathLike, *, sequence: str | os.PathLike | None = None,
               gt: str | os.PathLike | None = None) -> list[NightSequence]:
    """The sequences of a night's results (module docstring), sorted by name.

    Raises InputError naming the path when RESULTS does not exist, holds no tracks table,
    or ``--gt`` is given for many sequences.
    """
    results = Path(results)
    sequence = Path(sequence) if sequence is not None else None
    gt = Path(gt) if gt is not None else None
    if not results.exists():
        raise InputError(f"{results}: no such results file or folder")
    if results.is_file():
        name = _sequence_dir(sequence).name if sequence is not None and sequence.is_dir() else results.stem
        return [_one(name, results, sequence, gt)]
    state_path = results / WATCH_STATE
    if state_path.is_file():
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
            folder = Path(state["folder"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{state_path}: not a watch state file ({exc})") from None
        tracks = results / "tracks.csv"
        if not tracks.is_file():
            raise InputError(f"{results}: watch has written no tracks.csv yet")
        journal = results / "journal.csv"
        return [_one(folder.name if folder.name != "frames" else folder.parent.name, tracks,
                     sequence or folder, gt, journal=journal if journal.is_file() else None,
                     mode=state.get("mode"), method=state.get("method"))]
    found = sorted(p for p in results.rglob("*.csv") if not p.name.startswith("."))
    if not found:
        raise InputError(f"{results}: no tracks tables (*.csv) in this folder")
    if gt is not None and len(found) > 1:
        raise InputError(f"--gt names one table, but {results} holds {len(found)}; the ground truth of a "
                         "dataset is found beside each sequence (give --sequence DATASET_ROOT)")
    out = []
    for path in found:
        rel = path.relative_to(results).with_suffix("")
        frames = None
        if sequence is not None:
            frames = sequence / rel if len(found) > 1 or (sequence / rel).exists() else sequence
        out.append(_one(rel.as_posix(), path, frames, gt))
    return out
