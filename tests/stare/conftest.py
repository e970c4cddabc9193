"""Small synthetic staring-mode sequences: drifting stars, fixed targets, hot pixels, noise."""

from __future__ import annotations

import numpy as np
import pytest


def gaussian_spot(shape, x, y, flux, fwhm=2.5):
    """A Gaussian spot of total ``flux`` centred at (x, y), float32 (ny, nx)."""
    s = fwhm / 2.3548
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (flux / (2 * np.pi * s * s) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s * s))).astype(np.float32)


def stare_frames(*, n=8, shape=(96, 128), targets=(), stars=(), drift=10.0, trail=8.0, noise=10.0,
                 sky=100.0, hot=(), rng=0):
    """Frames of a staring-mode sequence, float32 (n, ny, nx).

    targets : (x, y, flux[, vx, vy]) fixed (or slowly drifting, px per frame) points.
    stars : (x, y, flux) at frame 0; they move ``drift`` px per frame along +x and trail
        ``trail`` px within a frame (drawn as 9 sub-steps).
    hot : (x, y, level) single hot pixels.
    """
    rng = np.random.default_rng(rng)
    frames = np.empty((n,) + tuple(shape), np.float32)
    for t in range(n):
        img = np.full(shape, sky, np.float32)
        for tg in targets:
            x, y, f = tg[:3]
            vx, vy = (tg[3], tg[4]) if len(tg) > 3 else (0.0, 0.0)
            img += gaussian_spot(shape, x + vx * t, y + vy * t, f)
        for x, y, f in stars:
            for k in np.linspace(0, trail, 9):
                img += gaussian_spot(shape, x + drift * t + k, y, f / 9)
        for x, y, level in hot:
            img[int(y), int(x)] += level
        frames[t] = img + rng.normal(0, noise, shape).astype(np.float32)
    return frames


@pytest.fixture
def make_frames():
    """The :func:`stare_frames` builder."""
    return stare_frames
