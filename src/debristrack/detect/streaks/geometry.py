"""Segment geometry of the streak detectors (line SNR, merging, explaining away); the rules
shared with the other stages are in :mod:`debristrack.geometry`.

A segment array is ``(N, 4)`` ``(x1, y1, x2, y2)`` or ``(N, 5)`` with a trailing ``score``, in
pixels: 0-based, x = column, y = row, centre of the first pixel = (0, 0).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ...geometry import clamp_endpoints, left_endpoint_first  # noqa: F401 (the detectors' segment rules)


def empty_segments() -> np.ndarray:
    """An ``(0, 5)`` float array: no segments."""
    return np.zeros((0, 5), dtype=np.float64)


def as_segments(segs) -> np.ndarray:
    """``segs`` as a 2-D float64 array; an empty input becomes ``(0, 5)``."""
    arr = np.asarray(segs, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, arr.shape[-1] if arr.ndim == 2 and arr.shape[-1] else 5))
    return np.atleast_2d(arr)


def lengths(segs: np.ndarray) -> np.ndarray:
    """``(N,)`` segment lengths in pixels."""
    segs = np.asarray(segs, dtype=np.float64)
    return np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])


def directions(segs: np.ndarray) -> np.ndarray:
    """``(N, 2)`` unit vectors from endpoint 1 to endpoint 2 (``(1, 0)`` for a zero-length segment)."""
    segs = np.asarray(segs, dtype=np.float64)
    d = segs[:, 2:4] - segs[:, 0:2]
    n = np.hypot(d[:, 0], d[:, 1])
    out = np.tile([1.0, 0.0], (len(segs), 1))
    ok = n > 0
    out[ok] = d[ok] / n[ok, None]
    return out


def line_median_snr(z: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """Robust SNR of each segment's centre line in ``z`` (a residual in units of its noise, any
    real dtype; in int16 steps of a fraction of the noise, the SNR comes in those steps): the
    median of bilinear samples every pixel along it over the median's noise for white noise,
    ``1.2533 / sqrt(n)``. Another streak crossing the line
    or a star residual on it moves a median little, where it would carry a sum. ``(N,)``; 0 for
    a segment under 2 px."""
    segs = as_segments(segs)
    out = np.zeros(len(segs))
    ny, nx = z.shape
    for i, s in enumerate(segs):
        n = int(np.ceil(float(np.hypot(s[2] - s[0], s[3] - s[1])))) + 1
        if n < 3:
            continue
        # only the segment's box in float32 (ndimage samples no float16 or int16 into floats)
        x0, y0 = max(0, int(np.floor(min(s[0], s[2]))) - 1), max(0, int(np.floor(min(s[1], s[3]))) - 1)
        x1, y1 = min(nx, int(np.ceil(max(s[0], s[2]))) + 2), min(ny, int(np.ceil(max(s[1], s[3]))) + 2)
        t = np.linspace(0.0, 1.0, n)
        vals = ndimage.map_coordinates(z[y0:y1, x0:x1].astype(np.float32),
                                       [s[1] + t * (s[3] - s[1]) - y0, s[0] + t * (s[2] - s[0]) - x0],
                                       order=1, mode="constant", cval=0.0)
        out[i] = float(np.median(vals)) * np.sqrt(n) / 1.2533
    return out


def line_snr(residual: np.ndarray, sigma: float, segs: np.ndarray, *, step: float = 1.0) -> np.ndarray:
    """Signal-to-noise ratio of each segment: the summed residual along its centre line.

    Samples ``residual`` (background-subtracted, ``(ny, nx)``) every ``step`` pixels along each
    segment with bilinear interpolation; ``snr = sum(samples) / (sigma * sqrt(n))`` for white
    noise of standard deviation ``sigma``. Returns ``(N,)``; 0 for an empty segment list.
    """
    segs = as_segments(segs)
    if len(segs) == 0:
        return np.zeros(0)
    n = np.maximum(2, np.ceil(lengths(segs) / step).astype(int) + 1)
    owner = np.repeat(np.arange(len(segs)), n)
    # position of each sample along its own segment, 0..1
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
    t = (np.arange(owner.size) - start[owner]) / (n[owner] - 1)
    xs = segs[owner, 0] + t * (segs[owner, 2] - segs[owner, 0])
    ys = segs[owner, 1] + t * (segs[owner, 3] - segs[owner, 1])
    vals = ndimage.map_coordinates(residual, [ys, xs], order=1, mode="constant", cval=0.0)
    sums = np.bincount(owner, weights=vals, minlength=len(segs))
    return sums / (max(float(sigma), 1e-12) * np.sqrt(n))


def merge_collinear(segs: np.ndarray, *, angle_tol: float = 3.0, dist_tol: float = 2.0,
                    max_gap: float = 20.0) -> np.ndarray:
    """Merge pieces that lie on one line into single segments.

    Joins the truncated pieces of one streak ([SDT] sec. 3.2.2, "random truncation") and the
    two edge segments LSD finds along a wide streak. Greedy, longest segment first: a
    segment absorbs every other whose direction is within ``angle_tol`` degrees, whose two
    endpoints lie within ``dist_tol`` pixels of its line, and whose extent along the line is
    at most ``max_gap`` pixels from its own; repeated until nothing changes. The merged
    segment is the length-weighted principal axis of all the pieces' endpoints, spanning their
    extreme projections; its
    score is the quadrature sum of the pieces' scores (independent SNRs add that way).

    Parameters
    ----------
    segs : (N, 5) segments ``(x1, y1, x2, y2, score)``, pixels.

    Returns
    -------
    (M, 5) segments, M <= N, left endpoint first.
    """
    segs = as_segments(segs)
    if len(segs) < 2:
        return left_endpoint_first(segs)
    segs = segs[np.argsort(-lengths(segs), kind="stable")].copy()
    sin_tol = np.sin(np.radians(angle_tol))
    alive = np.ones(len(segs), bool)
    changed = True
    while changed:
        changed = False
        for i in range(len(segs)):
            if not alive[i]:
                continue
            p0 = segs[i, :2].copy()
            u = directions(segs[i:i + 1])[0]
            length = float(np.hypot(*(segs[i, 2:4] - p0)))
            others = np.flatnonzero(alive)
            others = others[others != i]
            if others.size == 0:
                break
            o = segs[others]
            uo = directions(o)
            parallel = np.abs(uo[:, 0] * u[1] - uo[:, 1] * u[0]) <= sin_tol
            rel1, rel2 = o[:, 0:2] - p0, o[:, 2:4] - p0
            perp = np.maximum(np.abs(rel1[:, 0] * u[1] - rel1[:, 1] * u[0]),
                              np.abs(rel2[:, 0] * u[1] - rel2[:, 1] * u[0]))
            t1, t2 = rel1 @ u, rel2 @ u
            lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
            gap = np.maximum.reduce([lo - length, -hi, np.zeros_like(lo)])
            take = parallel & (perp <= dist_tol) & (gap <= max_gap)
            if not take.any():
                continue
            j = others[take]
            group = np.concatenate([[i], j])
            segs[i, :4] = _refit(segs[group])
            segs[i, 4] = np.sqrt(segs[i, 4] ** 2 + np.sum(segs[j, 4] ** 2))
            alive[j] = False
            changed = True
    return left_endpoint_first(segs[alive])


def _refit(group: np.ndarray) -> np.ndarray:
    """One segment through a group of collinear pieces: the length-weighted principal axis of
    their endpoints, spanning the extreme projections."""
    pts = np.vstack([group[:, 0:2], group[:, 2:4]])
    w = np.tile(np.maximum(lengths(group), 1e-3), 2)
    c = np.average(pts, axis=0, weights=w)
    d = pts - c
    cov = (d * w[:, None]).T @ d
    u = np.linalg.eigh(cov)[1][:, -1]
    t = d @ u
    return np.concatenate([c + t.min() * u, c + t.max() * u])


def point_segment_distance(points: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """Distance from every point to every segment, ``(P, N)`` pixels.

    ``points`` is ``(P, 2)`` ``(x, y)``; ``segs`` is ``(N, >=4)``.
    """
    pts = np.asarray(points, dtype=np.float64)[:, None, :]
    segs = as_segments(segs)
    a, b = segs[None, :, 0:2], segs[None, :, 2:4]
    d = b - a
    dd = np.maximum(np.sum(d * d, axis=-1), 1e-12)
    t = np.clip(np.sum((pts - a) * d, axis=-1) / dd, 0.0, 1.0)
    closest = a + t[..., None] * d
    return np.hypot(pts[..., 0] - closest[..., 0], pts[..., 1] - closest[..., 1])


def explain_away(residual: np.ndarray, sigma: float, segs: np.ndarray, *, radius: float,
                 min_snr: float, max_covered: float = 0.5) -> np.ndarray:
    """Keep only the segments whose own signal is significant once stronger ones are removed.

    Segments are visited by decreasing score. Each is sampled every pixel along its line;
    samples within ``radius`` pixels of a segment already kept are discarded (that light is
    explained by the stronger streak), and the segment is kept when it is mostly free
    (covered fraction at most ``max_covered``) and the free samples alone reach ``min_snr``
    (same SNR as :func:`line_snr`). This removes the duplicates along a streak and the short
    false segments a bright streak induces at other angles, while two streaks that cross
    share only a short stretch and both survive.

    Parameters
    ----------
    residual : (ny, nx) background-subtracted image. sigma : its noise rms.
    segs : (N, 5) segments. radius : pixels.

    Returns
    -------
    (M, 5) kept segments, score = the SNR of their free samples, by decreasing score.
    """
    segs = as_segments(segs)
    if len(segs) == 0:
        return segs
    segs = segs[np.argsort(-segs[:, 4], kind="stable")].copy()
    keep: list[int] = []
    for i in range(len(segs)):
        n = max(2, int(np.ceil(lengths(segs[i:i + 1])[0])) + 1)
        t = np.linspace(0.0, 1.0, n)[:, None]
        pts = segs[i, 0:2] + t * (segs[i, 2:4] - segs[i, 0:2])
        free = np.ones(n, bool)
        if keep:
            free = point_segment_distance(pts, segs[keep]).min(axis=1) > radius
        if free.mean() < 1.0 - max_covered:
            continue
        vals = ndimage.map_coordinates(residual, [pts[free, 1], pts[free, 0]], order=1, mode="constant")
        snr = vals.sum() / (max(float(sigma), 1e-12) * np.sqrt(free.sum()))
        if snr >= min_snr:
            segs[i, 4] = snr
            keep.append(i)
    return segs[keep]
