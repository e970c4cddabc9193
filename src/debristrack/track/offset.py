"""The SDT-Net offset tracker: association of [SDT] sec. 4.5 (eq. 13-14).

Each streak found in frame ``t`` is mapped back to ``t-1`` by its predicted endpoint offsets
(eq. 13) and matched to the live track whose last endpoints are nearest in the eq. 14 sense
(sum of the left and right endpoint distances), within the association radius ``r``.
Unmatched streaks start new tracks; a track unseen for more than ``max_gap`` frames ends.
Detections are :class:`debristrack.sdtnet.decode.Streaks`-like (``left``, ``right``,
``off_left``, ``off_right``, (n, 2) each).
"""

from __future__ import annotations

import numpy as np

from ..geometry import clip_segment, endpoint_distance, gated_assignment


class OffsetTracker:
    """Tracks built from per-frame SDT-Net streaks with [SDT] eq. 13-14.

    State arrays over the live tracks: ``ids``, last endpoints ``ends`` (left x, y, right
    x, y), last ``frame`` seen, streak velocity ``vel`` (n, 2) in px per frame and ``hits``.
    IDs count from 1 per tracker instance.

    A detection is compared with a track by the eq. 14 distance (sum of the left and the
    right endpoint distances, taking the smaller of the two endpoint orders: a near-vertical
    streak's "left" end may swap between frames) and matched one-to-one (Hungarian) within
    the association radius. With ``motion`` off that is the paper's association: the
    detection is moved back by its predicted offsets (eq. 13) onto the track's last
    endpoints. With ``motion`` on, a track seen at least twice is also predicted forward at
    its own measured velocity (debris moves in a straight line at constant speed over a
    sequence, [SDT] eq. 5), clipped to the image, and the smaller of the two distances
    counts: the network's offsets make each track's first link and back up the prediction.
    ``shape`` (ny, nx) is the image size, for the clipping.
    """

    def __init__(self, *, radius: float, max_gap: int, motion: bool = False,
                 shape: tuple[int, int] | None = None):
        self.radius, self.max_gap, self.motion, self.shape = radius, max_gap, motion, shape
        self.ids = np.zeros(0, np.int64)
        self.ends = np.zeros((0, 4))  # left x, y, right x, y
        self.vel = np.zeros((0, 2))  # the streak's velocity, px per frame
        self.hits = np.zeros(0, np.int64)
        self.last = np.zeros(0, np.int64)
        self.next_id = 1

    def _predict(self, frame: int) -> np.ndarray:
        """(n_tracks, 4) endpoints of every track moved rigidly at its velocity to ``frame``,
        clipped to the image (a streak entering or leaving the field is cut at its edge)."""
        ends = self.ends + np.tile((frame - self.last)[:, None] * self.vel, 2)
        if self.shape is None:
            return ends
        x1, y1, x2, y2, inside = clip_segment(*ends.T, self.shape)
        return np.where(inside[:, None], np.column_stack([x1, y1, x2, y2]), ends)

    def _velocity(self, old: np.ndarray, new: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """Streak velocity (n, 2) from matched endpoints: the motion of the end farther from
        the image edge (an end cut by the edge does not move with the object)."""
        v = (new - old) / gap[:, None]
        if self.shape is None:
            return (v[:, :2] + v[:, 2:]) / 2
        ny, nx = self.shape
        both = np.stack([old, new])  # (2, n, 4)
        margin = np.minimum.reduce([both[..., 0::2] + 0.5, nx - 0.5 - both[..., 0::2],
                                    both[..., 1::2] + 0.5, ny - 0.5 - both[..., 1::2]]).min(axis=0)  # (n, 2)
        return np.where((margin[:, 0] >= margin[:, 1])[:, None], v[:, :2], v[:, 2:])

    def _cost(self, frame: int, dets) -> tuple[np.ndarray, np.ndarray]:
        """(n_dets, n_tracks) eq. 14 distances and whether the detection's endpoints are
        matched in swapped order."""
        gap = (frame - self.last)[None, :, None].astype(float)  # frames since each track was seen
        det = np.hstack([dets.left, dets.right])[:, None, :]
        off = np.hstack([dets.off_left, dets.off_right])[:, None, :]
        back = det - gap * off  # [SDT] eq. 13, over a gap at constant velocity: c' = c^t - g * o^t

        cost, swap = endpoint_distance(back, self.ends[None])  # [SDT] eq. 14, either endpoint order
        if self.motion:
            moving = self.hits >= 2
            m_cost, m_swap = endpoint_distance(det, self._predict(frame)[None])
            better = moving[None, :] & (m_cost < cost)
            cost, swap = np.where(better, m_cost, cost), np.where(better, m_swap, swap)
        return cost, swap

    def update(self, frame: int, dets) -> np.ndarray:
        """Assign track IDs (n,) to the streaks of ``frame``; birth and death of tracks."""
        live = frame - self.last <= self.max_gap + 1
        self.ids, self.ends, self.vel, self.hits, self.last = (
            a[live] for a in (self.ids, self.ends, self.vel, self.hits, self.last))
        cost, swap = self._cost(frame, dets)
        matches, _, _ = gated_assignment(np.where(cost <= self.radius, cost, np.inf), self.radius)
        rows, cols = matches[:, 0], matches[:, 1]
        out = np.zeros(len(dets), np.int64)
        out[rows] = self.ids[cols]
        ends = np.hstack([dets.left, dets.right])
        matched = np.where(swap[rows, cols, None], np.hstack([dets.right, dets.left])[rows], ends[rows])
        self.vel[cols] = self._velocity(self.ends[cols], matched, frame - self.last[cols])
        self.ends[cols], self.last[cols] = matched, frame
        self.hits[cols] += 1
        new = np.setdiff1d(np.arange(len(dets)), rows)
        out[new] = np.arange(self.next_id, self.next_id + len(new))
        self.next_id += len(new)
        self.ids = np.concatenate([self.ids, out[new]])
        self.ends = np.vstack([self.ends, ends[new]])
        self.vel = np.vstack([self.vel, (dets.off_left[new] + dets.off_right[new]) / 2])
        self.hits = np.concatenate([self.hits, np.ones(len(new), np.int64)])
        self.last = np.concatenate([self.last, np.full(len(new), frame)])
        return out
