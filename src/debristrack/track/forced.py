"""Forced measurement of a followed object on the pixels, against a sky template (issue 20).

[TRK] measures the object only where SExtractor extracted it (sec. 4.2); on real fields that
fails where the object is not a separate source: a star crossing it (sec. 5.2, Fig. 10), a
galaxy arm or a comet's coma that its footprint merges into, a crowded field whose noise
detections bury it in the lists. This module departs from [TRK] there, with what target mode
itself gives: the stars and every other structure of the sky move together by the frame
offset, the object does not. So, around the object's predicted position in frame k,

1. :func:`star_offsets`: the offset ``O_k`` of the sky in frame k from frame 0 (the mode of
   the displacements between the bright sources of adjacent frames);
2. the sky template of frame k: the median of the other frames resampled onto frame k's sky
   (frame j at ``x - (O_k - O_j)``), from the frames in which the sky has moved far enough
   that the object lands off its own position (so the median rejects it); it holds the stars,
   the galaxy, the coma, the stray light of that spot, and the crossing star too;
3. frame k minus its template leaves the object and noise: its position is a Gaussian-windowed
   centroid from the prediction (SExtractor's ``XWIN``, [TRK]'s own centroids), its flux the
   PSF-weighted sum, its SNR from the residual's own scatter, which includes the template's.

:class:`Stamps` cuts, in one pass over the frames, the pixel boxes every measurement needs, so
a sequence read from files is read once more at most (never held whole in memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

TEMPLATE_FRAMES = 6  # the template is the median of at most this many frames (nearest in time)


def star_offsets(cats: list[np.ndarray], fluxes: list[np.ndarray] | None = None, *, max_shift: float = 64.0,
                 n_bright: int = 200) -> np.ndarray:
    """(n_frames, 2) offset ``O_k`` of the sky (x, y px) in each frame from frame 0.

    Between adjacent frames every star moves by the same vector: the displacements from each
    bright source of frame k-1 to those of frame k within ``max_shift`` pile up at it (a 1 px
    histogram's mode, refined as the median of the displacements within 1.5 px of it). A
    frame pair without a clear mode (fewer than 3 votes) repeats the previous step.
    """
    n = len(cats)
    steps = np.zeros((n, 2))
    last = np.zeros(2)
    for k in range(1, n):
        a, b = _bright(cats[k - 1], fluxes, k - 1, n_bright), _bright(cats[k], fluxes, k, n_bright)
        step = None
        if len(a) and len(b):
            pairs = cKDTree(b).sparse_distance_matrix(cKDTree(a), max_shift, output_type="ndarray")
            d = b[pairs["i"]] - a[pairs["j"]]
            if len(d) >= 3:
                edges = np.arange(-math.ceil(max_shift) - 0.5, math.ceil(max_shift) + 1.0)
                hist, _, _ = np.histogram2d(d[:, 0], d[:, 1], bins=(edges, edges))
                ix, iy = np.unravel_index(int(np.argmax(hist)), hist.shape)
                mode = np.array([edges[ix] + 0.5, edges[iy] + 0.5])
                near = np.hypot(*(d - mode).T) <= 1.5
                if near.sum() >= 3:
                    step = np.median(d[near], axis=0)
        last = last if step is None else step
        steps[k] = last
    return np.cumsum(steps, axis=0)


def _bright(xy: np.ndarray, fluxes, k: int, n: int) -> np.ndarray:
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    if fluxes is None or len(xy) <= n:
        return xy
    return xy[np.argsort(-np.asarray(fluxes[k]), kind="stable")[:n]]


def template_frames(offsets: np.ndarray, k: int, min_shift: float, count: int = TEMPLATE_FRAMES) -> list[int]:
    """The frames whose sky has moved at least ``min_shift`` px from frame k's, nearest in time first."""
    moved = np.hypot(*(offsets - offsets[k]).T)
    order = sorted(range(len(offsets)), key=lambda j: (abs(j - k), j))
    return [j for j in order if j != k and moved[j] >= min_shift][:count]


@dataclass
class Stamps:
    """Pixel boxes around some spots (``centres``, (m, 2) x, y px) in every frame, cut in one
    pass: box ``(spot, j)`` covers spot ``s`` in frame j itself and where frame j holds the sky
    of that spot in the frames it is a template for. ``radius`` is the half-size needed around
    each of those points."""

    centres: np.ndarray
    offsets: np.ndarray
    radius: int
    min_shift: float
    shape: tuple[int, int]

    def __post_init__(self):
        n = len(self.offsets)
        self.uses = {k: template_frames(self.offsets, k, self.min_shift) for k in range(n)}
        self.boxes: dict[tuple[int, int], tuple[int, int, np.ndarray]] = {}

    def cut(self, j: int, image: np.ndarray) -> None:
        """Store the boxes of frame j from its pixels ``image``."""
        users = [k for k, js in self.uses.items() if j in js] + [j]
        shifts = np.array([self.offsets[j] - self.offsets[k] for k in users])   # sky of k sits at x + shift in j
        ny, nx = self.shape
        for s, c in enumerate(np.asarray(self.centres, np.float64).reshape(-1, 2)):
            pts = c + shifts
            x0 = max(0, int(math.floor(pts[:, 0].min())) - self.radius)
            x1 = min(nx, int(math.ceil(pts[:, 0].max())) + self.radius + 1)
            y0 = max(0, int(math.floor(pts[:, 1].min())) - self.radius)
            y1 = min(ny, int(math.ceil(pts[:, 1].max())) + self.radius + 1)
            if x1 - x0 > 3 and y1 - y0 > 3:
                # Spline coefficients once per box, not at every sample (map_coordinates' prefilter).
                box = ndimage.spline_filter(np.asarray(image[y0:y1, x0:x1], dtype=np.float64), order=3, mode="nearest")
                self.boxes[(s, j)] = (x0, y0, box)

    def sample(self, s: int, j: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray | None:
        """Frame j's pixels at positions ``xs, ys`` (cubic spline); None if outside its box."""
        box = self.boxes.get((s, j))
        if box is None:
            return None
        x0, y0, arr = box
        u, v = xs - x0, ys - y0
        if u.min() < 1 or v.min() < 1 or u.max() > arr.shape[1] - 2 or v.max() > arr.shape[0] - 2:
            return None
        return ndimage.map_coordinates(arr, [v.ravel(), u.ravel()], order=3, mode="nearest",
                                       prefilter=False).reshape(xs.shape)


@dataclass(frozen=True)
class Measurement:
    """One forced measurement: position (x, y px), PSF-weighted flux, its SNR, and whether it
    counts (SNR at least the threshold, not a one-pixel spike, near the prediction)."""

    x: float
    y: float
    flux: float
    snr: float
    ok: bool


def stamp_half(sigma: float) -> int:
    """Half-size (px) of the stamp one measurement uses: 4 PSF sigma and a background ring."""
    return int(math.ceil(4 * sigma)) + 3


def measure(stamps: Stamps, s: int, k: int, pred: np.ndarray, sigma: float, *, max_move: float,
            snr_min: float = 3.0, max_peak_fraction: float = 0.7, fixed: bool = False) -> Measurement:
    """Forced measurement of spot ``s`` in frame k at the predicted position ``pred`` (module
    docstring): frame k minus its sky template, then a windowed centroid and a PSF flux.
    ``fixed`` keeps the position at ``pred`` (no centroid): an unbiased flux and SNR, where the
    centroid, free to move by ``max_move``, climbs onto the noise peak nearby. The stamps'
    ``radius`` must hold :func:`stamp_half` plus the prediction's distance from its spot."""
    bad = Measurement(float("nan"), float("nan"), float("nan"), 0.0, False)
    r = stamp_half(sigma)
    cx, cy = int(round(pred[0])), int(round(pred[1]))
    gy, gx = np.mgrid[cy - r:cy + r + 1, cx - r:cx + r + 1].astype(np.float64)
    own = stamps.sample(s, k, gx, gy)
    if own is None:
        return bad
    others = []
    for j in stamps.uses[k]:
        shift = stamps.offsets[j] - stamps.offsets[k]
        got = stamps.sample(s, j, gx + shift[0], gy + shift[1])
        if got is not None:
            others.append(got)
    if len(others) < 2:
        return bad
    resid = own - np.median(others, axis=0)
    rr = np.hypot(gx - pred[0], gy - pred[1])
    ring = rr >= max(3 * sigma, r - 3)
    resid = resid - np.median(resid[ring])
    noise = 1.4826 * float(np.median(np.abs(resid[rr >= 3 * sigma])))
    if not noise > 0:
        return bad
    c = np.asarray(pred, np.float64)
    for _ in range(0 if fixed else 8):   # SExtractor-style windowed centroid (XWIN), from the prediction
        w = np.exp(-((gx - c[0]) ** 2 + (gy - c[1]) ** 2) / (2 * sigma**2)) * np.clip(resid, 0, None)
        if w.sum() <= 0:
            return bad
        new = np.array([(w * gx).sum(), (w * gy).sum()]) / w.sum()
        new = pred + _clip_norm(new - pred, max_move)
        if np.hypot(*(new - c)) < 0.01:
            c = new
            break
        c = new
    psf = np.exp(-((gx - c[0]) ** 2 + (gy - c[1]) ** 2) / (2 * sigma**2))
    psf /= psf.sum()
    flux = float((psf * resid).sum() / (psf**2).sum())
    snr = flux * math.sqrt(float((psf**2).sum())) / noise
    near = np.hypot(gx - c[0], gy - c[1]) <= 1.5
    sharp = flux > 0 and float(resid[near].max()) > max_peak_fraction * flux
    moved = float(np.hypot(*(c - pred)))
    ok = snr >= snr_min and not sharp and moved < max_move - 1e-6
    return Measurement(float(c[0]), float(c[1]), flux, float(snr), bool(ok))


def _clip_norm(v: np.ndarray, limit: float) -> np.ndarray:
    n = float(np.hypot(*v))
    return v if n <= limit else v * (limit / n)


def predict(known: np.ndarray, k: int, count: int = 5) -> np.ndarray | None:
    """Median of the ``count`` known positions nearest in time to frame k ((n, 2), NaN where unknown)."""
    have = np.flatnonzero(np.isfinite(known[:, 0]))
    if not have.size:
        return None
    nearest = have[np.argsort(np.abs(have - k), kind="stable")[:count]]
    return np.median(known[nearest], axis=0)
