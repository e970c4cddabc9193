"""Geometry shared by every stage: segments, their matching, and the constants of the sky.

Pixel convention (DESIGN.md): 0-based, ``x`` = column, ``y`` = row, centre of the first pixel
at (0, 0). A segment array is ``(N, >=4)`` ``(x1, y1, x2, y2, ...)``.

- the left-endpoint rule of the tables (:func:`left_endpoint_first`);
- the order-free endpoint distance (:func:`endpoint_distance`, [SDT] eq. 14);
- segment IoU (:mod:`.similarity`: thick-line, padded box, points);
- segment clipping to the image (:func:`clip_segment`, Liang-Barsky: keeps the direction)
  and the endpoint clamp (:func:`clamp_endpoints`: moves each end inside, which can turn
  the segment);
- one gated assignment (:func:`gated_assignment`) used by every tracker, stare linking,
  SDT-Net and the detection metrics.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

# Gaussian PSF: FWHM = 2 sqrt(2 ln 2) sigma ([SDT] eq. 6). The staring-mode filter and
# verification use the 4-digit value they were tuned with (FWHM_PER_SIGMA_4).
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
FWHM_PER_SIGMA_4 = 2.3548
# Earth's rotation against the stars (the GMST rate, 360.98564736629 deg per day), arcsec of
# hour angle per second: the star drift of a staring telescope is this times cos(dec).
# (astrometry.sky turns CIRS coordinates by the Earth rotation angle's rate, a different,
# precession-free quantity defined there.)
SIDEREAL_RATE = 360.98564736629 / 86400.0 * 3600.0

# cost given to forbidden pairs (more than any sum of allowed costs can reach)
INFEASIBLE = 1e6


def gated_assignment(cost: np.ndarray, gate: float, *,
                     infeasible: float = INFEASIBLE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment, rejecting pairs that cost more than ``gate``.

    Parameters
    ----------
    cost : (N, M) cost of pairing row i (a track) with column j (a detection); ``inf`` =
        never (set costs above ``gate`` to ``inf`` to keep them out of the optimisation too).
    gate : pairs above it stay unmatched.

    Returns
    -------
    matches : (K, 2) int array of ``(row, column)`` pairs, by increasing row.
    unmatched_rows : (N - K,) int array. unmatched_cols : (M - K,) int array.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros((0, 2), dtype=int), np.arange(n), np.arange(m)
    rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, infeasible))
    ok = cost[rows, cols] <= gate
    matches = np.column_stack([rows[ok], cols[ok]]).astype(int)
    return (matches, np.setdiff1d(np.arange(n), matches[:, 0]),
            np.setdiff1d(np.arange(m), matches[:, 1]))


def right_end_first(x1, y1, x2, y2) -> np.ndarray:
    """True where ``(x1, y1)`` is not the left endpoint (DESIGN.md: the smaller x; on a tie,
    the smaller y) and the two ends must swap."""
    return (x2 < x1) | ((x2 == x1) & (y2 < y1))


def left_endpoint_first(segs) -> np.ndarray:
    """A copy of ``segs`` (N, >=4) with ``(x1, y1)`` the left endpoint (smaller x; on a tie,
    smaller y): DESIGN.md's table convention ([SDT] sec. 4.4)."""
    out = np.array(segs, dtype=np.float64, copy=True)
    if out.size == 0:
        return np.zeros((0, out.shape[-1] if out.ndim == 2 and out.shape[-1] else 5))
    out = np.atleast_2d(out)
    x1, y1, x2, y2 = out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), out[:, 3].copy()
    swap = right_end_first(x1, y1, x2, y2)
    out[swap, 0], out[swap, 1], out[swap, 2], out[swap, 3] = x2[swap], y2[swap], x1[swap], y1[swap]
    return out


def endpoint_distance(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[SDT] eq. 14 between broadcastable segment arrays ``(..., 4)``: the sum of the two
    endpoint distances, in the better of the two endpoint orders (the left-endpoint rule can
    swap a near-vertical streak's ends between frames). Returns (distance, swapped)."""
    d = [np.linalg.norm(a[..., i:i + 2] - b[..., j:j + 2], axis=-1) for i, j in
         ((0, 0), (2, 2), (2, 0), (0, 2))]
    return np.minimum(d[0] + d[1], d[2] + d[3]), d[2] + d[3] < d[0] + d[1]


def clip_segment(x1, y1, x2, y2, shape: tuple[int, int]):
    """Clip segments (arrays (K,)) to the image ``[-0.5, n - 0.5]``; Liang-Barsky (the
    clipped segment keeps its direction).

    Returns the clipped ends and a (K,) bool array, False where nothing is inside.
    """
    ny, nx = shape
    dx, dy = x2 - x1, y2 - y1
    t0, t1 = np.zeros_like(x1), np.ones_like(x1)
    ok = np.ones(x1.shape, bool)
    for p, q in ((-dx, x1 + 0.5), (dx, nx - 0.5 - x1), (-dy, y1 + 0.5), (dy, ny - 0.5 - y1)):
        zero = p == 0
        ok &= ~(zero & (q < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(zero, 0.0, q / np.where(zero, 1.0, p))
        t0 = np.where(~zero & (p < 0), np.maximum(t0, r), t0)
        t1 = np.where(~zero & (p > 0), np.minimum(t1, r), t1)
    ok &= t0 <= t1
    return x1 + t0 * dx, y1 + t0 * dy, x1 + t1 * dx, y1 + t1 * dy, ok


def clamp_endpoints(segs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Move each endpoint onto the nearest pixel centre inside ``shape = (ny, nx)``, each
    coordinate on its own: unlike :func:`clip_segment` this can change the segment's
    direction (used on detector output, whose ends only overshoot by a fraction of a pixel)."""
    out = np.array(segs, dtype=np.float64, copy=True)
    ny, nx = shape
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, nx - 1)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, ny - 1)
    return out
