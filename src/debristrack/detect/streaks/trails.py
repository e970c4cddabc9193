"""The real-sky front end of a streak detector: what a frame goes through around it.

:func:`detect_candidates` runs one detector on one frame as a user's frame needs it:

0. a frame mostly saturated or dead is skipped;
1. the static sky is removed when the caller has it (:mod:`.static_sky`, in a sequence);
2. impulses, skewed noise and stripes are cleaned (:func:`.clean.prepare`);
3. the detector runs on that residual; in a sequence (static sky removed) a Radon search on
   the binned residual adds the long trails too faint for the detector's short line filter
   (:func:`long_lines`);
4. every candidate is judged by the trail validator (:func:`.validate.validated`) against
   the frame's own PSF and saturated stars, parallel duplicates of wide trails are removed,
   and straight pieces of one curved trail are rejected (:func:`.validate.curved_chains`).

The rejection reasons are returned, so a benchmark can count them, and the rejected
candidates themselves: the physical
linker (:mod:`debristrack.track.physical`) accepts one where a moving object's track
predicts it (a trail's piece cut by the frame edge, crossed by another trail, or faint).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from .background import subtract_background
from .clean import prepare, robust_sigma
from .geometry import as_segments, empty_segments, merge_collinear
from .validate import ValidatorParams, curved_chains, frame_fwhm, saturated_cores, validated


@dataclass(frozen=True)
class FrameFacts:
    """What the front end needs of the frame itself rather than of its residual, measured once
    (:func:`frame_facts`; in a sequence in the frame loop's read-ahead thread, from the
    background the static sky window computed for the frame): whether it is unusable (mostly
    saturated or dead), its PSF FWHM from its own stars and its saturated cores ``(K, 3)``."""

    unusable: bool
    fwhm: float
    saturated: np.ndarray


def unusable_frame(image: np.ndarray, mask: np.ndarray | None, max_bad: float = 0.5) -> bool:
    """More than ``max_bad`` of the frame bad (masked, or at the frame maximum = saturated, even
    where the plateau is most of the frame and the bad-pixel mask does not call it one)."""
    top = np.asarray(image) >= np.max(image)
    return bool((top if mask is None else mask | top).mean() > max_bad)


def frame_facts(image: np.ndarray, mask: np.ndarray | None, *, own: tuple[np.ndarray, float] | None = None,
                saturation: float | None = None, default_fwhm: float = 2.5, max_bad: float = 0.5,
                objects: np.ndarray | None = None) -> FrameFacts:
    """:class:`FrameFacts` of one frame (``frame.clean``); ``own``: its background-subtracted
    pixels and noise (:func:`.background.subtract_background`) and ``objects`` its bright
    objects (:func:`~debristrack.detect.extract.bright_objects`), when computed already."""
    if unusable_frame(image, mask, max_bad):
        return FrameFacts(True, float(default_fwhm), np.zeros((0, 3)))
    sub, sigma = own if own is not None else subtract_background(image, mask)
    return FrameFacts(False, frame_fwhm(sub, sigma, mask=mask, default=default_fwhm, objects=objects),
                      saturated_cores(image, saturation))


class Candidates(NamedTuple):
    """One frame's :func:`detect_candidates`: validated ``trails`` (M, 5), the ``rejected``
    candidates (K, 5), the rejection ``reasons``, which rejected ones are only ``short``
    (K,) bool, and the ``residual`` the detector searched (the cleaned static-sky residual or
    frame; None for an unusable frame) with its noise ``sigma``, for measurements where a
    track predicts a streak."""

    trails: np.ndarray
    rejected: np.ndarray
    reasons: Counter
    short: np.ndarray
    residual: np.ndarray | None
    sigma: float


def detect_candidates(image: np.ndarray, mask: np.ndarray | None,
                      detector: Callable[[np.ndarray, np.ndarray | None, float | None], np.ndarray],
                      *, static_residual: np.ndarray | None = None, saturation: float | None = None,
                      default_fwhm: float = 2.5, params: ValidatorParams | None = None,
                      max_bad: float = 0.5, facts: FrameFacts | None = None,
                      cleaned: dict | None = None) -> Candidates:
    """Validated trails of one frame, the candidates the validator rejected, and the reasons.

    Parameters
    ----------
    image : (ny, nx) the frame (``frame.clean``). mask : its bad pixels.
    detector : ``detector(residual, mask, sky_rms) -> (N, 5)`` segments (e.g. :func:`.matched.detect_matched`);
        ``residual`` is background-subtracted, with noise rms ``sky_rms`` when that is known (else None).
    static_residual : the frame minus its static sky (:func:`.static_sky.static_sky_residuals`),
        or None for a single frame.
    saturation : saturation level (header SATURATE), None = a plateau at the frame maximum.
    default_fwhm : PSF FWHM when the frame has too few stars to measure it.
    max_bad : a frame with more than this fraction of bad (saturated, dead) pixels gives no
        trail (reason ``unusable_frame``: the sky of a NEOSSat sequence climbs to saturation).
    facts : the frame's :func:`frame_facts`, when measured already (then ``image`` is not read
        when ``static_residual`` is given, and may be None).
    cleaned : :func:`.clean.prepare`'s information when ``static_residual`` went through
        ``prepare(static=True)`` already (the frame loop does it in the static sky window's
        thread, :class:`~debristrack.detect.streaks.static_sky.Sky`'s ``cleaned``).

    Returns
    -------
    :class:`Candidates`: (M, 5) trails ``x1, y1, x2, y2, score``, (K, 5) rejected candidates
    (for a linker that accepts them only where a moving object's physics predicts them), a
    Counter of the rejection reasons, (K,) bool: which candidates were rejected only for
    being short (``blob``: the streak of a slow object looks so in one frame; its motion over
    a few frames tells), and the residual searched with its noise.
    """
    # a saturated or dead frame: nothing in it can be measured
    if facts.unusable if facts is not None else unusable_frame(image, mask, max_bad):
        return Candidates(empty_segments(), empty_segments(), Counter({"unusable_frame": 1}), np.zeros(0, bool),
                          None, 0.0)
    if cleaned is not None and static_residual is not None:
        prepared, info = static_residual, cleaned
    else:
        prepared, info = prepare(image if static_residual is None else static_residual, mask,
                                 static=static_residual is not None)
    segs = detector(prepared, mask, info["sky_rms"])
    sigma = info["sigma"]
    if static_residual is not None:  # the stars are gone: a long faint line integral means something
        extra = long_lines(prepared, mask, sigma, known=segs)
        if len(extra):  # a line integral's stretch can continue a piece the detector found: one trail
            segs = merge_collinear(np.vstack([as_segments(segs), extra]), angle_tol=2.0, dist_tol=2.5,
                                   max_gap=10.0) if len(segs) else extra
    if len(segs) == 0:
        return Candidates(empty_segments(), empty_segments(), Counter(), np.zeros(0, bool), prepared, sigma)
    known = dict(fwhm=facts.fwhm, saturated=facts.saturated) if facts is not None else {}
    kept, verdicts = validated(image, mask, segs, saturation=saturation, default_fwhm=default_fwhm, params=params,
                               residual=(prepared, sigma), **known)
    counts = verdicts.counts()
    rejected = as_segments(segs)[~verdicts.keep]
    short = verdicts.reason[~verdicts.keep] == "blob"
    bent = curved_chains(kept)
    if bent.any():
        counts["curved"] += int(bent.sum())
        rejected = np.vstack([rejected, kept[bent]])
        short = np.concatenate([short, np.zeros(int(bent.sum()), bool)])
        kept = kept[~bent]
    return Candidates(kept, rejected, counts, short, prepared, sigma)


def long_lines(residual: np.ndarray, mask: np.ndarray | None, sigma: float, *, known: np.ndarray | None = None,
               binning: int = 4, min_length: float = 300.0, threshold: float = 12.0, max_lines: int = 3) -> np.ndarray:
    """Long straight trails too faint for a short line filter: ``(K, 5)`` segments.

    A trail of crest SNR 0.7 per pixel is lost by a 21 px line filter (SNR ~3) but stands out
    in its line integral over 1000 px (SNR ~20): the Radon transform (sums along every line)
    of the residual, clipped to +-3 sigma (no star or hot pixel adds more than a faint trail's
    worth per pixel) and binned ``binning`` x ``binning`` (more on frames over 1024 px: ~256 bins a side), normalised by the noise of each sum,
    over lines at least ``min_length`` px long; peaks above ``threshold`` (some 10^5 lines are
    tried per frame and NEOSSat's hot-pixel noise has heavy tails: 12, where the faint trail of
    real-dev's Leonard sequence gives 17 and its noise at most ~10; at most
    ``max_lines``, each line's neighbours within 3 deg / 3 bins suppressed) are refined at full
    resolution (angle, offset) and cut to the stretch that carries signal. The trail validator
    judges them like every candidate. The pixels within 6 px of the ``known`` candidates (the
    detector's) are left out: a found trail is not searched again.
    """
    r = np.clip(np.asarray(residual, dtype=np.float32), -3.0 * sigma, 3.0 * sigma)
    if mask is not None:
        r[mask] = 0.0
    ny, nx = r.shape
    for seg in as_segments(known) if known is not None and len(known) else []:
        x0, x1 = int(max(0, min(seg[0], seg[2]) - 7)), int(min(nx, max(seg[0], seg[2]) + 8))
        y0, y1 = int(max(0, min(seg[1], seg[3]) - 7)), int(min(ny, max(seg[1], seg[3]) + 8))
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        a, d = seg[0:2], seg[2:4] - seg[0:2]
        t = np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / max(float(d @ d), 1e-9), 0.0, 1.0)
        near = np.hypot(xx - a[0] - t * d[0], yy - a[1] - t * d[1]) <= 6.0
        r[y0:y1, x0:x1][near] = 0.0
    b = max(int(binning), int(round(max(ny, nx) / 256)))  # at most ~256 bins a side: the cost stays flat
    my, mx = ny // b, nx // b
    if my < 4 or mx < 4 or max(ny, nx) < min_length:
        return empty_segments()
    binned = r[:my * b, :mx * b].reshape(my, b, mx, b).mean(axis=(1, 3))
    # a faint trail sits on background structure of its own size and more (a NEOSSat residual
    # has +-0.3 sigma patches): only what is narrower than 5 bins is kept
    binned = (binned - ndimage.uniform_filter(binned, size=5, mode="nearest")).ravel()
    sig_b = robust_sigma(binned)
    thetas, diag, norm, short = _radon_lines(my, mx, b, float(min_length))
    snr = np.empty(norm.shape)
    rho, idx = np.empty((my, mx)), np.empty((my, mx), np.intp)
    for k, th in enumerate(thetas):
        _bin_rho(my, mx, th, rho, idx)
        idx += diag
        snr[k] = np.bincount(idx.ravel(), binned, minlength=2 * diag)
    snr *= norm / sig_b
    snr[short] = -np.inf
    out = []
    for _ in range(max_lines):
        k, j = np.unravel_index(int(np.argmax(snr)), snr.shape)
        peak = float(snr[k, j])
        if not peak > threshold:
            break
        dk = np.arange(k - 6, k + 7) % len(thetas)
        snr[dk, max(0, j - 3):j + 4] = -np.inf
        seg = _refined_line(r, sigma, thetas[k], (j - diag) * b, b)
        if seg is not None:
            out.append([*seg, peak])
    return np.asarray(out, dtype=np.float64).reshape(-1, 5) if out else empty_segments()


def _bin_rho(my: int, mx: int, theta: float, rho: np.ndarray, idx: np.ndarray) -> None:
    """Each bin centre's ``x cos(theta) + y sin(theta)`` rounded, into ``idx`` (``(my, mx)``,
    ``rho`` its float64 scratch): a column of y terms plus a row of x terms, the same numbers
    as the products bin by bin."""
    np.add(((np.arange(my) + 0.5) * np.sin(theta))[:, None], ((np.arange(mx) + 0.5) * np.cos(theta))[None, :],
           out=rho)
    np.rint(rho, out=rho)
    idx[...] = rho


@functools.lru_cache(maxsize=4)
def _radon_lines(my: int, mx: int, b: int, min_length: float) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """The lines :func:`long_lines` sums, which depend on the grid alone (the same for every
    frame of a sequence): the angles (0.5 deg apart), the offset of rho's bins, per angle and
    rho bin ``1 / sqrt(count)`` (the noise of a sum of ``count`` bins, for its SNR) and whether
    the line has fewer than ``min_length`` px of the frame (not searched)."""
    thetas = np.radians(np.arange(0.0, 180.0, 0.5))
    diag = int(np.ceil(np.hypot(mx, my))) + 2
    norm = np.zeros((len(thetas), 2 * diag))
    rho, idx = np.empty((my, mx)), np.empty((my, mx), np.intp)
    for k, th in enumerate(thetas):
        _bin_rho(my, mx, th, rho, idx)
        count = np.bincount(idx.ravel() + diag, minlength=2 * diag)
        ok = (count > 0) & (count * b >= min_length)
        norm[k, ok] = 1.0 / np.sqrt(count[ok])
    short = norm == 0
    for a in (norm, short):
        a.setflags(write=False)
    return thetas, diag, norm, short


def _chord(theta: float, rho: float, nx: int, ny: int):
    """Ends of the line x cos(theta) + y sin(theta) = rho inside the (nx, ny) frame, or None."""
    c, s = np.cos(theta), np.sin(theta)
    p0 = np.array([rho * c, rho * s])
    u = np.array([-s, c])
    lo, hi = -np.inf, np.inf
    for k, n in ((0, nx - 1), (1, ny - 1)):
        if abs(u[k]) < 1e-12:
            if not 0 <= p0[k] <= n:
                return None
            continue
        a, bb = sorted(((0 - p0[k]) / u[k], (n - p0[k]) / u[k]))
        lo, hi = max(lo, a), min(hi, bb)
    return None if hi - lo < 2 else (p0 + lo * u, p0 + hi * u)


def _sample(r: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Nearest-pixel values of ``r`` at ``pts`` ``(N, 2)`` x, y (clamped to the frame)."""
    ny, nx = r.shape
    return r[np.clip(np.round(pts[:, 1]).astype(int), 0, ny - 1), np.clip(np.round(pts[:, 0]).astype(int), 0, nx - 1)]


def _refined_line(r: np.ndarray, sigma: float, theta: float, rho: float, b: int):
    """The Radon peak's line refined at full resolution (angle within 0.6 deg, offset within a
    bin: the largest mean along the chord) and cut to its longest stretch with signal
    (128 px running mean above 2.5 sigma of that mean, gaps under 128 px closed): ``(x1, y1, x2, y2)`` or None."""
    ny, nx = r.shape
    best = None
    for dth in np.radians(np.arange(-0.6, 0.61, 0.2)):
        for drho in np.arange(-b, b + 1, 2.0):
            ch = _chord(theta + dth, rho + drho + 0.5 * b * (np.cos(theta) + np.sin(theta)) - 0.5, nx, ny)
            if ch is None:
                continue
            a, e = ch
            n = int(np.hypot(*(e - a)))
            t = np.linspace(0.0, 1.0, max(n, 2))
            pts = a[None, :] + t[:, None] * (e - a)[None, :]
            side = 8.0 * np.array([-(e - a)[1], (e - a)[0]]) / max(n, 1)
            # the crest above the mean of two parallel lines 8 px away: a ridge, not a patch of sky
            v = _sample(r, pts) - 0.5 * (_sample(r, pts + side) + _sample(r, pts - side))
            score = float(v.mean()) * np.sqrt(len(v))
            if best is None or score > best[0]:
                best = (score, pts, v)
    if best is None:
        return None
    _, pts, v = best
    w = 128
    if len(v) < w:
        return None
    run = np.convolve(v, np.ones(w) / w, mode="same")
    on = run > 2.5 * 1.22 * sigma / np.sqrt(w)  # the noise of crest - mean of sides
    # a trail's brightness varies along it (tumbling): stretches less than a window apart are one
    on = ndimage.binary_closing(on, structure=np.ones(w, bool)) | on
    if not on.any():
        return None
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(int), [0]])))
    starts, ends = edges[::2], edges[1::2]
    k = int(np.argmax([v[a:e].sum() for a, e in zip(starts, ends)]))
    i0, i1 = starts[k], ends[k] - 1
    return (*pts[i0], *pts[i1])
