"""ZScale display stretch: [SDT] eq. 1-3, and astropy's IRAF zscale as an option."""

from __future__ import annotations

import numpy as np
from astropy.visualization import ZScaleInterval

MAX_SAMPLES = 1_000_000


def _finite_sample(data: np.ndarray) -> np.ndarray:
    flat = np.asarray(data, dtype=np.float64).ravel()
    step = max(1, flat.size // MAX_SAMPLES)  # a regular stride keeps the result deterministic
    sample = flat[::step]
    return sample[np.isfinite(sample)]


def zscale_limits(data: np.ndarray, *, k: float = 2.5, method: str = "sdt") -> tuple[float, float]:
    """Display limits (z1, z2).

    ``method="sdt"``: [SDT] eq. 1, ``z1,2 = median -+ k * std`` over the finite pixels (k = 2.5).
    ``method="iraf"``: IRAF's zscale (sampling and a line fit), via astropy's ZScaleInterval.
    """
    sample = _finite_sample(data)
    if sample.size == 0:
        return 0.0, 1.0
    if method == "sdt":
        median, std = float(np.median(sample)), float(np.std(sample))
        z1, z2 = median - k * std, median + k * std  # [SDT] eq. 1
    elif method == "iraf":
        z1, z2 = (float(v) for v in ZScaleInterval().get_limits(sample))
    else:
        raise ValueError(f"unknown zscale method {method!r}; use 'sdt' or 'iraf'")
    if not z2 > z1:
        z2 = z1 + 1.0
    return z1, z2


def zscale(data: np.ndarray, *, k: float = 2.5, method: str = "sdt") -> np.ndarray:
    """Map an image to uint8 with ZScale: [SDT] eq. 2 (linear stretch) and eq. 3 (clip).

    Non-finite pixels become 0. Returns an array of the input's shape.
    """
    z1, z2 = zscale_limits(data, k=k, method=method)
    scaled = (np.asarray(data, dtype=np.float32) - z1) * np.float32(255.0 / (z2 - z1))  # [SDT] eq. 2
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)  # [SDT] eq. 3
