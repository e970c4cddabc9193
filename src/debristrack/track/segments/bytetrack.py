"""ByteTrack for streak segments: associate high-score detections first, then low-score ones.

Zhang et al. 2022 (ByteTrack): faint streaks (low line SNR) are not started as tracks but
may continue a track that lost its bright detection; new, unconfirmed tracks must be
matched in the next frame or they are dropped.
"""

from __future__ import annotations

import numpy as np

from ...geometry import gated_assignment
from .assignment import association_cost
from .kalman import SegmentTrack
from .params import TrackerParams
from .sort import kalman_args, along_weights, report


class ByteTracker:
    """Two-stage association; IDs are counted from 1 per tracker instance."""

    def __init__(self, params: TrackerParams | None = None):
        self.params = params or TrackerParams()
        self.tracks: list[SegmentTrack] = []
        self.frame = -1
        self._next_id = 1

    def _match(self, track_idx: np.ndarray, preds: np.ndarray, dets: np.ndarray, det_idx: np.ndarray,
               gate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Assign tracks ``track_idx`` to detections ``det_idx``; returns global indices
        (matches (K, 2), unmatched tracks, unmatched detections)."""
        p = self.params
        tracks = [self.tracks[i] for i in track_idx]
        cost = association_cost(preds[track_idx], dets[det_idx], gate=gate, width=p.width,
                                along_weight=along_weights(tracks, p), iou_weight=p.iou_weight)
        m, ut, ud = gated_assignment(cost, 1.0 + p.iou_weight)
        return np.column_stack([track_idx[m[:, 0]], det_idx[m[:, 1]]]), track_idx[ut], det_idx[ud]

    def update(self, dets: np.ndarray) -> np.ndarray:
        """Process the next frame's detections.

        Parameters
        ----------
        dets : (N, 5) ``(x1, y1, x2, y2, score)`` of this frame, pixels; ``score`` is the
            line SNR compared with ``high_score`` and ``low_score``.

        Returns
        -------
        (K, 6) ``(x1, y1, x2, y2, score, id)`` of the tracks matched or born in this frame.
        """
        p = self.params
        self.frame += 1
        dets = np.asarray(dets, dtype=np.float64).reshape(-1, 5)
        high = np.flatnonzero(dets[:, 4] >= p.high_score)
        low = np.flatnonzero((dets[:, 4] >= p.low_score) & (dets[:, 4] < p.high_score))
        # predict
        was_tracked = np.array([t.time_since_update == 0 for t in self.tracks], dtype=bool)
        preds = np.array([t.predict() for t in self.tracks]).reshape(-1, 4)
        confirmed = np.array([t.hits >= 2 for t in self.tracks], dtype=bool)
        # associate 1: confirmed tracks (tracked or lost) with high-score detections
        m1, left_tracks, left_high = self._match(np.flatnonzero(confirmed), preds, dets, high, p.gate)
        # associate 2: still-unmatched tracks that were tracked last frame with low-score ones
        left_tracks = left_tracks[was_tracked[left_tracks]]
        m2, _, _ = self._match(left_tracks, preds, dets, low, p.low_gate)
        # associate 3: unconfirmed (one-hit) tracks with the remaining high-score detections
        m3, lost_new, left_high = self._match(np.flatnonzero(~confirmed), preds, dets, left_high, p.gate)
        # update
        for r, c in np.vstack([m1, m2, m3]):
            self.tracks[r].update(dets[c], self.frame)
        # birth
        for c in left_high:
            if dets[c, 4] >= p.new_track_score:
                self.tracks.append(SegmentTrack(dets[c], self._next_id, self.frame, **kalman_args(p)))
                self._next_id += 1
        # death: unmatched unconfirmed tracks at once, the others after max_age frames
        dead = set(lost_new.tolist())
        self.tracks = [t for i, t in enumerate(self.tracks)
                       if i not in dead and t.time_since_update <= p.max_age]
        return report(self.tracks)
