"""A classical detector for faint streaks in star fields: star removal + oriented matched filters.

Steps (each a function below):

1. background subtraction (:func:`.background.subtract_background`) and **star removal**:
   compact sources found by sep (axis ratio below ``max_star_elongation``) are masked by
   their ellipses (:func:`star_mask`), in this frame and, in sidereal mode where the stars
   stay on the same pixels, in the median of the sequence (deeper). Subtracting that median
   instead would also remove slow streaks, which overlap themselves from frame to frame
   (length 30-150 px, speed 8-40 px per frame in the simulator). Residuals are clipped at
   ``clip_snr`` so that star wings and cosmic rays cannot dominate a line filter;
2. **oriented matched filters** (on the 2 x 2 binned residual when the frame's shorter side
   has ``bin_size`` px or more, :func:`binned_params`: a quarter of the pixels, filters half
   as long; the candidates then go on at full resolution): the residual in units of the noise is correlated with
   ``n_angles`` kernels, each a line of ``kernel_length`` pixels blurred by the Gaussian PSF of
   [SDT] eq. 6 (sigma = ``fwhm`` / 2.355), normalised so the output is a signal-to-noise ratio;
   the noise is re-measured on the filtered image (:func:`noise_gain`), so frames with
   correlated noise (resampled, binned) do not inflate every SNR;
3. **candidates**: ridge pixels (maxima across their best direction, :func:`ridge_mask`)
   above ``threshold`` are grouped per direction (a pixel's best angle, +-1 bin) into
   connected components, which keeps two crossing streaks apart;
   each component's line is its response-weighted principal axis;
4. **endpoint refinement** along each line: the PSF-weighted profile is smoothed and the
   streak is the run above ``end_snr``, runs separated by at most ``max_gap`` pixels
   joined ([SDT] sec. 3.2.2 random truncation); each end is placed where the profile falls
   to half the run's median, the half-maximum of a blurred step;
5. collinear pieces are merged (:func:`.geometry.merge_collinear`) and each streak is
   kept only if its light not explained by a stronger streak reaches ``min_snr``
   (:func:`.geometry.explain_away`): this removes duplicates and the short false segments
   that a bright streak induces at other angles, yet keeps crossing streaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import scipy.fft as sf
import sep
from scipy import ndimage

from ...geometry import FWHM_PER_SIGMA
from ..extract import _extract_with_room
from .background import subtract_background
from .geometry import (clamp_endpoints, empty_segments, explain_away, line_snr, merge_collinear,
                       left_endpoint_first)


@dataclass(frozen=True)
class MatchedParams:
    """Parameters of :func:`detect_matched`."""

    RANGES = {  # valid interval of each numeric parameter (config.check_ranges)
        "fwhm": "(0, inf)", "kernel_length": "[3, inf)", "n_angles": "[1, inf)", "threshold": "(0, inf)",
        "min_pixels": "[1, inf)", "clip_snr": "(0, inf)", "star_snr": "(0, inf)",
        "max_star_elongation": "[1, inf)", "fat_width": "(0, inf)", "star_radius": "(0, inf)",
        "star_grow": "[0, inf)", "end_snr": "(0, inf)", "end_window": "[1, inf)", "max_gap": "[0, inf)",
        "angle_tol": "[0, 90]", "dist_tol": "[0, inf)", "min_length": "[0, inf)", "min_snr": "[0, inf)",
        "bin_size": "[0, inf)"}

    fwhm: float = field(default=2.5, metadata={"help": "PSF FWHM in pixels ([SDT] eq. 6: sigma = FWHM / 2.355)"})
    kernel_length: int = field(default=21, metadata={"help": "length of the line filters, pixels"})
    n_angles: int = field(default=24, metadata={"help": "number of filter orientations over 180 degrees"})
    threshold: float = field(default=5.0, metadata={"help": "filter response (SNR) that starts a candidate"})
    min_pixels: int = field(default=8, metadata={"help": "smallest candidate, ridge pixels above threshold"})
    clip_snr: float = field(default=8.0, metadata={"help": "residuals are clipped to +-this many sigma"})
    star_snr: float = field(default=5.0, metadata={"help": "detection threshold (sigma) of the stars that are masked"})
    max_star_elongation: float = field(default=2.0, metadata={"help": "sources rounder than this a/b are stars"})
    fat_width: float = field(default=2.5, metadata={
        "help": "sources whose minor-axis rms exceeds this many PSF sigmas (and a/b < 5) are masked too"})
    star_radius: float = field(default=3.0, metadata={"help": "star mask radius in units of the star's rms size"})
    star_grow: float = field(default=0.5, metadata={"help": "star mask: extra radius, in PSF FWHM"})
    end_snr: float = field(default=2.5, metadata={"help": "profile SNR that still counts as streak"})
    end_window: int = field(default=5, metadata={"help": "profile smoothing along the line, pixels"})
    max_gap: float = field(default=40.0, metadata={"help": "largest gap joined inside one streak, pixels ([SDT] sec. 3.2.2 truncation)"})
    angle_tol: float = field(default=3.0, metadata={"help": "merge: largest angle between pieces, degrees"})
    dist_tol: float = field(default=2.5, metadata={"help": "merge: largest offset from the line, pixels"})
    min_length: float = field(default=15.0, metadata={"help": "shortest streak reported, pixels"})
    min_snr: float = field(default=7.0, metadata={"help": "smallest line SNR reported"})
    bin_size: int = field(default=2048, metadata={
        "help": "frames whose shorter side has at least this many px are searched 2 x 2 binned (line "
                "filters on the binned frame; endpoints and SNR at full resolution); 0 = never"})


def psf_sigma(fwhm: float) -> float:
    """Gaussian sigma of a PSF with full width at half maximum ``fwhm`` (same units)."""
    return fwhm / FWHM_PER_SIGMA


def line_kernels(length: int, psf_sigma: float, n_angles: int) -> list[np.ndarray]:
    """Unit-norm line kernels: a ``length``-pixel line blurred by a Gaussian of ``psf_sigma``.

    Returns ``n_angles`` float32 square kernels at angles ``k * 180 / n_angles`` degrees
    (measured from +x towards +y); each has sum of squares 1, so correlating white noise of
    unit variance gives unit variance.
    """
    half = int(np.ceil(length / 2 + 3 * psf_sigma))
    v, u = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    kernels = []
    for theta in np.arange(n_angles) * np.pi / n_angles:
        along = u * np.cos(theta) + v * np.sin(theta)
        across = -u * np.sin(theta) + v * np.cos(theta)
        # distance from the segment [-L/2, L/2] (0 inside), so the ends are PSF-rounded
        beyond = np.maximum(np.abs(along) - length / 2, 0.0)
        k = np.exp(-(across ** 2 + beyond ** 2) / (2 * psf_sigma ** 2))
        kernels.append((k / np.sqrt(np.sum(k ** 2))).astype(np.float32))
    return kernels


def star_mask(image: np.ndarray, mask: np.ndarray | None, p: MatchedParams) -> np.ndarray:
    """Pixels of compact sources (stars), True = star, ``(ny, nx)``.

    sep extracts sources above ``star_snr`` sigma; those with axis ratio ``a / b`` at most
    ``max_star_elongation`` are stars (a streak is long and thin), and so are those wider
    across than ``fat_width`` PSF sigmas yet not line-like (``a / b <= 5``: galaxies,
    cluster cores, nebulae; a streak is PSF-thin across). They are masked by their
    ellipse scaled to ``star_radius`` rms radii plus ``star_grow`` PSF FWHM, which reaches
    the wings.
    ``image`` is any frame of the sequence or, better, the median of several: in sidereal
    mode the stars stay on the same pixels while the streaks move.
    """
    return _star_mask(*subtract_background(image, mask), mask, p)


def _star_mask(residual: np.ndarray, sigma: float, mask: np.ndarray | None, p: MatchedParams) -> np.ndarray:
    """:func:`star_mask` of a background-subtracted frame (``residual``, noise ``sigma``)."""
    stars = np.zeros(residual.shape, dtype=bool)
    m = None if mask is None else np.ascontiguousarray(mask, dtype=bool)
    # sep's pixel stack grows only when it overflows: sized to the frame up front, it alone was
    # ~30 bytes a pixel (2 GB for an 8192x8192 frame), as sep initialises every entry
    objs = _extract_with_room(np.ascontiguousarray(residual), p.star_snr, err=sigma, mask=m, minarea=5)
    b = np.maximum(objs["b"], 1e-3)
    compact = objs["a"] <= p.max_star_elongation * b
    # wider across than a PSF-thin streak and not line-like: galaxies, cluster cores, nebulae
    fat = (b >= p.fat_width * psf_sigma(p.fwhm)) & (objs["a"] <= 5.0 * b)
    o = objs[compact | fat]
    if len(o):
        grow = p.star_grow * p.fwhm / p.star_radius  # in units of r: adds star_grow FWHM to each radius
        sep.mask_ellipse(stars, o["x"], o["y"], o["a"] + grow, o["b"] + grow, o["theta"], r=p.star_radius)
    return stars


def noise_gain(filtered: np.ndarray) -> float:
    """How much more the line filter's output scatters than white noise predicts.

    ``filtered`` is the residual in units of the per-pixel noise correlated with one
    unit-norm kernel (the bank's first, :func:`filter_response`), so for white noise it has
    unit standard deviation. Real frames are often resampled or binned, with pixel-to-pixel
    correlated noise, and then the line filter's output (and a line's summed SNR) is wider by
    this factor, measured as the robust standard deviation (1.4826 x MAD) of every other
    pixel of every other row. Never below 1.
    """
    r = filtered[::2, ::2]
    mad = float(np.median(np.abs(r - np.median(r))))
    return max(1.0, 1.4826 * mad)


TILE = 256  # filter bank tiles: a short FFT per tile is cheaper per pixel than one of the whole frame
# responses closer than this (relative) are a tie: the float rounding of the filter bank is ~1e-6,
# and on a plateau (a trail wider than the PSF, clipped at clip_snr: real/hsc_cutout's) every
# orientation and every pixel across it tie, which rounding must not decide
RIDGE_TOL = 1e-4


def _strip_response(padded: np.ndarray, row: int, spectra: list[np.ndarray], size: int, step: int,
                    best: np.ndarray, angle: np.ndarray, first: np.ndarray | None = None) -> None:
    """The filter bank on one strip of tiles (tile row ``row``), written into ``best`` and
    ``angle`` (frame layout; strips do not overlap, so threads may share them). Each window of
    ``size`` px, ``step`` apart, is transformed once; each orientation is then one product of
    spectra and one inverse FFT (overlap-save: a window's circular correlation is exact on its
    first ``step x step`` pixels); the first kernel's response also goes to ``first`` when
    given. A window at a time, so its arrays stay in the CPU's cache
    (a strip's at once were 1.7 x slower). The first kernel wins a tie (:data:`RIDGE_TOL`)."""
    ny, nx = best.shape
    y0 = row * step
    windows = np.lib.stride_tricks.sliding_window_view(padded[y0:y0 + size], (size, size), axis=(0, 1))[0, ::step]
    rows = min(step, ny - y0)
    top = np.empty((size, size), np.float32)
    which, hit = np.empty(top.shape, np.int16), np.empty(top.shape, np.int16)
    better, level = np.empty(top.shape, bool), np.empty_like(top)
    product = np.empty((size, size // 2 + 1), np.complex64)
    for t, window in enumerate(windows):
        x0 = t * step
        cols = min(step, nx - x0)
        spec = sf.rfft2(window, workers=1)
        top.fill(-np.inf)
        which.fill(0)
        for k, ks in enumerate(spectra):
            np.multiply(spec, ks, out=product)
            r = sf.irfft2(product, s=(size, size), workers=1, overwrite_x=True)
            if k == 0 and first is not None:
                first[y0:y0 + rows, x0:x0 + cols] = r[:rows, :cols]
            # a later orientation is better only beyond the tie (for the responses above 0 that
            # make candidates; the best value is the maximum either way)
            np.multiply(top, np.float32(1.0 + RIDGE_TOL), out=level)
            np.greater(r, level, out=better)
            # k exceeds every index set so far, so the maximum sets it where better (a masked
            # assignment was 0.7 s of a 2048^2 frame's 1.7)
            np.multiply(better, np.int16(k), out=hit)
            np.maximum(which, hit, out=which)
            np.maximum(top, r, out=top)
        best[y0:y0 + rows, x0:x0 + cols] = top[:rows, :cols]
        angle[y0:y0 + rows, x0:x0 + cols] = which[:rows, :cols]


def filter_response(z: np.ndarray, kernels: list[np.ndarray], *, threads: int = 2,
                    first: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best response over orientations and its angle index (the first kernel winning a tie),
    both (ny, nx), and the first kernel's own response in ``first`` (float32 (ny, nx)) when
    given (:func:`noise_gain`): the correlation of ``z`` with each kernel (zero outside the frame), as
    products of spectra on tiles of ~:data:`TILE` px (:func:`_strip_response`: each tile is
    transformed once for all orientations, then one inverse FFT per orientation; a direct
    filter per orientation transforms the frame every time, twice the work).

    Strips of tiles are shared between ``threads`` threads (numpy and scipy's FFT release the
    GIL); each pixel sees the orientations in the same order whatever the threads, so the
    numbers are those of one loop."""
    half = max(k.shape[0] for k in kernels) // 2
    size = sf.next_fast_len(min(TILE, max(z.shape)) + 2 * half, real=True)
    step = size - 2 * half
    ny, nx = z.shape
    rows = -(-ny // step)
    padded = np.zeros((rows * step + 2 * half, -(-nx // step) * step + 2 * half), dtype=np.float32)
    padded[half:half + ny, half:half + nx] = z
    # a kernel at the origin of its grid: a window's pixel (y, x) is the frame's (y - half, x - half)
    spectra = [np.conj(sf.rfft2(k, s=(size, size))).astype(np.complex64) for k in kernels]
    best = np.empty((ny, nx), dtype=np.float32)
    angle = np.empty((ny, nx), dtype=np.int16)
    def strip(row: int) -> None:
        _strip_response(padded, row, spectra, size, step, best, angle, first)

    if threads < 2 or rows < 2 or z.size < 256 * 256:  # a small frame: threads cost more than they save
        for row in range(rows):
            strip(row)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(strip, range(rows)))
    return best, angle


def ridge_mask(response: np.ndarray, angle: np.ndarray, n_angles: int, ys: np.ndarray,
               xs: np.ndarray) -> np.ndarray:
    """Which of the pixels ``(ys, xs)`` are a maximum of ``response`` across their best line direction.

    Like Canny's non-maximum suppression: a pixel is kept when it is at least as strong as
    its two neighbours (to :data:`RIDGE_TOL`: across a plateau every pixel is ridge, its
    component's axis the trail's centre) along the normal of its best filter orientation (outside the frame
    counts as -inf), which thins the wide band of high response around a bright streak to
    its centre line. Only the given pixels are tested (those above threshold: a few percent
    of a frame), so no frame-sized temporary is made. Returns a bool (n,) array.
    """
    theta = np.arange(n_angles) * np.pi / n_angles
    nx_, ny_ = np.rint(-np.sin(theta)).astype(int), np.rint(np.cos(theta)).astype(int)
    h, w = response.shape
    a = angle[ys, xs]
    dx, dy = nx_[a], ny_[a]
    value = response[ys, xs]
    keep = np.ones(len(ys), dtype=bool)
    for sign in (1, -1):
        yy, xx = ys + sign * dy, xs + sign * dx
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        neighbour = np.full(len(ys), -np.inf, dtype=response.dtype)
        neighbour[inside] = response[yy[inside], xx[inside]]
        keep &= value >= neighbour - RIDGE_TOL * np.abs(value)
    return keep


def candidate_lines(response: np.ndarray, angle: np.ndarray, p: MatchedParams) -> np.ndarray:
    """Candidate segments from the thresholded response, one per component per direction.

    Ridge pixels (:func:`ridge_mask`) above ``threshold`` whose best angle is within one bin of bin ``b`` are labelled
    (8-connected) for every ``b``; a component's line is its response-weighted principal
    axis, spanning the extreme projections of its pixels. Returns (N, 5), score = peak response.
    """
    ys, xs = np.nonzero(response > p.threshold)
    ridge = ridge_mask(response, angle, p.n_angles, ys, xs)
    ys, xs = ys[ridge], xs[ridge]
    if xs.size == 0:
        return empty_segments()
    w = response[ys, xs].astype(np.float64)
    a = angle[ys, xs].astype(int)
    out = []
    for b in range(p.n_angles):
        near = np.abs((a - b + p.n_angles // 2) % p.n_angles - p.n_angles // 2) <= 1
        if np.count_nonzero(near) < p.min_pixels:
            continue
        lab, n = _label_points(xs[near], ys[near], response.shape)
        out.append(_component_lines(xs[near], ys[near], w[near], lab, n, p.min_pixels))
    return np.vstack(out) if out else empty_segments()


def _label_points(xs: np.ndarray, ys: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """8-connected components of the pixels ``(ys, xs)`` (given in raster order), numbered
    1..n in raster order of their first pixel, as ``ndimage.label`` numbers them: from the
    pixel list (a few thousand ridge pixels), not a frame-sized image per direction; with
    ``ndimage.label`` on the frame when the pixels are a sizeable part of it (a frame of hot
    pixels), where that is faster."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(xs)
    if n > 0.002 * shape[0] * shape[1]:
        img = np.zeros(shape, dtype=bool)
        img[ys, xs] = True
        labels, count = ndimage.label(img, structure=np.ones((3, 3), bool))
        return labels[ys, xs], count
    pairs = cKDTree(np.column_stack([xs, ys])).query_pairs(1.5, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    # components numbered by their first pixel (ys, xs come from np.nonzero: raster order)
    first = np.full(comp.max() + 1, n)
    np.minimum.at(first, comp, np.arange(n))
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(1, len(first) + 1)
    return rank[comp], len(first)


def _component_lines(x, y, w, lab, n, min_pixels) -> np.ndarray:
    """Weighted principal axis and extent of every labelled component (vectorised)."""
    count = np.bincount(lab, minlength=n + 1)
    sw = np.bincount(lab, w, n + 1)
    cx, cy = np.bincount(lab, w * x, n + 1) / np.maximum(sw, 1e-12), np.bincount(lab, w * y, n + 1) / np.maximum(sw, 1e-12)
    dx, dy = x - cx[lab], y - cy[lab]
    sxx = np.bincount(lab, w * dx * dx, n + 1)
    syy = np.bincount(lab, w * dy * dy, n + 1)
    sxy = np.bincount(lab, w * dx * dy, n + 1)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    ux, uy = np.cos(theta), np.sin(theta)
    t = dx * ux[lab] + dy * uy[lab]
    tmin = np.full(n + 1, np.inf)
    tmax = np.full(n + 1, -np.inf)
    np.minimum.at(tmin, lab, t)
    np.maximum.at(tmax, lab, t)
    peak = np.zeros(n + 1)
    np.maximum.at(peak, lab, w)
    keep = np.flatnonzero(count >= min_pixels)
    keep = keep[keep > 0]
    return np.column_stack([cx[keep] + tmin[keep] * ux[keep], cy[keep] + tmin[keep] * uy[keep],
                            cx[keep] + tmax[keep] * ux[keep], cy[keep] + tmax[keep] * uy[keep],
                            peak[keep]])


def refine_endpoints(residual: np.ndarray, sigma: float, segs: np.ndarray, p: MatchedParams,
                     hidden: np.ndarray | None = None) -> np.ndarray:
    """Place each segment's ends where its profile along the line drops to the background.

    The profile is sampled every pixel from ``kernel_length / 2`` before the candidate's
    first end to as far beyond its second, weighted across the line by the PSF (so each
    sample has noise ``sigma``) and box-smoothed over ``end_window`` samples. Runs above
    ``end_snr`` separated by at most ``max_gap`` are joined; the joined run with the most
    signal is the streak, and each end moves to the half-maximum of the run's median level.
    ``hidden`` ((ny, nx) bool or numbers, 1 = masked star or bad pixel) marks samples that are
    interpolated from their neighbours rather than read as background, so a star sitting on
    a streak does not cut it. Returns (M, 5) with M <= N (candidates without a run are dropped).
    """
    out = []
    sig = psf_sigma(p.fwhm)
    offsets = np.arange(-np.ceil(2 * sig), np.ceil(2 * sig) + 1)
    g = np.exp(-offsets ** 2 / (2 * sig ** 2))
    g /= np.sqrt(np.sum(g ** 2))
    pad = p.kernel_length / 2 + 2
    m = max(1, int(p.end_window))
    box = np.ones(m) / np.sqrt(m)
    for s in segs:
        p0, p1 = s[:2], s[2:4]
        length = float(np.hypot(*(p1 - p0)))
        if length < 1e-6:
            continue
        u = (p1 - p0) / length
        nrm = np.array([-u[1], u[0]])
        t = np.arange(-pad, length + pad + 0.5)
        pts = p0[None, :] + t[:, None] * u[None, :]
        px = pts[:, 0][:, None] + offsets[None, :] * nrm[0]
        py = pts[:, 1][:, None] + offsets[None, :] * nrm[1]
        coords = [py.ravel(), px.ravel()]
        prof = ndimage.map_coordinates(residual, coords, order=1, mode="constant").reshape(px.shape) @ g / sigma
        if hidden is not None:
            # samples mostly on masked stars/bad pixels carry no information: bridge them
            seen = ndimage.map_coordinates(hidden, coords, order=1, mode="constant",
                                           output=np.float64).reshape(px.shape) @ g ** 2 < 0.5
            if seen.any() and not seen.all():
                prof = np.interp(np.arange(prof.size), np.flatnonzero(seen), prof[seen])
        smooth = np.convolve(prof, box, mode="same")
        run = _best_run(smooth > p.end_snr, smooth, p.max_gap)
        if run is None:
            continue
        i0, i1 = run
        prof_avg = np.convolve(prof, np.ones(m) / m, mode="same")
        level = 0.5 * np.median(prof_avg[i0:i1 + 1])
        mid = (i0 + i1) // 2
        a = p0 + _walk(prof_avg, t, i0, level, -1, mid) * u
        b = p0 + _walk(prof_avg, t, i1, level, +1, mid) * u
        out.append([a[0], a[1], b[0], b[1], s[4]])
    return np.asarray(out, dtype=np.float64).reshape(-1, 5)


def _best_run(on: np.ndarray, weight: np.ndarray, max_gap: float) -> tuple[int, int] | None:
    """(first, last) index of the joined run of ``on`` with the largest summed ``weight``."""
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    if starts.size == 0:
        return None
    # runs separated by at most max_gap samples form one group
    new_group = np.concatenate([[True], starts[1:] - ends[:-1] - 1 > max_gap])
    g_start = starts[new_group]
    g_end = ends[np.concatenate([new_group[1:], [True]])]
    csum = np.concatenate([[0.0], np.cumsum(np.where(on, weight, 0.0))])
    k = int(np.argmax(csum[g_end + 1] - csum[g_start]))
    return int(g_start[k]), int(g_end[k])


def _walk(profile: np.ndarray, t: np.ndarray, i: int, level: float, step: int, limit: int) -> float:
    """Position ``t`` where ``profile`` crosses ``level`` going outwards (``step``) from index
    ``i``: move outwards while the next sample is still above the level, inwards (towards
    ``limit``) while below, then interpolate linearly between the last sample above and the
    next one: the half-maximum crossing, to a fraction of a pixel."""
    n = len(profile)
    while 0 <= i + step < n and profile[i + step] >= level:
        i += step
    while i != limit and profile[i] < level:
        i -= step
    j = i + step
    if not 0 <= j < n or profile[i] <= profile[j]:
        return float(t[i])
    frac = (profile[i] - level) / (profile[i] - profile[j])
    return float(t[i] + frac * (t[j] - t[i]))


BINNED_THRESHOLD = 0.85  # the candidate threshold on a 2 x 2 binned frame, relative to ``threshold``


def bin2(z: np.ndarray) -> np.ndarray:
    """2 x 2 sums / 2 of a noise-normalised frame (an odd last row or column dropped): white
    noise of unit variance keeps unit variance, a line's matched-filter SNR is nearly kept."""
    ny, nx = (z.shape[0] // 2) * 2, (z.shape[1] // 2) * 2
    out = cv2.resize(z[:ny, :nx], (nx // 2, ny // 2), interpolation=cv2.INTER_AREA)
    out *= np.float32(2.0)
    return out


def binned_params(p: MatchedParams) -> MatchedParams:
    """The search parameters on a 2 x 2 binned frame: filters half as long, the PSF's sigma
    halved and widened by the bins' own width (a 2-px box: variance 1/12 binned px^2), half
    as many ridge pixels to a candidate, and the threshold x :data:`BINNED_THRESHOLD`: on the
    coarser grid a faint trail at the threshold loses up to ~15 % of its filter SNR (a
    2048^2 frame's trail at 5 sigma per kernel length was lost at 0.9), and every candidate is
    measured again at full resolution (endpoints, line SNR, ``min_snr``)."""
    import dataclasses

    sig = np.sqrt((psf_sigma(p.fwhm) / 2) ** 2 + 1 / 12)
    return dataclasses.replace(p, kernel_length=max(3, int(round(p.kernel_length / 2))),
                               fwhm=float(sig * FWHM_PER_SIGMA), min_pixels=max(1, int(round(p.min_pixels / 2))),
                               threshold=p.threshold * BINNED_THRESHOLD)


def detect_matched(image: np.ndarray, mask: np.ndarray | None = None, *,
                   static_stars: np.ndarray | None = None, params: MatchedParams | None = None,
                   sky_rms: float | None = None) -> np.ndarray:
    """Find streaks in one frame with oriented matched filters (see the module docstring).

    Parameters
    ----------
    image : (ny, nx) float frame without NaN (``frame.clean``).
    mask : (ny, nx) bool, True = bad pixel.
    static_stars : (ny, nx) bool star mask found once for the whole sequence, e.g.
        ``star_mask(median_of_frames)``; added to the stars found in this frame.
    params : detector parameters (defaults when None).
    sky_rms : the noise rms of ``image`` when it is background-subtracted already
        (:func:`.clean.prepare`'s ``sky_rms``): no background model of its own then.

    Returns
    -------
    (N, 5) float64 ``(x1, y1, x2, y2, score)``: left endpoint first, pixels (0-based, x =
    column, y = row); ``score`` is the line SNR of the streak on the star-free residual.
    """
    p = params or MatchedParams()
    if sky_rms is None:
        residual, sigma = subtract_background(image, mask)
    else:
        residual, sigma = np.array(image, dtype=np.float32, copy=True), float(sky_rms)
        if mask is not None:
            residual[mask] = 0.0
    stars = _star_mask(residual, sigma, mask, p)
    if static_stars is not None:
        stars |= static_stars
    residual[stars] = 0.0
    binned = p.bin_size > 0 and min(image.shape) >= p.bin_size
    if binned:  # by bands of rows: no full-size copy of the frame on the way to the binned one
        z, search = np.empty((residual.shape[0] // 2, residual.shape[1] // 2), np.float32), binned_params(p)
        for y0 in range(0, 2 * z.shape[0], 512):
            band = np.divide(residual[y0:min(y0 + 512, 2 * z.shape[0])], sigma, dtype=np.float32)
            z[y0 // 2:y0 // 2 + band.shape[0] // 2] = bin2(np.clip(band, -p.clip_snr, p.clip_snr, out=band))
    else:
        z = np.divide(residual, sigma, dtype=np.float32)  # in place from here: one float32 frame, not three
        np.clip(z, -p.clip_snr, p.clip_snr, out=z)
        search = p
    kernels = line_kernels(search.kernel_length, psf_sigma(search.fwhm), p.n_angles)
    first = np.empty(z.shape, np.float32)
    response, angle = filter_response(z, kernels, first=first)
    del z
    # the filters are linear: the responses of z / gain are the responses of z over gain
    gain = noise_gain(first)
    del first
    sigma *= gain
    response /= np.float32(gain)
    cands = candidate_lines(response, angle, search)
    del response, angle
    if len(cands) == 0:
        return empty_segments()
    if binned:  # binned pixel (i, j) is full pixels 2i, 2i + 1: its centre is at 2i + 0.5
        cands[:, :4] = 2.0 * cands[:, :4] + 0.5
    cands = merge_collinear(cands, angle_tol=p.angle_tol, dist_tol=p.dist_tol, max_gap=p.max_gap)
    zres = np.clip(residual, -p.clip_snr * sigma, p.clip_snr * sigma, out=residual)  # not needed unclipped any more
    hidden = stars if mask is None else stars | mask
    # as bytes (a view): a float copy of the frame for a few samples along the candidates was 4 bytes a pixel
    segs = refine_endpoints(zres, sigma, cands, p, hidden=hidden.view(np.uint8))
    if len(segs) == 0:
        return empty_segments()
    segs = clamp_endpoints(segs, image.shape)
    segs[:, 4] = line_snr(zres, sigma, segs)
    segs = merge_collinear(segs, angle_tol=p.angle_tol, dist_tol=p.dist_tol, max_gap=p.max_gap)
    segs[:, 4] = line_snr(zres, sigma, segs)
    segs = segs[np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]) >= p.min_length]
    segs = explain_away(zres, sigma, segs, radius=p.fwhm + 1.0, min_snr=p.min_snr)
    return left_endpoint_first(segs)
