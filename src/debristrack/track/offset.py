"""The SDT-Net offset tracker: association of [SDT] sec. 4.5 (eq. 13-14), with the physics of
a streak.

Each streak found in frame ``t`` is compared with every live track by the eq. 14 distance
(sum of the left and right endpoint distances) to up to three predictions of where the track
should be, the smallest counting:

- **offsets** ([SDT] eq. 13): the detection moved back by the network's predicted endpoint
  offsets onto the track's last endpoints (the paper's association);
- **the streak's own geometry** (tracks seen once, given exposure times): a streak of length
  ``L`` in an exposure of ``EXPTIME`` s moves at ``L / EXPTIME`` px/s along its own line, so
  the next streak starts ``rate x (t_next - t_end)`` beyond its leading end and is ``rate x
  EXPTIME_next`` long (track/physical.py of the classical linker); both signs of the motion,
  and the rate of the older or the newer streak (one cut by the frame edge is too short);
  when a streak is cut by the edge, the line alone (the next streak parallel, on it, beyond
  one end: a LEO crossing the field in about one exposure);
- **the track's own velocity** (``motion``, tracks seen at least twice): debris moves in a
  straight line at constant speed over a sequence.

Matches are one-to-one (Hungarian) within the association radius ``r``. Unmatched streaks
start new tracks; a track unseen for more than ``max_gap`` frames ends. Detections are
:class:`debristrack.sdtnet.decode.Streaks`-like (``left``, ``right``, ``off_left``,
``off_right``, (n, 2) each).
"""

from __future__ import annotations

import numpy as np

from ..geometry import clip_segment, endpoint_distance, gated_assignment


EDGE = 3.0  # px: a streak end this close to the frame edge is cut by it (as track/physical.py)
LINE_ANGLE = 4.0  # degrees: largest angle between two streaks linked by their line alone
LINE_PENALTY = 20.0  # px added to a link by the line alone


