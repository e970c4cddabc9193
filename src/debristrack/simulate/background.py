"""A real FITS image as the sky background, the way SDTD drew debris on ZTF frames ([SDT] sec. 3.1).

:func:`read_background` reads (file access, validation); :func:`fit_background` and
:func:`shift_background` are pure array functions.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from astropy.io import fits

from ..errors import InputError

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")


def background_files(path: str | Path) -> list[Path]:
    """The FITS files named by ``path`` (a file, or a folder searched non-recursively), sorted."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith(FITS_SUFFIXES))
        if not files:
            raise InputError(f"{path}: no FITS files (*.fits, *.fit, *.fts) in this background folder")
        return files
    if not path.is_file():
        raise InputError(f"{path}: no such background file or folder")
    return [path]


def read_background(path: str | Path) -> np.ndarray:
    """The first image of a FITS file as float32 (a 3-D cube gives its first plane; 4-D is refused).

    Non-finite pixels are replaced by the median of the finite ones.

    Raises
    ------
    InputError
        when the file is not FITS, has no image, or has no finite pixel.
    """
    path = Path(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            data = next((h.data for h in hdul if h.data is not None and getattr(h.data, "ndim", 0) >= 2
                         and h.is_image), None)
            if data is None:
                raise InputError(f"{path}: no 2-D image in this FITS file")
            data = np.asarray(data, dtype=np.float32)
    except InputError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError on bad files
        raise InputError(f"{path}: cannot read as a FITS image ({type(exc).__name__}: {exc})") from None
    if data.ndim > 3:  # a 4-D hypercube (polarimetry, spectra) is not a sky image
        raise InputError(f"{path}: the background image has {data.ndim} axes; give a 2-D image or a 3-D cube")
    if data.ndim == 3:
        data = data[0]
    finite = np.isfinite(data)
    if not finite.any():
        raise InputError(f"{path}: the background image has no finite pixel")
    if not finite.all():
        data = np.where(finite, data, np.median(data[finite])).astype(np.float32)
    if min(data.shape) < 8:
        raise InputError(f"{path}: background image {data.shape[1]}x{data.shape[0]} is too small")
    return data


def fit_background(image: np.ndarray, shape: tuple[int, int], *, scale: float = 1.0,
                   rng: np.random.Generator) -> np.ndarray:
    """Resample ``image`` by ``scale``, then crop (at a random place) or mirror-tile to ``shape``.

    Parameters
    ----------
    image : (h, w) float array; shape : (ny, nx) of the frame.
    scale : resampling factor (2 = each background pixel becomes 2x2 frame pixels).

    Returns
    -------
    (ny, nx) float32 array.
    """
    if scale != 1.0:
        h, w = image.shape
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    ny, nx = shape
    h, w = image.shape
    # Mirror tiling (reflections) avoids seams where a small image has to fill a large frame.
    if h < ny or w < nx:
        image = np.pad(image, ((0, max(0, ny - h)), (0, max(0, nx - w))), mode="symmetric")
        h, w = image.shape
    y0 = int(rng.integers(0, h - ny + 1))
    x0 = int(rng.integers(0, w - nx + 1))
    return np.ascontiguousarray(image[y0:y0 + ny, x0:x0 + nx], dtype=np.float32)


def shift_background(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by (dx, dy) px (sub-pixel, bilinear); edges are filled by reflection."""
    if dx == 0 and dy == 0:
        return image
    ny, nx = image.shape
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(image, m, (nx, ny), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def robust_sigma(image: np.ndarray) -> float:
    """Background noise of an image: 1.4826 x the median absolute deviation (a 1-in-4 sample)."""
    sample = image[::2, ::2].ravel()
    med = np.median(sample)
    return float(1.4826 * np.median(np.abs(sample - med))) or 1.0
