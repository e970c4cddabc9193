"""Points in a block of staring-mode frames: stack + segmentation, and [GEO] sec. 5 single-frame
verification of the candidates on cut-outs (hot pixels, noise and star residuals are rejected).

``config`` is the staring-mode config (:class:`debristrack.pipeline.stare.Config`): only its
attributes are read. Pixel convention: 0-based, ``x`` the column, ``y`` the row.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..geometry import FWHM_PER_SIGMA_4
from .segmentation import Significance, Sources, segment, significance
from .stacking import stack_frames

# stacking rule of each staring-mode method
STACK_RULE = {"minstack": "min", "medianstack": "median", "meanstack": "mean"}

def detect_stack(frames, *, method: str, config, work: np.ndarray | None = None,
                 local_max_done: bool = False) -> tuple[Sources, Significance]:
    """Candidates in one block: stack, significance, segmentation ([GEO] sec. 3).

    Parameters
    ----------
    frames : sequence of T float32 (ny, nx) frames (NaN = no value).
    work : optional float32 (4, ny, nx) scratch reused from block to block (fresh large
        arrays cost page faults, a noticeable part of the time on 4096x4096 frames).
    local_max_done : the frames are already the local maxima of the min rule
        (:func:`debristrack.detect.stacking.local_max` with ``config.local_radius``).

    Returns
    -------
    (sources, significance of the stack); the significance lives in ``work``.
    """
    stack = STACK_RULE[method]
    if work is None:
        work = np.empty((4,) + frames[0].shape, np.float32)
    radius = config.local_radius if stack == "min" and not local_max_done else 0
    stacked = stack_frames(frames, stack=stack, local_radius=radius,
                           min_valid=config.min_valid, out=work[0], scratch=work[1])
    sig = significance(stacked, fwhm=config.fwhm, mesh=config.mesh, threshold=config.threshold_mode,
                       out=work[2])
    sources = segment(sig, threshold=config.threshold, min_area=config.min_area, max_area=config.max_area,
                      deblend_dip=config.deblend_dip, min_separation=config.min_separation, scratch=work[3])
    return sources, sig



@dataclass(frozen=True)
class Verified:
    """Single-frame measurements of a block's candidates: (n,) or (n, T) arrays.

    ``x``, ``y``: per-frame centroid, px; ``flux``: per-frame PSF-fit flux (image units);
    ``flux_err``: its noise; ``ok``: per-frame position agrees with the stack's;
    ``keep``: the candidate passed verification; ``sharpness``: neighbour/peak ratio;
    ``xb``, ``yb``: the block position (median of the agreeing frames); ``score``: stack
    significance.
    """

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    ok: np.ndarray
    keep: np.ndarray
    sharpness: np.ndarray
    xb: np.ndarray
    yb: np.ndarray
    score: np.ndarray


def cutouts(frames, x: np.ndarray, y: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Square cut-outs around (x, y) from every frame, clipped at the frame edge.

    Returns
    -------
    cut : float32 (n, T, S, S), S = 2 radius + 1; xs, ys : (n, S) pixel coordinates of the
    cut-out columns and rows.
    """
    ny, nx = frames[0].shape
    d = np.arange(-radius, radius + 1)
    ys = np.clip(np.rint(y).astype(int)[:, None] + d, 0, ny - 1)
    xs = np.clip(np.rint(x).astype(int)[:, None] + d, 0, nx - 1)
    cut = np.stack([f[ys[:, :, None], xs[:, None, :]] for f in frames], axis=1)
    return cut, xs, ys


