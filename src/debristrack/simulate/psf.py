"""Point-spread functions and the drawing of points, trails and line sources into small stamps.

Every source is a segment from ``(x0, y0)`` to ``(x1, y1)`` (a point when both ends coincide)
of width ``w`` (a rectangle, [SDT] sec. 3.2.1), convolved with the PSF ([SDT] eq. 6). A star
trailed during the exposure is such a segment of width 0. Sources are evaluated in small
stamps around each segment and added to the frame with one ``bincount`` per batch, never as
full-frame functions per source.

Pixel convention: 0-based, ``x`` = column, ``y`` = row, the centre of the first pixel is
(0, 0). Values are the PSF sampled at pixel centres (no sub-pixel integration, a fair
approximation for FWHM >= 1.5 px) times the flux, so the sum over pixels is the flux.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
from scipy.special import erf

from ..geometry import FWHM_PER_SIGMA

_MAX_STAMP_ELEMENTS = 4_000_000  # bounds the memory of one batch of stamps


def moffat_alpha(fwhm: float, beta: float) -> float:
    """Moffat core width ``alpha`` (px) for a given FWHM (px) and ``beta``."""
    return fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))


def noise_equivalent_area(fwhm: float, *, psf: str = "gaussian", beta: float = 2.5) -> float:
    """Noise-equivalent area ``1 / sum(p**2)`` of a point source in px^2.

    Gaussian: ``4 pi sigma^2``. Moffat: ``pi alpha^2 (2 beta - 1) / (beta - 1)^2``.
    """
    if psf == "gaussian":
        sigma = fwhm / FWHM_PER_SIGMA
        return 4.0 * math.pi * sigma**2
    alpha = moffat_alpha(fwhm, beta)
    return math.pi * alpha**2 * (2.0 * beta - 1.0) / (beta - 1.0) ** 2


def _box_gauss(u: np.ndarray, length: np.ndarray, sigma: float) -> np.ndarray:
    """1-D density of a box of ``length`` (centred on 0) convolved with a Gaussian ``sigma``.

    ``length`` broadcasts against ``u``; a zero length gives the Gaussian itself.
    """
    length = np.broadcast_to(length, u.shape) if np.ndim(length) else np.full(u.shape, length)
    out = np.empty(u.shape, dtype=np.float64)
    thin = length < 1e-3 * sigma
    out[thin] = np.exp(-0.5 * (u[thin] / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))
    wide = ~thin
    if wide.any():
        uu, ll = u[wide], length[wide]
        k = 1.0 / (math.sqrt(2.0) * sigma)
        out[wide] = (erf((uu + ll / 2) * k) - erf((uu - ll / 2) * k)) / (2.0 * ll)
    return out


def _stamp_batches(x0, y0, x1, y1, width, radius: float) -> Iterator[tuple[np.ndarray, int, int]]:
    """Group sources by stamp size; yield (indices, stamp height, stamp width)."""
    half_w = np.ceil(np.abs(x1 - x0) / 2 + width / 2 + radius).astype(int) + 1
    half_h = np.ceil(np.abs(y1 - y0) / 2 + width / 2 + radius).astype(int) + 1
    # Round sizes up to a multiple of 4 so that similar sources share one batch.
    key_w = (half_w + 3) // 4 * 4
    key_h = (half_h + 3) // 4 * 4
    keys = key_h * 100_000 + key_w
    for key in np.unique(keys):
        idx = np.flatnonzero(keys == key)
        h, w = 2 * int(key // 100_000) + 1, 2 * int(key % 100_000) + 1
        per = max(1, _MAX_STAMP_ELEMENTS // (h * w))
        for start in range(0, idx.size, per):
            yield idx[start:start + per], h, w


def segment_stamps(x0, y0, x1, y1, *, width=0.0, fwhm: float, psf: str = "gaussian",
                   beta: float = 2.5):
    """Unit-flux stamps of PSF-blurred segments.

    Parameters
    ----------
    x0, y0, x1, y1 : (n,) float arrays, segment ends in pixels.
    width : scalar or (n,) rectangle width in pixels (0 for a line or point).
    fwhm : PSF full width at half maximum in pixels.
    psf : ``"gaussian"`` ([SDT] eq. 6; exact along and across the segment via ``erf``) or
        ``"moffat"`` (sampled along the segment every FWHM/4).
    beta : Moffat power index.

    Yields
    ------
    (idx, X, Y, values, s, d) per batch: ``idx`` (m,) the sources in the batch, ``X`` (m, 1, w)
    and ``Y`` (m, h, 1) integer pixel coordinates, ``values`` (m, h, w) the stamps (each sums
    to about 1), ``s`` and ``d`` (m, h, w) the along- and across-segment offsets of each pixel
    from the segment centre.
    """
    x0, y0, x1, y1 = (np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (x0, y0, x1, y1))
    width = np.broadcast_to(np.asarray(width, dtype=np.float64), x0.shape)
    sigma = fwhm / FWHM_PER_SIGMA
    radius = 5.0 * sigma if psf == "gaussian" else 5.0 * fwhm  # wings below ~1e-4 of the peak
    for idx, h, w in _stamp_batches(x0, y0, x1, y1, width, radius):
        ax0, ay0, ax1, ay1, wd = x0[idx], y0[idx], x1[idx], y1[idx], width[idx]
        cx, cy = (ax0 + ax1) / 2, (ay0 + ay1) / 2
        length = np.hypot(ax1 - ax0, ay1 - ay0)
        safe = np.where(length > 0, length, 1.0)
        ux = np.where(length > 0, (ax1 - ax0) / safe, 1.0)
        uy = np.where(length > 0, (ay1 - ay0) / safe, 0.0)
        X = (np.floor(cx).astype(np.int64) - w // 2)[:, None, None] + np.arange(w)[None, None, :]
        Y = (np.floor(cy).astype(np.int64) - h // 2)[:, None, None] + np.arange(h)[None, :, None]
        dx = X - cx[:, None, None]
        dy = Y - cy[:, None, None]
        s = dx * ux[:, None, None] + dy * uy[:, None, None]
        d = -dx * uy[:, None, None] + dy * ux[:, None, None]
        if psf == "gaussian":
            values = (_box_gauss(s, length[:, None, None], sigma)
                      * _box_gauss(d, wd[:, None, None], sigma))
        elif psf == "moffat":
            values = _moffat_segment(s, d, length, wd, fwhm, beta)
        else:
            raise ValueError(f"unknown psf {psf!r}; use 'gaussian' or 'moffat'")
        yield idx, X, Y, values, s, d


def _moffat_segment(s, d, length, width, fwhm: float, beta: float) -> np.ndarray:
    """Moffat PSF averaged over points spread along (and across) each segment."""
    alpha = moffat_alpha(fwhm, beta)
    step = fwhm / 4.0
    n_along = max(1, int(np.ceil(length.max() / step)))
    n_across = max(1, int(np.ceil(width.max() / step)))
    out = np.zeros(s.shape, dtype=np.float64)
    norm = (beta - 1.0) / (math.pi * alpha**2)
    for i in range(n_along):
        off_s = ((i + 0.5) / n_along - 0.5) * length[:, None, None]
        for j in range(n_across):
            off_d = ((j + 0.5) / n_across - 0.5) * width[:, None, None]
            r2 = (s - off_s) ** 2 + (d - off_d) ** 2
            out += norm * (1.0 + r2 / alpha**2) ** (-beta)
    return out / (n_along * n_across)


def add_segments(image: np.ndarray, x0, y0, x1, y1, flux, *, width=0.0, fwhm: float,
                 psf: str = "gaussian", beta: float = 2.5) -> np.ndarray:
    """Add PSF-blurred segments (or points) of total ``flux`` each into ``image`` in place.

    Parameters
    ----------
    image : (ny, nx) float array, modified in place and returned.
    x0, y0, x1, y1 : (n,) segment ends in pixels (x0 = x1, y0 = y1 for points).
    flux : (n,) total flux of each source in the image's units.
    width, fwhm, psf, beta : see :func:`segment_stamps`.
    """
    ny, nx = image.shape
    flux = np.broadcast_to(np.asarray(flux, dtype=np.float64), np.shape(np.atleast_1d(x0)))
    if flux.size == 0:
        return image
    flat = image.reshape(-1)
    for idx, X, Y, values, _s, _d in segment_stamps(x0, y0, x1, y1, width=width, fwhm=fwhm,
                                                     psf=psf, beta=beta):
        inside = (X >= 0) & (X < nx) & (Y >= 0) & (Y < ny)
        inside = np.broadcast_to(inside, values.shape)
        pix = np.broadcast_to(Y * nx + X, values.shape)[inside]
        if pix.size == 0:
            continue
        weights = (values * flux[idx][:, None, None])[inside]
        lo, hi = int(pix.min()), int(pix.max())
        flat[lo:hi + 1] += np.bincount(pix - lo, weights=weights, minlength=hi - lo + 1).astype(flat.dtype)
    return image
