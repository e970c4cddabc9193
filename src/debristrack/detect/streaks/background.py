"""Background model for the streak detectors: a smooth sky level and the noise level."""

from __future__ import annotations

import cv2
import numpy as np
import sep

# frames of this many pixels or more get their sky model from every other pixel of every other
# row: the model is smooth on the scale of a mesh cell (``box`` px), so a quarter of a cell's
# pixels (1024 of a 64 x 64 cell) give the same level to a small fraction of the noise, in a
# quarter of the time (sep holds the GIL: on a 4096^2 frame the full model was 0.5 s of it)
SAMPLED_PIXELS = 2048 * 2048
BAND = 256  # rows of the background interpolated at once: no frame-sized model


def subtract_background(image: np.ndarray, mask: np.ndarray | None = None, *,
                        box: int = 64, sample: int = 2) -> tuple[np.ndarray, float]:
    """Background-subtracted image and its global noise rms.

    Uses sep's mesh background (SExtractor's sigma-clipped mode per ``box`` x ``box`` cell,
    median-filtered and spline-interpolated), which follows vignetting and stray-light
    gradients but not a streak, whose pixels are few in any cell. A frame of
    :data:`SAMPLED_PIXELS` or more is modelled from its pixels ``[::sample, ::sample]`` (cells
    of ``box / sample`` sampled px, the same sky area) and the model interpolated bilinearly
    to every pixel.

    Parameters
    ----------
    image : (ny, nx) float image with no NaN (use ``frame.clean``).
    mask : (ny, nx) bool, True = bad pixel, ignored by the model; set to 0 in the output.
    box : mesh cell size in pixels (clipped to the image size).
    sample : a big frame's model is made from every ``sample``-th pixel of every ``sample``-th
        row (2; 4 with ``box`` 128 for a static-sky residual, whose sky is nearly flat:
        :data:`.clean.RESIDUAL_SKY`).

    Returns
    -------
    residual : (ny, nx) float32, ``image - background``.
    sigma : float, the global background rms (same units as ``image``).
    """
    data = np.ascontiguousarray(image, dtype=np.float32)
    ny, nx = data.shape
    m = None if mask is None else np.ascontiguousarray(mask, dtype=bool)
    if data.size >= SAMPLED_PIXELS and min(ny, nx) >= 4 * box:
        residual, sigma = _sampled(data, m, box, sample)
    else:
        bw, bh = max(8, min(box, nx)), max(8, min(box, ny))
        bkg = sep.Background(data, mask=m, bw=bw, bh=bh)
        residual = data.copy()
        bkg.subfrom(residual)  # in place, the same numbers as data - bkg.back() without a background frame
        sigma = float(bkg.globalrms)
    if m is not None:
        residual[m] = 0.0
    if not np.isfinite(sigma) or sigma <= 0:
        sigma = float(np.std(residual)) or 1.0
    return residual, sigma


def _sampled(data: np.ndarray, mask: np.ndarray | None, box: int, s: int = 2) -> tuple[np.ndarray, float]:
    """:func:`subtract_background` of a big frame from its pixels ``[::s, ::s]``: sampled pixel
    ``(i, j)`` is frame pixel ``(s i, s j)``, so the model at frame pixel ``(y, x)`` is the sampled
    model at ``(y / s, x / s)`` (edges repeated beyond the last sample)."""
    ny, nx = data.shape
    sub = np.ascontiguousarray(data[::s, ::s])
    m = None if mask is None else np.ascontiguousarray(mask[::s, ::s])
    bkg = sep.Background(sub, mask=m, bw=max(8, box // s), bh=max(8, box // s))
    back = bkg.back()
    residual = np.empty_like(data)
    for y0 in range(0, ny, BAND):
        y1 = min(y0 + BAND, ny)
        # dst (x, y) of the band reads back (x / s, (y + y0) / s)
        to_model = np.float32([[1 / s, 0, 0], [0, 1 / s, y0 / s]])
        model = cv2.warpAffine(back, to_model, (nx, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
        np.subtract(data[y0:y1], model, out=residual[y0:y1])
    return residual, float(bkg.globalrms)
