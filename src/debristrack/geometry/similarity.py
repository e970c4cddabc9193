"""Similarity between ground-truth and predicted objects, the input of the MOT metrics.

Every function comes in two forms: ``name(a, b)`` returns the full ``(N, M)`` matrix between
the ``N`` rows of ``a`` and the ``M`` rows of ``b``; ``name_pairs(a, b)`` takes two arrays of
the same length ``P`` and returns the ``P`` similarities of row ``i`` of ``a`` with row ``i``
of ``b``. The pair form is what :mod:`debristrack.evaluate.mot` uses to score every
same-frame pair of a whole sequence in one vectorised call.

Pixel convention: 0-based, ``x`` = column, ``y`` = row, the centre of the first pixel is
(0, 0). All lengths are in pixels. Similarities lie in [0, 1].

- Streaks, default (DESIGN.md "Evaluation"): each segment is drawn as a thick line, a
  rectangle of width ``w`` centred on the segment and extended by ``w / 2`` beyond both
  endpoints (a square line cap, so a zero-length segment is a ``w`` x ``w`` square); the
  similarity is the IoU of the two rectangles, computed exactly by convex polygon clipping
  (Sutherland-Hodgman). The result does not depend on the streak's direction: rotating
  both segments together leaves it unchanged.
- Streaks, paper-compatible option: IoU of the axis-aligned boxes of the two segments, each
  padded by ``w / 2`` on every side ([SDT] sec. 5.2 scores streaks with box-based MOT
  metrics). A diagonal streak's box holds much empty sky, so this option favours diagonal
  over horizontal streaks; use it only to compare with box-based figures.
- Points: ``max(0, 1 - d / r)`` with ``d`` the distance and ``r`` the match radius.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

MIN_WIDTH = 3.0
"""Smallest thick-line width in pixels (DESIGN.md "Evaluation")."""


def thick_width(fwhm: float) -> float:
    """Thick-line width for a PSF FWHM: ``max(3, 2 * fwhm)`` pixels (DESIGN.md "Evaluation")."""
    return max(MIN_WIDTH, 2.0 * float(fwhm))


def _coords(a, ncol: int, name: str) -> np.ndarray:
    """Validate an ``(N, ncol)`` array of finite coordinates; raise InputError otherwise."""
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != ncol:
        what = {4: "(N, 4) array of x1, y1, x2, y2", 2: "(N, 2) array of x, y"}[ncol]
        raise InputError(f"{name}: expected an {what}, got shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise InputError(f"{name}: row {int(np.argmax(bad))} has a NaN or infinite coordinate")
    return arr


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a positive number of pixels, got {value}")
    return value


def _pairs(a, b, ncol: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = _coords(a, ncol, "a"), _coords(b, ncol, "b")
    if len(a) != len(b):
        raise InputError(f"pair arrays differ in length: {len(a)} and {len(b)}")
    return a, b


def _matrix(pair_fn, a, b, ncol: int, **kw) -> np.ndarray:
    a, b = _coords(a, ncol, "a"), _coords(b, ncol, "b")
    ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    return pair_fn(a[ia.ravel()], b[ib.ravel()], **kw).reshape(len(a), len(b))


# ----------------------------------------------------------------------------- boxes

def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of axis-aligned boxes ``(P, 4)`` given as x0, y0, x1, y1 (continuous coordinates)."""
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
             + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def box_iou_pairs(a, b) -> np.ndarray:
    """IoU of boxes row by row.

    Parameters
    ----------
    a, b : (P, 4) arrays of boxes ``x0, y0, x1, y1`` (x0 <= x1, y0 <= y1), pixels.

    Returns
    -------
    (P,) float array in [0, 1]; 0 where both boxes have zero area.
    """
    a, b = _pairs(a, b, 4)
    if ((a[:, 2] < a[:, 0]) | (a[:, 3] < a[:, 1])).any() or ((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])).any():
        raise InputError("box with x1 < x0 or y1 < y0; boxes are x0, y0, x1, y1")
    return _box_iou(a, b)


def box_iou(a, b) -> np.ndarray:
    """``(N, M)`` IoU matrix of boxes ``a`` (N, 4) and ``b`` (M, 4), each ``x0, y0, x1, y1``."""
    return _matrix(box_iou_pairs, a, b, 4)


