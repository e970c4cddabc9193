"""MOTChallenge box files, read for the agreement tests with py-motmetrics and TrackEval.

A MOTChallenge text file has one row per box: ``frame,id,bb_left,bb_top,bb_width,bb_height,
conf,x,y,z`` with 1-based frames. Only the first six columns are used. This reader exists
to feed published peer test data through our metric path; debristrack's own tables are the
CSV formats of DESIGN.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .mot import MotResult, evaluate_data, tracking_data
from ..geometry.similarity import box_iou_pairs


@dataclass(frozen=True)
class BoxTracks:
    """Boxes of a MOTChallenge file.

    ``frame`` (N,) 0-based frame (file frame - 1); ``id`` (N,) track ids; ``boxes`` (N, 4)
    ``x0, y0, x1, y1`` in pixels (``x1 = bb_left + bb_width``).
    """

    frame: np.ndarray
    id: np.ndarray
    boxes: np.ndarray


def read_motchallenge(path: str | os.PathLike) -> BoxTracks:
    """Read a MOTChallenge text file; raise InputError naming the line on bad rows."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such MOTChallenge file")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            fields = line.replace(" ", "").split(",")
            try:
                values = [float(v) for v in fields[:6]]
            except ValueError:
                raise InputError(f"{path}: line {lineno}: not a number in the first six fields") from None
            if len(values) < 6 or not np.isfinite(values).all():
                raise InputError(f"{path}: line {lineno}: expected frame,id,left,top,width,height")
            if values[0] < 1 or values[0] != int(values[0]) or values[1] != int(values[1]):
                raise InputError(f"{path}: line {lineno}: frame must be an integer >= 1 and id an integer")
            rows.append(values)
    arr = np.asarray(rows, dtype=float).reshape(-1, 6)
    boxes = np.stack([arr[:, 2], arr[:, 3], arr[:, 2] + arr[:, 4], arr[:, 3] + arr[:, 5]], axis=1)
    return BoxTracks(arr[:, 0].astype(np.int64) - 1, arr[:, 1].astype(np.int64), boxes)


def box_track_metrics(gt: BoxTracks, pred: BoxTracks, *, threshold: float = 0.5) -> MotResult:
    """TrackEval's HOTA, CLEAR and Identity with box IoU as the similarity."""
    data = tracking_data(gt.frame, gt.id, pred.frame, pred.id,
                         lambda gi, pj: box_iou_pairs(gt.boxes[gi], pred.boxes[pj]))
    return evaluate_data(data, threshold=threshold)
