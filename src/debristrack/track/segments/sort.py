"""SORT for streak segments: Kalman prediction, one Hungarian assignment, birth and death.

Bewley et al. 2016 (SORT), with a segment in place of a box: the state is both endpoints
and their velocities (:class:`.kalman.SegmentKalman`), the cost is
:func:`.assignment.association_cost`.
"""

from __future__ import annotations

import numpy as np

from ...geometry import gated_assignment
from .assignment import association_cost
from .kalman import SegmentTrack
from .params import TrackerParams


def kalman_args(p: TrackerParams) -> dict:
    """Keyword arguments of :class:`.kalman.SegmentKalman` from the tracker parameters."""
    return dict(meas_std=p.meas_std, pos_std=p.pos_std, vel_std=p.vel_std)


def along_weights(tracks: list[SegmentTrack], p: TrackerParams) -> np.ndarray:
    """(N,) along-track weight per track: discounted while the track has no velocity yet."""
    return np.array([1.0 if t.hits >= 2 else p.along_weight_new for t in tracks])


def report(tracks: list[SegmentTrack]) -> np.ndarray:
    """(K, 6) ``(x1, y1, x2, y2, score, id)`` of the tracks matched or born in this frame,
    tentative ones included (:func:`debristrack.track.segments.track_segments` drops the
    tracks that end up shorter than ``min_hits``). Coordinates are the detection's."""
    rows = [np.concatenate([t.last, [t.id]]) for t in tracks if t.time_since_update == 0]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


class SortTracker:
    """Track streak segments frame by frame; IDs are counted from 1 per tracker instance."""

    def __init__(self, params: TrackerParams | None = None):
        self.params = params or TrackerParams()
        self.tracks: list[SegmentTrack] = []
        self.frame = -1
        self._next_id = 1

    def _birth(self, det: np.ndarray) -> None:
        self.tracks.append(SegmentTrack(det, self._next_id, self.frame, **kalman_args(self.params)))
        self._next_id += 1

    def update(self, dets: np.ndarray) -> np.ndarray:
        """Process the next frame's detections.

        Parameters
        ----------
        dets : (N, 5) ``(x1, y1, x2, y2, score)`` of this frame, pixels.

        Returns
        -------
        (K, 6) ``(x1, y1, x2, y2, score, id)`` of the tracks matched or born in this frame.
        """
        p = self.params
        self.frame += 1
        dets = np.asarray(dets, dtype=np.float64).reshape(-1, 5)
        # predict
        preds = np.array([t.predict() for t in self.tracks]).reshape(-1, 4)
        # associate
        cost = association_cost(preds, dets, gate=p.gate, width=p.width,
                                along_weight=along_weights(self.tracks, p), iou_weight=p.iou_weight)
        matches, _, unmatched_dets = gated_assignment(cost, 1.0 + p.iou_weight)
        # update
        for r, c in matches:
            self.tracks[r].update(dets[c], self.frame)
        # birth
        for c in unmatched_dets:
            if dets[c, 4] >= p.new_track_score:
                self._birth(dets[c])
        # death
        self.tracks = [t for t in self.tracks if t.time_since_update <= p.max_age]
        return report(self.tracks)
