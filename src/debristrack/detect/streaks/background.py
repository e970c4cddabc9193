"""Background model for the streak detectors: a smooth sky level and the noise level."""

from __future__ import annotations

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