def _padded_boxes(seg: np.ndarray, half: float) -> np.ndarray:
    return np.stack([np.minimum(seg[:, 0], seg[:, 2]) - half, np.minimum(seg[:, 1], seg[:, 3]) - half,
                     np.maximum(seg[:, 0], seg[:, 2]) + half, np.maximum(seg[:, 1], seg[:, 3]) + half],
                    axis=1)


def padded_box_iou_pairs(a, b, *, width: float = MIN_WIDTH) -> np.ndarray:
    """IoU of the segments' axis-aligned boxes padded by ``width / 2``, row by row.

    Parameters
    ----------
    a, b : (P, 4) arrays of segments ``x1, y1, x2, y2`` in pixels (endpoint order is free).
    width : padding in pixels: each box grows by ``width / 2`` on every side.

    Returns
    -------
    (P,) float array in [0, 1].
    """
    a, b = _pairs(a, b, 4)
    half = _positive(width, "width") / 2
    return _box_iou(_padded_boxes(a, half), _padded_boxes(b, half))


def padded_box_iou(a, b, *, width: float = MIN_WIDTH) -> np.ndarray:
    """``(N, M)`` padded-box IoU matrix of segments ``a`` (N, 4) and ``b`` (M, 4); see
    :func:`padded_box_iou_pairs`."""
    return _matrix(padded_box_iou_pairs, a, b, 4, width=width)


# ----------------------------------------------------------------------------- thick lines

def thick_line_corners(seg: np.ndarray, width: float) -> np.ndarray:
    """Corners of each segment drawn as a thick line, counter-clockwise (in x-right, y-up axes).

    Parameters
    ----------
    seg : (P, 4) array ``x1, y1, x2, y2`` in pixels.
    width : line width in pixels.

    Returns
    -------
    (P, 4, 2) array of corners: a rectangle of width ``width`` and length
    ``|p2 - p1| + width`` (square caps). A zero-length segment gives an axis-aligned square.
    """
    p1, p2 = seg[:, :2], seg[:, 2:]
    d = p2 - p1
    length = np.hypot(d[:, 0], d[:, 1])
    degenerate = length == 0
    u = np.where(degenerate[:, None], [1.0, 0.0], d / np.where(degenerate, 1.0, length)[:, None])
    h = width / 2.0
    along = u * h
    normal = np.stack([-u[:, 1], u[:, 0]], axis=1) * h
    back, front = p1 - along, p2 + along
    return np.stack([back - normal, front - normal, front + normal, back + normal], axis=1)


def _cross(e: np.ndarray, v: np.ndarray) -> np.ndarray:
    """z of the cross product of (P, 2) edges with (P, K, 2) vectors: (P, K)."""
    return e[:, None, 0] * v[..., 1] - e[:, None, 1] * v[..., 0]


