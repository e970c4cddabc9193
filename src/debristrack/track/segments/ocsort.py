"""OC-SORT for streak segments: observation-centric momentum, recovery and re-update.

Cao et al. 2023 (OC-SORT), with segments:

- **momentum (OCM)**: the association cost adds ``inertia`` x the angle between the track's
  observed motion (segment centre, ``delta_t`` observations back to the last one) and the
  direction from its last observation to the candidate detection, divided by pi;
- **recovery (OCR)**: tracks left unmatched are tried once more against the remaining
  detections from their *last observation* instead of the drifting prediction;
- **re-update (ORU)**: when a track that went unmatched is matched again, its filter is
  rolled back to the last observation and updated through virtual observations
  interpolated linearly across the gap, which undoes the error accumulated while lost.
"""

from __future__ import annotations

import copy

import numpy as np

from ...geometry import gated_assignment
from .assignment import association_cost
from .kalman import SegmentTrack, oriented
from .params import TrackerParams
from .sort import kalman_args, along_weights, report


def _centre(seg: np.ndarray) -> np.ndarray:
    return 0.5 * (seg[..., 0:2] + seg[..., 2:4])


def momentum_cost(tracks: list[SegmentTrack], dets: np.ndarray, delta_t: int) -> np.ndarray:
    """(N, M) angle, in units of pi, between each track's observed motion and the motion to
    each detection; 0 for tracks with a single observation (no direction yet)."""
    out = np.zeros((len(tracks), len(dets)))
    if len(dets) == 0:
        return out
    centres = _centre(dets[:, :4])
    for i, t in enumerate(tracks):
        frames = sorted(t.observations)
        if len(frames) < 2:
            continue
        last = frames[-1]
        earlier = [f for f in frames if f <= last - delta_t] or frames[:1]
        v = _centre(t.observations[last]) - _centre(t.observations[earlier[-1]])
        w = centres - _centre(t.observations[last])
        norm = np.hypot(*v) * np.hypot(w[:, 0], w[:, 1])
        cos = np.where(norm > 0, (w @ v) / np.maximum(norm, 1e-12), 1.0)
        out[i] = np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi
    return out


class OCSortTracker:
    """OC-SORT association; IDs are counted from 1 per tracker instance."""

    def __init__(self, params: TrackerParams | None = None):
        self.params = params or TrackerParams()
        self.tracks: list[SegmentTrack] = []
        self.frame = -1
        self._next_id = 1
        self._saved: dict[int, object] = {}  # track id -> filter at its last observation

    def _reupdate(self, track: SegmentTrack, det: np.ndarray) -> None:
        """ORU: roll the filter back to the last observation and step through the gap."""
        gap = track.time_since_update
        kf = copy.deepcopy(self._saved[track.id])
        start = track.last[:4]
        end = oriented(start, det)[:4]
        for k in range(1, gap):
            kf.predict()
            kf.update(start + (end - start) * k / gap)
        kf.predict()
        track.kf = kf

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
        # associate 1: predictions, plus the momentum term
        weights = along_weights(self.tracks, p)
        cost = association_cost(preds, dets, gate=p.gate, width=p.width, along_weight=weights,
                                iou_weight=p.iou_weight)
        cost = cost + p.inertia * momentum_cost(self.tracks, dets, p.delta_t)
        matches, left_tracks, left_dets = gated_assignment(cost, 1.0 + p.iou_weight + p.inertia)
        # associate 2 (OCR): last observations of the unmatched tracks
        if len(left_tracks) and len(left_dets):
            last = np.array([self.tracks[i].last for i in left_tracks])
            cost2 = association_cost(last, dets[left_dets], gate=p.gate, width=p.width,
                                     along_weight=p.along_weight_new, iou_weight=p.iou_weight)
            m2, _, ud = gated_assignment(cost2, 1.0 + p.iou_weight)
            matches = np.vstack([matches, np.column_stack([left_tracks[m2[:, 0]], left_dets[m2[:, 1]]])])
            left_dets = left_dets[ud]
        # update (ORU for tracks coming back after a gap)
        for r, c in matches:
            t = self.tracks[r]
            if t.time_since_update > 1:
                self._reupdate(t, dets[c])
            t.update(dets[c], self.frame)
            self._saved[t.id] = copy.deepcopy(t.kf)
        # birth
        for c in left_dets:
            if dets[c, 4] >= p.new_track_score:
                t = SegmentTrack(dets[c], self._next_id, self.frame, **kalman_args(p))
                self.tracks.append(t)
                self._saved[t.id] = copy.deepcopy(t.kf)
                self._next_id += 1
        # death
        alive = [t for t in self.tracks if t.time_since_update <= p.max_age]
        for t in self.tracks:
            if t.time_since_update > p.max_age:
                self._saved.pop(t.id, None)
        self.tracks = alive
        return report(self.tracks)
