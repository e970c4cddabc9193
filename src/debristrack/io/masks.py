"""Bad-pixel masks: what no detector should trust.

[SDT] sec. 3.1.1 removed survey frames whose regions "appear as zeros or extremely high
values"; rather than drop whole frames we flag those pixels:

- non-finite values (NaN, +-inf);
- exact zeros in blocks (dead columns, chip gaps, unexposed edges) of at least
  ``min_zero_block`` connected pixels: an isolated 0 can be a real, if unlucky, value;
- saturated pixels: at or above ``SATURATE`` (or the given level), or, when the header gives
  no level, a plateau of at least ``min_plateau`` pixels sitting exactly at the frame maximum.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def invalid_mask(data: np.ndarray, *, min_zero_block: int = 4) -> np.ndarray:
    """Pixels with no usable value: non-finite, or exact zeros in connected blocks.

    Parameters
    ----------
    data : (ny, nx) float array.
    min_zero_block : smallest number of 8-connected exact zeros treated as dead.
    """
    bad = ~np.isfinite(data)
    zeros = data == 0
    if zeros.any():
        labels, n = ndimage.label(zeros, structure=np.ones((3, 3), bool))
        if n:
            sizes = np.bincount(labels.ravel())
            big = sizes >= min_zero_block
            big[0] = False
            bad |= big[labels]
    return bad


def saturation_mask(data: np.ndarray, *, level: float | None = None, min_plateau: int = 4) -> np.ndarray:
    """Saturated pixels: ``data >= level``, or a plateau at the maximum when ``level`` is None."""
    if level is not None:
        with np.errstate(invalid="ignore"):
            return data >= level
    finite = np.isfinite(data)
    if not finite.any():
        return np.zeros(data.shape, bool)
    top = np.max(data, where=finite, initial=-np.inf)
    at_top = data == top
    if np.count_nonzero(at_top) >= min_plateau and top > np.median(data[finite]):
        return at_top
    return np.zeros(data.shape, bool)


def bad_pixel_mask(data: np.ndarray, *, saturation: float | None = None, min_zero_block: int = 4,
                   min_plateau: int = 4) -> np.ndarray:
    """All bad pixels (True = bad): invalid or saturated. See the module docstring."""
    return invalid_mask(data, min_zero_block=min_zero_block) | saturation_mask(
        data, level=saturation, min_plateau=min_plateau)


def mask_bad_frame(data: np.ndarray, *, max_invalid: float = 0.5,
                   min_zero_block: int = 4) -> tuple[np.ndarray, str | None]:
    """A frame with its invalid pixels set to NaN, and why it is a bad frame (or None).

    Invalid pixels (:func:`invalid_mask`: non-finite, blocks of exact zeros) become NaN, which
    stacks and filters skip; a frame with more than ``max_invalid`` of its pixels invalid (an
    all-zero readout, a dropped frame) is all NaN, so that it cannot drag a min-stack to zero
    and cost the other frames of its block their detections.

    Returns
    -------
    (float32 (ny, nx) array, None or a one-line reason such as "all pixels are 0").
    """
    bad = invalid_mask(data, min_zero_block=min_zero_block)
    n_bad = int(np.count_nonzero(bad))
    if n_bad == 0:
        return data, None
    out = np.array(data, dtype=np.float32, copy=True)
    fraction = n_bad / bad.size
    if fraction > max_invalid:
        finite = np.isfinite(data)
        what = ("all pixels are 0" if finite.all() and not np.any(data) else
                f"{fraction:.0%} of its pixels are invalid (non-finite or blocks of zeros)")
        out[...] = np.nan
        return out, what
    out[bad] = np.nan
    return out, None
