"""Point-detection figures of [GEO] sec. 4 and [TRK] sec. 5.2.

- detection rate = detected true targets / true targets ([GEO] sec. 4; [TRK] sec. 5.2
  counts it per frame: frames where the object was found / frames);
- false-alarm rate = false detections / all detections ([GEO] sec. 4);
- position RMS = sqrt(mean(d^2)) over the matched pairs, in pixels.

Every "target" here is one ground-truth row (one object in one frame), and every detection
one predicted row. Matching is per frame and one-to-one: the assignment
(:func:`debristrack.geometry.gated_assignment`) that minimises the summed distance among the
pairs closer than the match radius. Track ids are ignored.

The figures keep their counts (:class:`DetectionFigures`) so that sequences combine by
summing counts (:meth:`DetectionFigures.combine`), not by averaging rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

from ..errors import InputError
from ..geometry import gated_assignment
from ..io.tables import detections_only, table_kind


@dataclass(frozen=True)
class DetectionFigures:
    """Counts behind the detection figures of one or more sequences.

    Attributes
    ----------
    n_true : ground-truth targets (GT rows).
    n_detected : true targets matched by a detection.
    n_detections : detections (predicted rows).
    n_false : detections matched to no true target.
    sq_error : sum of squared position errors of the matched pairs, px^2.
    """

    n_true: int = 0
    n_detected: int = 0
    n_detections: int = 0
    n_false: int = 0
    sq_error: float = 0.0

    @property
    def detection_rate(self) -> float:
        """Detected true targets / true targets; NaN without true targets."""
        return self.n_detected / self.n_true if self.n_true else float("nan")

    @property
    def false_alarm_rate(self) -> float:
        """False detections / all detections; NaN without detections."""
        return self.n_false / self.n_detections if self.n_detections else float("nan")

    @property
    def position_rms(self) -> float:
        """RMS distance of matched pairs in pixels; NaN without matches."""
        return float(np.sqrt(self.sq_error / self.n_detected)) if self.n_detected else float("nan")

    def __add__(self, other: "DetectionFigures") -> "DetectionFigures":
        return DetectionFigures(self.n_true + other.n_true, self.n_detected + other.n_detected,
                                self.n_detections + other.n_detections,
                                self.n_false + other.n_false, self.sq_error + other.sq_error)

    @classmethod
    def combine(cls, figures: Iterable["DetectionFigures"]) -> "DetectionFigures":
        """Figures of several sequences together: counts summed, rates recomputed."""
        total = cls()
        for f in figures:
            total = total + f
        return total

    def as_dict(self) -> dict[str, float | int]:
        """Rates and counts as a flat dict (for tables and JSON)."""
        return {"detection_rate": self.detection_rate, "false_alarm_rate": self.false_alarm_rate,
                "position_rms": self.position_rms, "n_true": self.n_true,
                "n_detected": self.n_detected, "n_detections": self.n_detections,
                "n_false": self.n_false}


def match_points(gt_xy, pred_xy, *, radius: float = 3.0):
    """One-to-one matching of points within ``radius`` that minimises the summed distance.

    Parameters
    ----------
    gt_xy : (N, 2) array of true positions ``x, y`` in pixels.
    pred_xy : (M, 2) array of detected positions.
    radius : largest distance of a match, pixels.

    Returns
    -------
    matches : (K, 2) int array of ``(gt_index, pred_index)`` pairs.
    unmatched_gt : int array of GT indices without a match.
    unmatched_pred : int array of predicted indices without a match.
    distances : (K,) distances of the matched pairs, pixels.
    """
    gt_xy = np.asarray(gt_xy, dtype=float).reshape(-1, 2)
    pred_xy = np.asarray(pred_xy, dtype=float).reshape(-1, 2)
    matches = np.zeros((0, 2), dtype=np.int64)
    dist = np.zeros(0)
    if len(gt_xy) and len(pred_xy):
        # Only the pairs within the radius can match: a KD-tree finds them without the full
        # N x M matrix (many false detections per frame are common in staring mode).
        sparse = cKDTree(gt_xy).sparse_distance_matrix(cKDTree(pred_xy), radius, output_type="coo_matrix")
        if sparse.nnz:
            rows, r_inv = np.unique(sparse.row, return_inverse=True)
            cols, c_inv = np.unique(sparse.col, return_inverse=True)
            big = 2.0 * radius * (len(rows) + len(cols)) + 1.0
            cost = np.full((len(rows), len(cols)), np.inf)
            cost[r_inv, c_inv] = sparse.data
            m, _, _ = gated_assignment(cost, radius, infeasible=big)
            matches = np.stack([rows[m[:, 0]], cols[m[:, 1]]], axis=1).astype(np.int64)
            dist = cost[m[:, 0], m[:, 1]]
    unmatched_gt = np.setdiff1d(np.arange(len(gt_xy)), matches[:, 0])
    unmatched_pred = np.setdiff1d(np.arange(len(pred_xy)), matches[:, 1])
    return matches, unmatched_gt, unmatched_pred, dist


def _xy(table: Table) -> np.ndarray:
    return np.stack([np.asarray(table["x"], float), np.asarray(table["y"], float)], axis=1)


def detection_figures(gt: Table, pred: Table, *, radius: float = 3.0) -> DetectionFigures:
    """Detection rate, false-alarm rate and position RMS of one sequence's point table.

    Parameters
    ----------
    gt, pred : point tables ``frame,id,x,y`` (DESIGN.md "Tables"); rows with NaN
        coordinates (flagged misses) are skipped. Ids are not used.
    radius : match radius in pixels (default 3).

    Returns
    -------
    :class:`DetectionFigures` with the counts; combine sequences with
    ``DetectionFigures.combine``.
    """
    for name, table in (("ground truth", gt), ("prediction", pred)):
        if table_kind(table.colnames) != "point":
            raise InputError(f"{name}: detection figures need a point table (frame,id,x,y)")
    if not (np.isfinite(radius) and radius > 0):
        raise InputError(f"radius must be a positive number of pixels, got {radius}")
    gt, pred = detections_only(gt), detections_only(pred)
    g_frame, p_frame = np.asarray(gt["frame"], np.int64), np.asarray(pred["frame"], np.int64)
    g_xy, p_xy = _xy(gt) if len(gt) else np.zeros((0, 2)), _xy(pred) if len(pred) else np.zeros((0, 2))
    n_detected, sq = 0, 0.0
    for f in np.intersect1d(g_frame, p_frame):
        matches, _, _, d = match_points(g_xy[g_frame == f], p_xy[p_frame == f], radius=radius)
        n_detected += len(matches)
        sq += float(np.sum(d * d))
    return DetectionFigures(n_true=len(gt), n_detected=n_detected, n_detections=len(pred),
                            n_false=len(pred) - n_detected, sq_error=sq)
