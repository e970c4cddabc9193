"""Background model for the streak detectors: a smooth sky level and the noise level."""

from __future__ import annotations

import cv2
import numpy as np
import sep


def subtract_background(image: np.ndarray, mask: np.ndarray | None = None, *,
                        box: int = 64) -> tuple[np.ndarray, float]:
    """Background-subtracted image and its global noise rms.

    Uses sep's mesh background (SExtractor's sigma-clipped mode per ``box`` x ``box`` cell,
    median-filtered and spline-interpolated), which follows vignetting and stray-light
    gradients but not a streak, whose pixels are few in any cell.

    Parameters
    ----------
    image : (ny, nx) float image with no NaN (use ``frame.clean``).
    mask : (ny, nx) bool, True = bad pixel, ignored by the model; set to 0 in the output.
    box : mesh cell size in pixels (clipped to the image size).

    Returns
    -------
    residual : (ny, nx) float32, ``image - background``.
    sigma : float, the global background rms (same units as ``image``).
    """
    data = np.ascontiguousarray(image, dtype=np.float32)
    ny, nx = data.shape
    bw, bh = max(8, min(box, nx)), max(8, min(box, ny))
    m = None if mask is None else np.ascontiguousarray(mask, dtype=bool)
    bkg = sep.Background(data, mask=m, bw=bw, bh=bh)
    residual = data.copy()
    bkg.subfrom(residual)  # in place, the same numbers as data - bkg.back() without a background frame
    if m is not None:
        residual[m] = 0.0
    sigma = float(bkg.globalrms)
    if not np.isfinite(sigma) or sigma <= 0:
        sigma = float(np.std(residual)) or 1.0
    return residual, sigma


COARSE_FROM = 512  # px: frames this size and more get the static sky stack's binned sky model


def median_bin2(data: np.ndarray) -> np.ndarray:
    """``data`` (float32) binned 2 x 2 by the median of each 4 pixels (the mean of the middle
    two): a hot pixel or a cosmic ray does not raise its bin (a mean would, in a fifth of the
    bins of a NEOSSat frame with 6 % hot pixels). Odd last rows and columns are dropped."""
    ny, nx = data.shape[0] // 2 * 2, data.shape[1] // 2 * 2
    a, b, c, d = data[0:ny:2, 0:nx:2], data[0:ny:2, 1:nx:2], data[1:ny:2, 0:nx:2], data[1:ny:2, 1:nx:2]
    total = a + b
    total += c
    total += d
    total -= np.maximum(np.maximum(a, b), np.maximum(c, d))
    total -= np.minimum(np.minimum(a, b), np.minimum(c, d))
    total *= np.float32(0.5)
    return total


def subtract_coarse_background(image: np.ndarray, mask: np.ndarray | None = None, *,
                               box: int = 64) -> tuple[np.ndarray, float]:
    """:func:`subtract_background` with the sky model made on the frame binned 2 x 2
    (:func:`median_bin2`; cells of the same ``box`` frame pixels) and enlarged bilinearly, for
    the static sky stack, whose residual gets a full model of its own afterwards: sep's pass
    (which holds the GIL) sees a quarter of the pixels; numpy and OpenCV release it. The noise
    is the full-resolution residual's robust sigma (every other pixel): binning averages white
    noise down but not a camera's correlated pattern noise.
    """
    from .clean import robust_sigma

    data = np.ascontiguousarray(image, dtype=np.float32)
    ny, nx = data.shape
    if min(ny, nx) < 32:
        return subtract_background(data, mask, box=box)
    small = median_bin2(data)
    m = None
    if mask is not None and mask.any():  # a bin with a bad pixel is left out of the model
        m = cv2.resize(mask[: ny // 2 * 2, : nx // 2 * 2].astype(np.float32), (nx // 2, ny // 2),
                       interpolation=cv2.INTER_AREA) > 0
    cell = max(8, box // 2)
    bkg = sep.Background(small, mask=m, bw=min(cell, small.shape[1]), bh=min(cell, small.shape[0]))
    residual = cv2.resize(bkg.back(), (nx, ny), interpolation=cv2.INTER_LINEAR)
    np.subtract(data, residual, out=residual)
    if mask is not None:
        residual[mask] = 0.0
    return residual, robust_sigma(residual[::2, ::2])