class OffsetTracker:
    """Tracks built from per-frame SDT-Net streaks (see the module docstring).

    State arrays over the live tracks: ``ids``, last endpoints ``ends`` (left x, y, right
    x, y), last ``frame`` seen and its exposure (``t_last`` start, ``e_last`` EXPTIME, s),
    velocity ``vel`` (n, 2) in px per unit of time (s with exposure times, else frames) and
    ``hits``. IDs count from 1 per tracker instance.

    A detection is compared with a track in either endpoint order (a near-vertical streak's
    "left" end may swap between frames). With ``motion`` off and no exposure times this is
    the paper's association. ``shape`` (ny, nx) is the image size, for clipping predictions
    at the edge (a streak entering or leaving the field is cut there).
    """

    def __init__(self, *, radius: float, max_gap: int, motion: bool = False,
                 shape: tuple[int, int] | None = None):
        self.radius, self.max_gap, self.motion, self.shape = radius, max_gap, motion, shape
        self.ids = np.zeros(0, np.int64)
        self.ends = np.zeros((0, 4))  # left x, y, right x, y
        self.vel = np.zeros((0, 2))  # the streak's velocity, px per unit of time
        self.hits = np.zeros(0, np.int64)
        self.last = np.zeros(0, np.int64)
        self.t_last = np.zeros(0)
        self.e_last = np.zeros(0)  # NaN: exposure time unknown
        self.next_id = 1

    def _clip(self, ends: np.ndarray) -> np.ndarray:
        """(..., 4) segments clipped to the image; those wholly outside kept as they are (they
        then match nothing)."""
        if self.shape is None:
            return ends
        flat = ends.reshape(-1, 4)
        x1, y1, x2, y2, inside = clip_segment(*flat.T, self.shape)
        return np.where(inside[:, None], np.column_stack([x1, y1, x2, y2]), flat).reshape(ends.shape)

    def _predict(self, t: float) -> np.ndarray:
        """(n_tracks, 4) endpoints of every track moved rigidly at its velocity to time ``t``."""
        return self._clip(self.ends + np.tile((t - self.t_last)[:, None] * self.vel, 2))

    def _physical(self, dets, t: float, e: float) -> np.ndarray:
        """(n_dets, n_tracks, 4, 4) predicted next streaks of every track from its last streak's
        geometry: 2 signs x 2 rates (the last streak's ``L / EXPTIME`` and the new
        detection's), each clipped to the image."""
        a, b = self.ends[:, :2], self.ends[:, 2:]
        length = np.linalg.norm(b - a, axis=1)
        u = (b - a) / np.maximum(length, 1e-9)[:, None]  # (T, 2), sign unknown
        det_len = np.linalg.norm(dets.right - dets.left, axis=1)
        rate_old = np.broadcast_to(length / self.e_last, (len(det_len), len(length)))
        rate_new = np.broadcast_to((det_len / e)[:, None], rate_old.shape)
        gap = t - self.t_last - self.e_last  # from the end of the last exposure to this start
        preds = []
        for rate in (rate_old, rate_new):
            for lead, sgn in ((b, 1.0), (a, -1.0)):
                step = sgn * u[None] * rate[..., None]  # (D, T, 2) px/s along the motion
                tail = lead[None] + step * gap[None, :, None]
                ends = (tail, tail + step * e) if sgn > 0 else (tail + step * e, tail)
                preds.append(np.concatenate(ends, axis=-1))  # in the order of the track's ends
        return self._clip(np.stack(preds, axis=2))

    def _on_line(self, dets) -> np.ndarray:
        """(n_dets, n_tracks) cost of linking a detection to a track by its line alone (inf
        where it does not apply): when the track's last streak or the detection is cut by the
        frame edge its length does not give the rate (a LEO crossing the field in about one
        exposure), but the next streak must still lie on the same line, parallel, beyond one
        end of the last one (streaks of one object never overlap). The cost is the sum of
        the detection's two distances from the line plus ``LINE_PENALTY`` (a full prediction
        that fits is preferred)."""
        a, b = self.ends[None, :, :2], self.ends[None, :, 2:]
        c, d = dets.left[:, None, :], dets.right[:, None, :]
        length = np.linalg.norm(b - a, axis=-1)
        u = (b - a) / np.maximum(length, 1e-9)[..., None]
        det_len = np.linalg.norm(d - c, axis=-1)
        w = (d - c) / np.maximum(det_len, 1e-9)[..., None]
        cut = self._cut(self.ends)[None, :] | self._cut(np.hstack([dets.left, dets.right]))[:, None]
        angle = np.degrees(np.arccos(np.clip(np.abs(np.sum(u * w, axis=-1)), 0, 1)))
        slack = np.degrees(np.arctan(3.0 / np.maximum(np.minimum(length, det_len), 1.0)))
        along = [np.sum((q - a) * u, axis=-1) for q in (c, d)]
        perp = [np.abs((q - a)[..., 0] * u[..., 1] - (q - a)[..., 1] * u[..., 0]) for q in (c, d)]
        far = np.maximum(np.abs(along[0]), np.abs(along[1]))
        on_line = (perp[0] <= 3.0 + 0.03 * far) & (perp[1] <= 3.0 + 0.03 * far)
        beyond = (np.minimum(*along) >= length - 3.0) | (np.maximum(*along) <= 3.0)
        ok = cut & (angle <= LINE_ANGLE + slack) & on_line & beyond
        return np.where(ok, perp[0] + perp[1] + LINE_PENALTY, np.inf)

    def _cut(self, ends: np.ndarray) -> np.ndarray:
        """(n,) whether a segment (n, 4) has an end within ``EDGE`` px of the frame edge."""
        if self.shape is None:
            return np.zeros(len(ends), bool)
        ny, nx = self.shape
        x, y = ends[:, 0::2], ends[:, 1::2]
        return np.any((x <= EDGE) | (y <= EDGE) | (x >= nx - 1 - EDGE) | (y >= ny - 1 - EDGE), axis=1)

    def _velocity(self, old: np.ndarray, new: np.ndarray, dt: np.ndarray) -> np.ndarray:
        """Streak velocity (n, 2) from matched endpoints: the motion of the end farther from
        the image edge (an end cut by the edge does not move with the object)."""
        v = (new - old) / dt[:, None]
        if self.shape is None:
            return (v[:, :2] + v[:, 2:]) / 2
        ny, nx = self.shape
        both = np.stack([old, new])  # (2, n, 4)
        margin = np.minimum.reduce([both[..., 0::2] + 0.5, nx - 0.5 - both[..., 0::2],
                                    both[..., 1::2] + 0.5, ny - 0.5 - both[..., 1::2]]).min(axis=0)  # (n, 2)
        return np.where((margin[:, 0] >= margin[:, 1])[:, None], v[:, :2], v[:, 2:])

    def _cost(self, frame: int, dets, t: float, e: float) -> tuple[np.ndarray, np.ndarray]:
        """(n_dets, n_tracks) smallest eq. 14 distance to a prediction and whether the
        detection's endpoints are matched in swapped order."""
        gap = (frame - self.last)[None, :, None].astype(float)  # frames since each track was seen
        det = np.hstack([dets.left, dets.right])[:, None, :]
        off = np.hstack([dets.off_left, dets.off_right])[:, None, :]
        back = det - gap * off  # [SDT] eq. 13, over a gap at constant velocity: c' = c^t - g * o^t
        cost, swap = endpoint_distance(back, self.ends[None])  # [SDT] eq. 14, either endpoint order

        def better(c, s, use):
            nonlocal cost, swap
            take = use & (c < cost)
            cost, swap = np.where(take, c, cost), np.where(take, s, swap)

        if self.motion:
            m_cost, m_swap = endpoint_distance(det, self._predict(t)[None])
            better(m_cost, m_swap, (self.hits >= 2)[None, :])
        physical = (self.hits == 1) & np.isfinite(self.e_last) & (self.e_last > 0)
        if np.isfinite(e) and e > 0 and physical.any():
            p_cost, p_swap = endpoint_distance(det[:, :, None, :], self._physical(dets, t, e))
            k = np.argmin(p_cost, axis=2)[..., None]
            better(np.take_along_axis(p_cost, k, 2)[..., 0], np.take_along_axis(p_swap, k, 2)[..., 0],
                   physical[None, :])
        if np.isfinite(e) and len(self.ids) and len(dets):
            # the line alone (ends cut by the edge); the order of the ends as on the line
            l_cost = self._on_line(dets)
            _, l_swap = endpoint_distance(det, self.ends[None])
            better(l_cost, l_swap, True)
        return cost, swap

    def update(self, frame: int, dets, *, start: float | None = None, exptime: float | None = None) -> np.ndarray:
        """Assign track IDs (n,) to the streaks of ``frame``; birth and death of tracks.

        ``start`` (s, any origin) and ``exptime`` (s) of the frame's exposure enable the
        prediction from a streak's geometry; without them time is counted in frames and
        only the offsets and the tracks' velocities predict.
        """
        t = float(frame if start is None else start)
        e = float("nan") if exptime is None else float(exptime)
        live = frame - self.last <= self.max_gap + 1
        self.ids, self.ends, self.vel, self.hits, self.last, self.t_last, self.e_last = (
            a[live] for a in (self.ids, self.ends, self.vel, self.hits, self.last, self.t_last, self.e_last))
        cost, swap = self._cost(frame, dets, t, e)
        matches, _, _ = gated_assignment(np.where(cost <= self.radius, cost, np.inf), self.radius)
        rows, cols = matches[:, 0], matches[:, 1]
        out = np.zeros(len(dets), np.int64)
        out[rows] = self.ids[cols]
        ends = np.hstack([dets.left, dets.right])
        matched = np.where(swap[rows, cols, None], np.hstack([dets.right, dets.left])[rows], ends[rows])
        self.vel[cols] = self._velocity(self.ends[cols], matched, np.maximum(t - self.t_last[cols], 1e-9))
        self.ends[cols], self.last[cols], self.t_last[cols], self.e_last[cols] = matched, frame, t, e
        self.hits[cols] += 1
        new = np.setdiff1d(np.arange(len(dets)), rows)
        out[new] = np.arange(self.next_id, self.next_id + len(new))
        self.next_id += len(new)
        self.ids = np.concatenate([self.ids, out[new]])
        self.ends = np.vstack([self.ends, ends[new]])
        self.vel = np.vstack([self.vel, np.zeros((len(new), 2))])  # measured at the second hit
        self.hits = np.concatenate([self.hits, np.ones(len(new), np.int64)])
        self.last = np.concatenate([self.last, np.full(len(new), frame)])
        self.t_last = np.concatenate([self.t_last, np.full(len(new), t)])
        self.e_last = np.concatenate([self.e_last, np.full(len(new), e)])
        return out
