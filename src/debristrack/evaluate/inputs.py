"""Find and read what ``debristrack evaluate`` compares: one table pair, or a whole dataset.

- One sequence: ``GT`` is a ``gt.csv`` (or a sequence folder holding one) and ``PRED`` a
  results table.
- A dataset: ``GT`` is a dataset root, every ``<root>/<split>/<sequence>/gt.csv`` is a
  sequence, and ``PRED`` is a results folder holding ``<split>/<sequence>.csv`` (the tree
  ``debristrack track`` writes). A missing results file is an empty prediction.

The PSF FWHM for the streak width comes from the sequence's ``meta.json`` (``scene.fwhm``,
written by ``debristrack simulate``) when it has one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from astropy.table import Table

from ..errors import InputError
from ..io.tables import empty_table, read_table, table_kind


@dataclass(frozen=True)
class SequencePair:
    """One sequence to evaluate.

    ``name`` is the sequence's path relative to the dataset root (``split/sequence``) or
    the GT file's stem; ``pred`` is None when the results file is missing; ``fwhm`` and
    ``frames`` come from the sequence's ``meta.json`` (None when unknown).
    """

    name: str
    gt: Path
    pred: Path | None
    fwhm: float | None = None
    frames: int | None = None


def read_meta(seq_dir: str | os.PathLike) -> tuple[float | None, int | None]:
    """``(fwhm, frames)`` from ``<seq_dir>/meta.json``: the PSF FWHM in px (``scene.fwhm``)
    and the number of frames; None for what is absent or unreadable."""
    path = Path(seq_dir) / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    scene = meta.get("scene") if isinstance(meta.get("scene"), dict) else {}
    fwhm = scene.get("fwhm", meta.get("fwhm"))
    frames = meta.get("frames")
    return (float(fwhm) if isinstance(fwhm, (int, float)) and fwhm > 0 else None,
            int(frames) if isinstance(frames, int) and frames > 0 else None)


def find_pairs(gt: str | os.PathLike, pred: str | os.PathLike) -> list[SequencePair]:
    """The sequences to evaluate for ``debristrack evaluate GT PRED``.

    Raises InputError when GT does not exist, a dataset root holds no ``gt.csv``, or a
    dataset is compared with a single results file.
    """
    gt, pred = Path(gt), Path(pred)
    if not gt.exists():
        raise InputError(f"{gt}: no such ground-truth file or dataset folder")
    if gt.is_dir() and (gt / "gt.csv").is_file():
        gt = gt / "gt.csv"
    if gt.is_file():
        if pred.is_dir():
            raise InputError(f"{pred}: is a folder, but {gt} is one sequence's table; give a results file")
        return [SequencePair(gt.parent.name if gt.name == "gt.csv" else gt.stem, gt, pred,
                             *read_meta(gt.parent))]
    found = sorted(gt.rglob("gt.csv"))
    if not found:
        raise InputError(f"{gt}: no <split>/<sequence>/gt.csv files in this dataset folder")
    if pred.exists() and not pred.is_dir():
        raise InputError(f"{pred}: is a file, but {gt} is a dataset; give the results folder")
    pairs = []
    for path in found:
        rel = path.parent.relative_to(gt)
        result = pred / rel.with_name(rel.name + ".csv")
        pairs.append(SequencePair(rel.as_posix(), path, result if result.is_file() else None,
                                  *read_meta(path.parent)))
    return pairs


def read_pair(pair: SequencePair, kind: str | None = None) -> tuple[Table, Table]:
    """Read a pair's GT and results tables; a missing results file is an empty table."""
    gt = read_table(pair.gt)
    if pair.pred is None:
        return gt, empty_table(kind or table_kind(gt.colnames))
    if not pair.pred.is_file():
        raise InputError(f"{pair.pred}: no such results file")
    return gt, read_table(pair.pred)
