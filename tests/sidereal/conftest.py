"""Small synthetic sidereal frames: a fixed star field, PSF-blurred streaks and noise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

SIGMA = 2.5 / 2.3548  # PSF sigma for FWHM 2.5 px


def add_streak(img: np.ndarray, x1, y1, x2, y2, flux_per_px: float, sigma: float = SIGMA) -> None:
    """Add a segment convolved with a Gaussian PSF (exact: erf along, Gaussian across)."""
    ny, nx = img.shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    d = np.array([x2 - x1, y2 - y1], float)
    length = np.hypot(*d)
    u = d / length
    along = (xx - x1) * u[0] + (yy - y1) * u[1]
    across = -(xx - x1) * u[1] + (yy - y1) * u[0]
    s2 = np.sqrt(2) * sigma
    prof_along = 0.5 * (erf(along / s2) - erf((along - length) / s2))
    img += flux_per_px * prof_along * np.exp(-across ** 2 / (2 * sigma ** 2)) / (np.sqrt(2 * np.pi) * sigma)


def star_field(shape=(200, 200), n=40, seed=7) -> np.ndarray:
    """Sky of 100 plus ``n`` Gaussian stars of total flux 300-5000 at random positions."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    img = np.full(shape, 100.0)
    for x, y, f in zip(rng.uniform(0, nx, n), rng.uniform(0, ny, n), rng.uniform(300, 5000, n)):
        img += f / (2 * np.pi * SIGMA ** 2) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * SIGMA ** 2))
    return img


def make_frame(streaks=(), *, shape=(200, 200), seed=0, noise=10.0, stars=True, star_seed=7) -> np.ndarray:
    """float32 frame: sky 100, stars (fixed positions), the given streaks
    ``(x1, y1, x2, y2, flux_per_px)`` and Gaussian noise of ``noise``."""
    img = star_field(shape, seed=star_seed) if stars else np.full(shape, 100.0)
    for s in streaks:
        add_streak(img, *s)
    return (img + np.random.default_rng(seed).normal(0, noise, shape)).astype(np.float32)


class FakeFrame:
    def __init__(self, data):
        self.data = self.clean = data
        self.mask = np.zeros(data.shape, bool)


class FakeSequence(list):
    """Enough of io.sequence.FrameSequence for the pipeline: frames, len, require."""

    path = "synthetic"

    def require(self, n, why):
        from debristrack.errors import InputError
        if len(self) < n:
            raise InputError(f"{self.path}: {len(self)} frame(s); {why}")


def moving_streak(t: int) -> tuple[float, float, float, float]:
    """Frame ``t`` of a 63 px streak moving 26 px per frame along its own line, on a path
    that passes no star closer than 13 px (a star on an end hides where it is)."""
    x0, y0 = 20 + 25 * t, 84 + 7.5 * t
    return x0, y0, x0 + 60, y0 + 18


@pytest.fixture
def moving_streak_sequence():
    """5 frames, one bright streak (:func:`moving_streak`) over the star field."""
    return FakeSequence(FakeFrame(make_frame([(*moving_streak(t), 120)], seed=t)) for t in range(5))
