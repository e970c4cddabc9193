"""Real-frame clean-up before a streak detector: impulses and stripes.

Real detectors carry what no simulator of [SDT] draws and what a line filter adds up into
false lines: hot pixels and cosmic-ray hits by the thousand (a NEOSSat dark frame has
~10 % of its pixels 5 sigma high) and column/row pattern noise (bias structure, read-out
banding), which offsets a whole column by a fraction of sigma. Both are removed here:

- :func:`remove_impulses`: a pixel far above the median of its 3 x 3 neighbourhood, by
  more than ``snr`` sigma *and* by most of its own height above the sky, is sharper than
  any PSF (a PSF-wide star or trail keeps its 3 x 3 median above half its peak) and is
  replaced by that median;
- :func:`destripe`: the median of every column, then of every row, of the
  background-subtracted frame is subtracted: a star or a trail covers few pixels of a
  line, so the median is the line's offset.
"""

from __future__ import annotations

import cv2
import numpy as np

from .background import SAMPLED_PIXELS, subtract_background


def median_rows(a: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """The median of each row of a 2-D array of finite values (of all values of a 1-D one): the
    numbers of ``np.median(a, axis=-1)``, from one ``np.partition`` at the middle (and the
    largest value below it when the count is even), ~5 x faster on a 4096^2 frame.
    ``overwrite``: partition ``a`` itself (no copy of it)."""
    n = a.shape[-1]
    k = n // 2
    if overwrite:
        a.partition(k, axis=-1)
        part = a
    else:
        part = np.partition(a, k, axis=-1)
    upper = part[..., k]
    if n % 2:
        return upper
    lower = part[..., :k].max(axis=-1)
    return (lower + upper) / 2  # np.median's mean of the two middle values


def median_columns(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=0)`` of a 2-D array of finite values, by rows of its transpose
    (contiguous: a partition down strided columns is slow)."""
    t = cv2.transpose(a) if a.dtype == np.float32 else np.ascontiguousarray(a.T)
    return median_rows(t, overwrite=True)


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation (the rms of Gaussian noise, blind to outliers);
    float32 values in float32 (a frame's: no float64 copy), others in float64."""
    v = np.asarray(values)
    v = np.ascontiguousarray(v if v.dtype == np.float32 else v.astype(np.float64)).ravel()
    if v.size == 0:
        return 1.0
    s = 1.4826 * float(median_rows(np.abs(v - median_rows(v)), overwrite=True))
    return s if s > 0 else float(np.std(v)) or 1.0


FEW_IMPULSES = 0.002  # of the pixels: under this, impulses do not move a frame's background model
IMPULSE_SNR, IMPULSE_SHARPNESS = 5.0, 0.75  # remove_impulses' defaults, which prepare uses


# a big static-sky residual's sky model: from every 4th pixel of every 4th row, cells of 128 px
# (a frame's: every other pixel, 64 px). Each frame of its stack had its own model subtracted, so
# what is left is nearly flat: the same 1024 samples per cell (on flat noise the model scatters
# by 0.028 sigma, 0.025 the frame's way), in a third of the time (sep holds the GIL: 0.18 s of a
# 4096^2 frame, 0.07 s). A small frame's residual (NEOSSat's +-0.3 sigma patches) gets a frame's model.
RESIDUAL_SKY = {"sample": 4, "box": 128}


def _sky_model(data: np.ndarray, static: bool) -> dict:
    """:func:`.background.subtract_background`'s sampling of ``data``: :data:`RESIDUAL_SKY` for a
    big static-sky residual, else its defaults."""
    return RESIDUAL_SKY if static and data.size >= SAMPLED_PIXELS else {}


def _impulses(image: np.ndarray, mask: np.ndarray | None, snr: float,
              sharpness: float, sky: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The frame (float32), its background-subtracted pixels (the sky model's ``sky`` options,
    :func:`.background.subtract_background`), and its impulses (:func:`remove_impulses`): their
    flat indices and the 3 x 3 median there. By bands of rows (with a row of context each side,
    the band's 3 x 3 medians are the frame's): no frame-sized median or temporary (an 8192^2
    frame must fit in 3 GB, issue 16)."""
    data = np.asarray(image, dtype=np.float32)
    residual, rms = subtract_background(data, mask, **(sky or {}))  # data - local sky
    sigma = robust_sigma(residual[::4, ::4])
    floor = np.float32(snr * sigma)
    ny, nx = data.shape
    where, values = [], []
    for y0 in range(0, ny, 256):
        y1 = min(y0 + 256, ny)
        a, b = max(0, y0 - 1), min(ny, y1 + 1)
        med = median3(data[a:b])[y0 - a:y0 - a + y1 - y0]
        # data - med > max(snr sigma, sharpness residual)
        hit = data[y0:y1] > np.maximum(np.float32(sharpness) * residual[y0:y1], floor) + med
        if mask is not None:
            hit &= ~mask[y0:y1]
        idx = np.flatnonzero(hit)
        where.append(idx + y0 * nx)
        values.append(med.ravel()[idx])
    return data, (residual, rms), np.concatenate(where), np.concatenate(values)


def _replaced(data: np.ndarray, where: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A float32 copy of ``data`` with the flat pixels ``where`` set to ``values``."""
    out = np.array(data, dtype=np.float32, copy=True)
    out.ravel()[where] = values
    return out


def remove_impulses(image: np.ndarray, mask: np.ndarray | None = None, *, snr: float = IMPULSE_SNR,
                    sharpness: float = IMPULSE_SHARPNESS) -> tuple[np.ndarray, int]:
    """``image`` with its one-pixel impulses (hot pixels, cosmic-ray hits) replaced.

    A pixel is an impulse when it exceeds the median of its 3 x 3 neighbourhood by more than
    ``snr`` x the frame's robust noise and by more than ``sharpness`` x its height above the
    local sky. A Gaussian PSF of FWHM >= 1.7 px keeps its neighbourhood median above ~0.4 of
    its peak, so its peak stays (1 - 0.4 < 0.75). Returns the cleaned float32 image (the
    impulses replaced by that median) and the number of pixels replaced.
    """
    data, _, where, values = _impulses(image, mask, snr, sharpness)
    return _replaced(data, where, values), len(where)


def masked_median_rows(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The median of the unmasked values of each row of ``a`` (0 for a fully masked row): the
    numbers of ``np.nanmedian(axis=1)`` with NaN on the masked pixels, without its per-row loop.
    The ``m`` masked values of a row become ``ceil(m / 2)`` -inf and ``floor(m / 2)`` +inf, so the
    median of the unmasked ones sits in the middle of the full row: at ``a, a + 1`` (their mean)
    with ``a = (n - 1) // 2``, or at one of them, whichever an odd count of unmasked values
    leaves in the middle."""
    n = a.shape[1]
    masked = np.count_nonzero(mask, axis=1)
    work = np.array(a, copy=True)
    r, c = np.nonzero(mask)  # row by row: a masked pixel's rank in its row is its place after the row's first
    rank = np.arange(len(r)) - (np.cumsum(masked) - masked)[r]
    first = rank < (masked[r] + 1) // 2
    work[r[first], c[first]] = -np.inf
    work[r[~first], c[~first]] = np.inf
    lo = (n - 1) // 2
    if n > 1:  # one kth: a partition at two is several times slower
        part = np.partition(work, lo + 1, axis=1)
        low, high = part[:, :lo + 1].max(axis=1), part[:, lo + 1]
    else:
        low = high = work[:, 0]
    valid = n - masked
    # an odd count of unmasked values: the middle one, at a + 1 when n is even (one more -inf before it)
    single = high if n % 2 == 0 else low
    with np.errstate(invalid="ignore"):
        out = np.where(valid % 2 == 1, single, (low + high) / 2)
    out[valid == 0] = 0.0
    return out


# lines at least this long get their median from every other pixel (half the partition work;
# the median of 2048 of a 4096 px column scatters by 0.03 sigma)
HALF_LINE = 2048


def destripe(residual: np.ndarray, mask: np.ndarray | None = None, *, overwrite: bool = False) -> np.ndarray:
    """``residual`` (background-subtracted) minus the median of each column, then of each row
    (masked pixels ignored; from every other pixel of lines of :data:`HALF_LINE` px or more);
    float32 (``overwrite``: in ``residual`` itself when float32)."""
    out = residual if overwrite and residual.dtype == np.float32 else np.array(residual, dtype=np.float32, copy=True)
    ny, nx = out.shape
    down = slice(None, None, 2 if ny >= HALF_LINE else 1)  # the rows a column's median reads
    across = slice(None, None, 2 if nx >= HALF_LINE else 1)  # the columns a row's median reads
    if mask is not None and mask.any():
        col = masked_median_rows(cv2.transpose(np.ascontiguousarray(out[down])),
                                 cv2.transpose(np.ascontiguousarray(mask[down]).view(np.uint8)).view(bool))
        out -= col[None, :]
        row = masked_median_rows(out[:, across], mask[:, across])
    else:
        out -= median_columns(np.ascontiguousarray(out[down]))[None, :]
        row = median_rows(out[:, across])
    out -= row[:, None]
    if mask is not None:
        out[mask] = 0.0
    return out


def skewed_noise(residual: np.ndarray, *, k: float = 3.0, sigma: float | None = None) -> bool:
    """True when far more pixels lie ``k`` sigma above the sky than below it: noise made of
    hot pixels and clumps (a dark-current-limited CCD) rather than Gaussian. Gaussian noise
    has 0.13 % of its pixels on each side at 3 sigma; stars and trails add a few tenths of a
    percent above. ``sigma``: ``robust_sigma(residual[::2, ::2])``, when known."""
    r = np.asarray(residual)[::2, ::2]
    s = robust_sigma(r) if sigma is None else sigma
    hi = float(np.mean(r > k * s))
    lo = float(np.mean(r < -k * s))
    return hi > 0.02 and hi > 10.0 * lo


def median3(image: np.ndarray) -> np.ndarray:
    """3 x 3 median, edges repeated: ``ndimage.median_filter(size=3, mode="nearest")``, the same
    numbers from OpenCV's float32 median (~80 x faster on a 4096^2 frame)."""
    return cv2.medianBlur(np.ascontiguousarray(image, dtype=np.float32), 3)


def median_clean(image: np.ndarray) -> np.ndarray:
    """3 x 3 median filter: removes clumps of up to four hot pixels; a PSF-wide trail keeps
    about two thirds of its crest (its 3 x 3 median is the crest's neighbours)."""
    return median3(image)


def prepare(image: np.ndarray, mask: np.ndarray | None = None, *, static: bool = False) -> tuple[np.ndarray, dict]:
    """The frame as the streak detector should see it: background-subtracted, impulses
    removed (:func:`remove_impulses`), 3 x 3 median-filtered when its noise is skewed
    (:func:`skewed_noise`), destriped (:func:`destripe`). Returns the float32 image and
    ``{"impulses": n, "median": bool, "sigma": its robust_sigma of every other pixel,
    "sky_rms": the sky model's noise rms (sep's globalrms), None after the median filter}``:
    the detector takes the image as background-subtracted with that noise (no model of its
    own, :func:`.matched.detect_matched`). ``static``: ``image`` is a static-sky residual, whose
    sky is nearly flat (:data:`RESIDUAL_SKY`)."""
    sky = _sky_model(np.asarray(image), static)
    data, (residual, rms), where, values = _impulses(image, mask, IMPULSE_SNR, IMPULSE_SHARPNESS, sky)
    n = len(where)
    if n <= FEW_IMPULSES * data.size:
        # a few impulses (cosmic rays; a static sky residual has no hot pixels left): a mesh
        # cell's clipped mode ignores them, so the frame's own sky model serves the cleaned frame
        residual.ravel()[where] += values - data.ravel()[where]
        del data
    else:  # a frame of hot pixels (NEOSSat: 6 %) biased its sky model: the cleaned frame's own
        del residual
        cleaned = _replaced(data, where, values)
        del data
        residual, rms = subtract_background(cleaned, mask, **sky)
        del cleaned
    residual = destripe(residual, mask, overwrite=True)
    sigma = robust_sigma(residual[::2, ::2])
    skewed = skewed_noise(residual, sigma=sigma)
    if skewed:
        residual = median_clean(residual)
        sigma = robust_sigma(residual[::2, ::2])
    # the sky model's noise rms (sep's globalrms) of what the detector gets, where that is the
    # frame the model was made on (not after a median filter, which lowers the noise)
    return residual, {"impulses": n, "median": skewed, "sigma": sigma, "sky_rms": None if skewed else rms}