def convex_intersection_area(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Area of the intersection of two convex polygons, pair by pair.

    Sutherland-Hodgman clipping of ``subject`` by each edge of ``clip``, vectorised over the
    pairs; the clipped polygon is kept compacted at the front of a fixed-size vertex buffer.

    Parameters
    ----------
    subject, clip : (P, K, 2) and (P, L, 2) arrays of convex polygons, vertices
        counter-clockwise (positive shoelace area).

    Returns
    -------
    (P,) array of intersection areas (pixels^2).
    """
    n_pairs = len(subject)
    poly = subject.astype(float, copy=True)
    count = np.full(n_pairs, poly.shape[1])
    # Points this close outside an edge count as on it, so coincident edges clip to nothing.
    scale = max(1.0, float(np.abs(subject).max(initial=0)), float(np.abs(clip).max(initial=0)))
    eps = 1e-12 * scale * scale
    for e in range(clip.shape[1]):
        a = clip[:, e]
        edge = clip[:, (e + 1) % clip.shape[1]] - a
        k = np.arange(poly.shape[1])
        valid = k[None, :] < count[:, None]
        nxt_idx = np.where(k[None, :] + 1 < count[:, None], k[None, :] + 1, 0)
        nxt = np.take_along_axis(poly, nxt_idx[..., None], axis=1)
        d_cur = _cross(edge, poly - a[:, None, :])
        d_nxt = _cross(edge, nxt - a[:, None, :])
        in_cur, in_nxt = d_cur >= -eps, d_nxt >= -eps
        crossing = valid & (in_cur != in_nxt)
        t = d_cur / np.where(crossing, d_cur - d_nxt, 1.0)
        inter = poly + t[..., None] * (nxt - poly)
        # Each vertex emits itself when inside, then the edge's crossing point when it has one.
        out = np.stack([poly, inter], axis=2).reshape(n_pairs, -1, 2)
        keep = np.stack([valid & in_cur, crossing], axis=2).reshape(n_pairs, -1)
        count = keep.sum(axis=1)
        order = np.argsort(~keep, axis=1, kind="stable")[:, :max(1, int(count.max(initial=0)))]
        poly = np.take_along_axis(out, order[..., None], axis=1)
    k = np.arange(poly.shape[1])
    nxt_idx = np.where(k[None, :] + 1 < count[:, None], k[None, :] + 1, 0)
    nxt = np.take_along_axis(poly, nxt_idx[..., None], axis=1)
    terms = poly[..., 0] * nxt[..., 1] - poly[..., 1] * nxt[..., 0]
    area = 0.5 * np.where(k[None, :] < count[:, None], terms, 0.0).sum(axis=1)
    return np.clip(area, 0.0, None)


def streak_iou_pairs(a, b, *, width: float = MIN_WIDTH) -> np.ndarray:
    """Thick-line IoU of segments, row by row (the default streak similarity).

    Parameters
    ----------
    a, b : (P, 4) arrays of segments ``x1, y1, x2, y2`` in pixels; the endpoint order does
        not matter.
    width : line width in pixels (DESIGN.md: 2 x PSF FWHM, at least 3; see
        :func:`thick_width`).

    Returns
    -------
    (P,) float array in [0, 1]: area(A & B) / area(A | B) of the two thick lines, exact up
    to rounding.
    """
    a, b = _pairs(a, b, 4)
    width = _positive(width, "width")
    out = np.zeros(len(a))
    # Only pairs whose padded boxes overlap can have a non-zero IoU: clip just those.
    near = _box_iou(_padded_boxes(a, width / 2), _padded_boxes(b, width / 2)) > 0
    if near.any():
        ca, cb = thick_line_corners(a[near], width), thick_line_corners(b[near], width)
        inter = convex_intersection_area(ca, cb)
        area_a = (np.hypot(a[near, 2] - a[near, 0], a[near, 3] - a[near, 1]) + width) * width
        area_b = (np.hypot(b[near, 2] - b[near, 0], b[near, 3] - b[near, 1]) + width) * width
        out[near] = np.clip(inter / (area_a + area_b - inter), 0.0, 1.0)
    return out


def streak_iou(a, b, *, width: float = MIN_WIDTH) -> np.ndarray:
    """``(N, M)`` thick-line IoU matrix of segments ``a`` (N, 4) and ``b`` (M, 4); see
    :func:`streak_iou_pairs`.

    Examples
    --------
    >>> streak_iou([[0, 0, 10, 0]], [[10, 0, 0, 0], [0, 50, 10, 50]], width=3)
    array([[1., 0.]])
    """
    return _matrix(streak_iou_pairs, a, b, 4, width=width)


# ----------------------------------------------------------------------------- points

def point_similarity_pairs(a, b, *, radius: float = 3.0) -> np.ndarray:
    """``max(0, 1 - d / radius)`` for points row by row.

    Parameters
    ----------
    a, b : (P, 2) arrays of ``x, y`` in pixels.
    radius : match radius ``r`` in pixels: similarity 1 at the same place, 0 at ``r`` or more.

    Returns
    -------
    (P,) float array in [0, 1].
    """
    a, b = _pairs(a, b, 2)
    radius = _positive(radius, "radius")
    d = np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])
    return np.clip(1.0 - d / radius, 0.0, 1.0)


def point_similarity(a, b, *, radius: float = 3.0) -> np.ndarray:
    """``(N, M)`` point similarity matrix of ``a`` (N, 2) and ``b`` (M, 2); see
    :func:`point_similarity_pairs`."""
    return _matrix(point_similarity_pairs, a, b, 2, radius=radius)
