import numpy as np
import pytest

from debristrack.io.masks import bad_pixel_mask
from debristrack.io.zscale import zscale, zscale_limits


def test_sdt_zscale_matches_equations():
    rng = np.random.default_rng(1)
    data = rng.normal(100.0, 10.0, (200, 200))
    z1, z2 = zscale_limits(data)
    med, std = np.median(data), np.std(data)
    assert z1 == pytest.approx(med - 2.5 * std) and z2 == pytest.approx(med + 2.5 * std)  # eq. 1
    img = zscale(data)
    assert img.dtype == np.uint8 and img.shape == data.shape
    expected = np.clip(255 * (data - z1) / (z2 - z1), 0, 255).astype(np.uint8)  # eq. 2-3
    assert np.abs(img.astype(int) - expected.astype(int)).max() <= 1


def test_iraf_option_and_nonfinite():
    data = np.arange(10000, dtype=float).reshape(100, 100)
    data[0, 0] = np.nan
    z1, z2 = zscale_limits(data, method="iraf")
    assert z2 > z1
    assert zscale(data, method="iraf")[0, 0] == 0
    with pytest.raises(ValueError, match="unknown zscale method"):
        zscale_limits(data, method="nope")


def test_plateau_is_saturation_without_header_level():
    data = np.random.default_rng(0).normal(10, 1, (50, 50))
    data[10:13, 10:13] = 65535.0
    mask = bad_pixel_mask(data)
    assert mask[11, 11] and mask.sum() == 9