def verify(frames, sources: Sources, *, config) -> Verified:
    """[GEO] sec. 5 single-frame verification of stack candidates, on cut-outs only.

    For each candidate and frame: the local background is the median of the cut-out's
    border, the noise the median over frames of the borders' MAD; the position is a Gaussian-windowed
    centroid (window sigma = FWHM / 2.355) iterated from the stack position, kept within
    ``cutout_radius - 1`` px; the flux is the PSF-weighted (optimal) flux at that position.
    A candidate is kept when:

    - its spot has a point-source shape on the per-pixel median of the block's cut-outs:
      the mean of the 8 neighbours of the brightest central pixel is at least
      ``min_sharpness`` times that pixel (a hot pixel, fixed like a GEO target, has ~0; a
      Gaussian of FWHM 2.5 px has ~0.5), a dark- and flat-free rule, and at most
      ``max_sharpness`` (flat, extended structure such as a cloud edge has ~1);
    - its central pixel is valid (not NaN) in at least ``min_valid`` frames;
    - the mean single-frame flux (frames no star crosses) has an SNR of at least
      ``verify_snr``, and the candidate lies at least ``edge`` px inside the frame;
    - "grayscale consistency": a frame is *steady* when its flux is within 4 sigma + 50 %
      of the star-free brightness (the median of the low cluster of the per-frame fluxes:
      a star crossing the target only adds light, and the min stack shows the target
      without it); at least a third of the frames (one at least) must be steady;
    - "positional correlation": in at least ``min_consistent`` of the steady frames the
      centroid lies within ``max_offset`` px of the stack position and the flux is positive.

    Parameters
    ----------
    frames : sequence of T float32 (ny, nx) frames of the block.
    sources : the block's candidates (:func:`detect_stack`).
    """
    n, T = len(sources), len(frames)
    r = config.cutout_radius
    cut, xs, ys = cutouts(frames, sources.x, sources.y, r)
    S = 2 * r + 1
    edge = np.ones((S, S), bool)
    edge[1:-1, 1:-1] = False
    border = cut[:, :, edge]  # (n, T, 4S-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cut-out borders
        back = np.nanmedian(border, axis=2)  # (n, T)
        # Per-frame MAD, then the median over frames: a star trailing through the border of
        # one frame does not inflate the noise of the others.
        sigma = np.nanmedian(1.4826 * np.nanmedian(np.abs(border - back[:, :, None]), axis=2), axis=1)
    valid = np.isfinite(cut[:, :, r - 1:r + 2, r - 1:r + 2]).all(axis=(2, 3))  # (n, T) frames with data
    centre_valid = valid.sum(axis=1)
    sub = np.nan_to_num(cut - back[:, :, None, None], nan=0.0)
    coadd = np.median(sub, axis=1)  # (n, S, S)
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 1.0)

    # Shape: neighbours / peak around the brightest of the central 3x3 pixels.
    centre = coadd[:, r - 1:r + 2, r - 1:r + 2].reshape(n, 9)
    best = np.argmax(centre, axis=1)
    cy, cx = r - 1 + best // 3, r - 1 + best % 3
    idx = np.arange(n)
    peak = coadd[idx, cy, cx]
    ring = sum(coadd[idx, cy + dy, cx + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx) / 8.0
    sharpness = np.where(peak > 0, ring / np.where(peak > 0, peak, 1.0), 0.0)

    # Per-frame windowed centroid and PSF flux.
    s_w = config.fwhm / FWHM_PER_SIGMA_4
    X = xs[:, None, None, :].astype(np.float64)  # (n, 1, 1, S)
    Y = ys[:, None, :, None].astype(np.float64)  # (n, 1, S, 1)
    x0 = np.broadcast_to(sources.x[:, None], (n, T)).astype(np.float64)
    y0 = np.broadcast_to(sources.y[:, None], (n, T)).astype(np.float64)
    xc, yc = x0.copy(), y0.copy()
    pos = np.clip(sub, 0.0, None)
    for _ in range(6):
        w = np.exp(-((X - xc[:, :, None, None]) ** 2 + (Y - yc[:, :, None, None]) ** 2) / (2 * s_w**2)) * pos
        wsum = w.sum(axis=(2, 3))
        good = wsum > 0
        nx_ = np.where(good, (w * X).sum(axis=(2, 3)) / np.where(good, wsum, 1), xc)
        ny_ = np.where(good, (w * Y).sum(axis=(2, 3)) / np.where(good, wsum, 1), yc)
        xc = np.clip(nx_, x0 - (r - 1), x0 + (r - 1))
        yc = np.clip(ny_, y0 - (r - 1), y0 + (r - 1))
    g = np.exp(-((X - xc[:, :, None, None]) ** 2 + (Y - yc[:, :, None, None]) ** 2) / (2 * s_w**2))
    g /= 2 * np.pi * s_w**2
    g2 = (g**2).sum(axis=(2, 3))
    flux = np.where(valid, (g * sub).sum(axis=(2, 3)) / g2, np.nan)

    flux_err = sigma[:, None] / np.sqrt(g2)
    # The star-free brightness is the low cluster of the per-frame fluxes (a star crossing
    # the target only adds light), as in the min stack; frames far above it are crossed.
    tol = lambda ref: 4 * flux_err + 0.5 * np.abs(ref)  # noqa: E731
    low = np.nanmin(np.where(valid, flux, np.inf), axis=1, keepdims=True)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a candidate with no valid frame
        f_ref = np.nanmedian(np.where(flux <= low + tol(low), flux, np.nan), axis=1, keepdims=True)
        steady = np.abs(flux - f_ref) <= tol(f_ref)
    ok = (np.hypot(xc - x0, yc - y0) <= config.max_offset) & (flux > 0) & steady
    # Brightness over the block's single frames: mean flux of the frames no star crosses.
    n_steady = np.maximum(steady.sum(axis=1), 1)
    mean_flux = np.where(steady, flux, 0.0).sum(axis=1) / n_steady
    block_snr = mean_flux / (np.median(flux_err, axis=1) / np.sqrt(n_steady))
    ny, nx = frames[0].shape
    inside = ((sources.x >= config.edge) & (sources.x <= nx - 1 - config.edge)
              & (sources.y >= config.edge) & (sources.y <= ny - 1 - config.edge))
    keep = (inside & (block_snr >= config.verify_snr)
            & (sharpness >= config.min_sharpness) & (sharpness <= config.max_sharpness)
            & (centre_valid >= min(config.min_valid, T))
            & (steady.sum(axis=1) >= max(1, math.ceil(T / 3)))
            & (ok.sum(axis=1) >= config.min_consistent * steady.sum(axis=1)))
    any_ok = ok.any(axis=1)
    xm = np.where(ok, xc, np.nan)
    ym = np.where(ok, yc, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        xb = np.where(any_ok, np.nanmedian(xm, axis=1), sources.x)
        yb = np.where(any_ok, np.nanmedian(ym, axis=1), sources.y)
    return Verified(x=xc, y=yc, flux=flux, flux_err=flux_err, ok=ok, keep=keep, sharpness=sharpness,
                    xb=xb, yb=yb, score=sources.peak.astype(np.float64))



def with_forced(sources: Sources, track_pos: np.ndarray, sig: Significance, *, config) -> Sources:
    """Add the known tracks' positions that no new source is near, as forced candidates.

    A confirmed target is measured in every block even when its stack significance falls
    below ``threshold`` (it stays above ``forced_threshold``, the best of the 3x3 pixels).
    """
    if len(track_pos) == 0:
        return sources
    if len(sources):
        d = np.hypot(track_pos[:, None, 0] - sources.x[None, :], track_pos[:, None, 1] - sources.y[None, :])
        lone = d.min(axis=1) > config.link_radius
    else:
        lone = np.ones(len(track_pos), bool)
    pos = track_pos[lone]
    if len(pos) == 0:
        return sources
    ny, nx = sig.shape
    xi = np.clip(np.rint(pos[:, 0]).astype(np.int64)[:, None] + np.array([-1, 0, 1]), 0, nx - 1)
    yi = np.clip(np.rint(pos[:, 1]).astype(np.int64)[:, None] + np.array([-1, 0, 1]), 0, ny - 1)
    peak = sig.at((yi[:, :, None] * nx + xi[:, None, :]).reshape(-1)).reshape(len(pos), -1).max(axis=1)
    ok = peak >= config.forced_threshold
    forced = Sources(pos[ok, 0], pos[ok, 1], peak[ok], np.zeros(ok.sum(), np.int64),
                     np.full(ok.sum(), -1, np.int64))
    return Sources(*(np.concatenate([getattr(sources, f), getattr(forced, f)])
                     for f in ("x", "y", "peak", "area", "label")))

