"""A constant-velocity Kalman filter over both endpoints of a streak, and the track built on it.

State ``(x1, y1, x2, y2, vx1, vy1, vx2, vy2)``: the two endpoints in pixels (0-based, x =
column, y = row) and their velocities in pixels per frame. Streaks in [SDT] move at a fixed
velocity (sec. 3.2.1, eq. 5), so a constant-velocity model with a small process noise fits.
"""

from __future__ import annotations

import numpy as np

_F = np.block([[np.eye(4), np.eye(4)], [np.zeros((4, 4)), np.eye(4)]])
_H = np.hstack([np.eye(4), np.zeros((4, 4))])


def oriented(reference: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """``seg`` (``(>=4,)``) with its endpoints in the order that best matches ``reference``.

    The left-endpoint rule of DESIGN.md swaps a near-vertical streak's endpoints between
    frames; the filter must see the same physical endpoint in the same slot.
    """
    seg = np.asarray(seg, dtype=np.float64)
    straight = np.hypot(*(seg[0:2] - reference[0:2])) + np.hypot(*(seg[2:4] - reference[2:4]))
    cross = np.hypot(*(seg[2:4] - reference[0:2])) + np.hypot(*(seg[0:2] - reference[2:4]))
    if cross < straight:
        out = seg.copy()
        out[0:2], out[2:4] = seg[2:4], seg[0:2]
        return out
    return seg


class SegmentKalman:
    """Linear Kalman filter, constant velocity, time step one frame.

    Parameters
    ----------
    seg : (4,) first measurement ``(x1, y1, x2, y2)``, pixels; velocities start at 0.
    meas_std : endpoint measurement noise, pixels.
    pos_std, vel_std : process noise per frame on position (pixels) and velocity (pixels/frame).
    init_vel_std : prior standard deviation of the unknown initial velocity, pixels/frame.
    """

    def __init__(self, seg: np.ndarray, *, meas_std: float = 1.5, pos_std: float = 1.0,
                 vel_std: float = 0.5, init_vel_std: float = 50.0):
        self.x = np.concatenate([np.asarray(seg[:4], dtype=np.float64), np.zeros(4)])
        self.P = np.diag([meas_std ** 2] * 4 + [init_vel_std ** 2] * 4)
        self.Q = np.diag([pos_std ** 2] * 4 + [vel_std ** 2] * 4)
        self.R = np.eye(4) * meas_std ** 2

    @property
    def segment(self) -> np.ndarray:
        """(4,) current endpoint estimate."""
        return self.x[:4].copy()

    @property
    def velocity(self) -> np.ndarray:
        """(4,) current endpoint velocities, pixels per frame."""
        return self.x[4:].copy()

    def predict(self) -> np.ndarray:
        """Advance one frame; returns the predicted segment (4,)."""
        self.x = _F @ self.x
        self.P = _F @ self.P @ _F.T + self.Q
        return self.segment

    def update(self, seg: np.ndarray) -> None:
        """Correct with a measured segment (its endpoint order is matched to the state first)."""
        z = oriented(self.x[:4], seg)[:4]
        s = _H @ self.P @ _H.T + self.R
        gain = np.linalg.solve(s, _H @ self.P).T
        self.x = self.x + gain @ (z - _H @ self.x)
        self.P = (np.eye(8) - gain @ _H) @ self.P


class SegmentTrack:
    """One tracked streak: its filter, its last observation and its bookkeeping counters.

    Attributes
    ----------
    id : track ID, counted by the tracker that made it.
    kf : the Kalman state.
    last : (5,) last associated detection ``(x1, y1, x2, y2, score)``, oriented like the state.
    hits : number of associated detections; ``time_since_update``: frames since the last one.
    observations : ``{frame: (5,) detection}`` of every association (OC-SORT uses them).
    """

    def __init__(self, det: np.ndarray, track_id: int, frame: int, **kf_args):
        self.id = track_id
        self.kf = SegmentKalman(det[:4], **kf_args)
        self.last = np.asarray(det[:5], dtype=np.float64).copy()
        self.hits = 1
        self.time_since_update = 0
        self.observations: dict[int, np.ndarray] = {frame: self.last.copy()}

    def predict(self) -> np.ndarray:
        self.time_since_update += 1
        return self.kf.predict()

    def update(self, det: np.ndarray, frame: int) -> None:
        self.kf.update(det[:4])
        self.last = np.concatenate([oriented(self.kf.segment, det)[:4], det[4:5]])
        self.hits += 1
        self.time_since_update = 0
        self.observations[frame] = self.last.copy()
