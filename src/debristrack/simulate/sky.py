"""The sky and the camera: background, stray light, cloud, star brightnesses, noise, defects.

All functions are pure: arrays and numbers in, arrays out, randomness from a
``numpy.random.Generator``. Intensities are in electrons per pixel per exposure until
:func:`expose` turns them into ADU. Pixel convention: 0-based, x = column, y = row, centre of
the first pixel = (0, 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

_COARSE = 16  # the smooth background is evaluated every 16 px and resampled


def star_magnitudes(n: int, *, bright: float, faint: float, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` magnitudes with counts rising x10**0.4 (about x2.5) per magnitude.

    The density ``dN/dm ~ 10**(0.4 m)`` between ``bright`` and ``faint``, sampled by inverting
    its cumulative distribution. [GEO] sec. 1 reports ~60 stars per square degree to mag 14
    and ~7,000 in a 10 x 10 degree, 4096 x 4096 frame; the slope is the usual star-count law.
    """
    a, b = 10.0 ** (0.4 * bright), 10.0 ** (0.4 * faint)
    u = rng.random(n)
    return 2.5 * np.log10(a + u * (b - a))


def flux_for_snr(snr, *, noise_var: float, area: float) -> np.ndarray:
    """Total source flux (e-) giving signal-to-noise ``snr`` by the CCD equation.

    ``snr = F / sqrt(F + area * noise_var)`` with ``F`` in electrons, ``noise_var`` the
    per-pixel background variance in e^2 (sky + read noise^2) and ``area`` the PSF's
    noise-equivalent area in px^2; solved for ``F``.
    """
    snr = np.asarray(snr, dtype=np.float64)
    s2 = snr**2
    return (s2 + np.sqrt(s2**2 + 4.0 * s2 * area * noise_var)) / 2.0


@dataclass(frozen=True)
class SkyLayout:
    """The random but fixed parts of one sequence's sky (drawn once, used for every frame).

    Lengths in pixels, angles in radians; ``clouds`` is (m, 5): x, y (at frame 0), sigma
    along, sigma across, angle of each cloud blob.
    """

    gradient_angle: float
    moon_x: float
    moon_y: float
    moon_scale: float
    clouds: np.ndarray
    cloud_depth: np.ndarray
    cloud_velocity: tuple[float, float]


def sky_layout(shape: tuple[int, int], *, clouds: int, rng: np.random.Generator) -> SkyLayout:
    """Draw gradient direction, moon (stray-light source) position and cloud blobs."""
    ny, nx = shape
    diag = math.hypot(nx, ny)
    ang = rng.uniform(0, 2 * math.pi)
    # The stray-light source sits outside the frame, so its glow is a one-sided gradient
    # with curvature (as [GEO] fig. 5c).
    moon_ang = rng.uniform(0, 2 * math.pi)
    dist = diag * rng.uniform(0.6, 1.0)
    blobs = np.column_stack([
        rng.uniform(-0.3 * nx, 1.3 * nx, clouds),
        rng.uniform(-0.3 * ny, 1.3 * ny, clouds),
        rng.uniform(0.08, 0.3, clouds) * diag,
        rng.uniform(0.03, 0.12, clouds) * diag,
        rng.uniform(0, math.pi, clouds),
    ])
    wind = rng.uniform(0, 2 * math.pi)
    return SkyLayout(
        gradient_angle=ang,
        moon_x=nx / 2 + dist * math.cos(moon_ang),
        moon_y=ny / 2 + dist * math.sin(moon_ang),
        moon_scale=diag * rng.uniform(0.4, 0.8),
        clouds=blobs,
        cloud_depth=rng.uniform(0.4, 1.0, clouds),
        cloud_velocity=(math.cos(wind), math.sin(wind)),
    )


def sky_fields(shape: tuple[int, int], layout: SkyLayout, *, frame: int, sky_level: float,
               gradient: float, straylight: float, cloud: float, cloud_glow: float,
               cloud_speed: float) -> tuple[np.ndarray, np.ndarray]:
    """Smooth sky background (e-/px) and cloud transmission (0..1) for one frame.

    Parameters
    ----------
    shape : (ny, nx) of the frame.
    layout : from :func:`sky_layout`.
    frame : frame index (clouds move ``cloud_speed`` px per frame along the wind).
    sky_level : mean sky in e-/px per exposure.
    gradient : fractional change of the sky across the frame (a tilted plane).
    straylight : stray light (moonlight) at the frame edge nearest its source, as a multiple
        of ``sky_level``; it decays as ``exp(-r / scale)`` from a source outside the frame.
    cloud : peak extinction of the cloud (0 = clear, 1 = opaque); cloud_glow : light the
        cloud scatters back, as a multiple of ``sky_level`` at full depth.

    Returns
    -------
    background : (ny, nx) float32 e-/px; transmission : (ny, nx) float32 in [0, 1].
    The fields are evaluated on a 16-px grid and resampled with cv2 (bicubic).
    """
    ny, nx = shape
    cy, cx = -(-ny // _COARSE), -(-nx // _COARSE)
    # Coarse-pixel centres in full-frame coordinates, matching cv2.resize's half-pixel model.
    gx = (np.arange(cx) + 0.5) * (nx / cx) - 0.5
    gy = (np.arange(cy) + 0.5) * (ny / cy) - 0.5
    X, Y = np.meshgrid(gx, gy)
    diag = math.hypot(nx, ny)
    ca, sa = math.cos(layout.gradient_angle), math.sin(layout.gradient_angle)
    plane = gradient * (((X - nx / 2) * ca + (Y - ny / 2) * sa) / diag)
    bg = sky_level * (1.0 + plane)
    if straylight > 0:
        r = np.hypot(X - layout.moon_x, Y - layout.moon_y)
        r_edge = max(0.0, math.hypot(layout.moon_x - nx / 2, layout.moon_y - ny / 2) - diag / 2)
        bg = bg + sky_level * straylight * np.exp(-(r - r_edge) / layout.moon_scale)
    cover = np.zeros_like(X)
    if cloud > 0 and len(layout.clouds):
        vx, vy = layout.cloud_velocity
        for (bx, by, s_along, s_across, ang), depth in zip(layout.clouds, layout.cloud_depth):
            bx, by = bx + vx * cloud_speed * frame, by + vy * cloud_speed * frame
            c, s = math.cos(ang), math.sin(ang)
            u = (X - bx) * c + (Y - by) * s
            v = -(X - bx) * s + (Y - by) * c
            cover = np.maximum(cover, depth * np.exp(-0.5 * ((u / s_along) ** 2 + (v / s_across) ** 2)))
        bg = bg + sky_level * cloud_glow * cover
    trans = 1.0 - cloud * cover
    size = (nx, ny)
    bg_full = cv2.resize(bg.astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    tr_full = cv2.resize(trans.astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    return np.maximum(bg_full, 0.0), np.clip(tr_full, 0.0, 1.0)


def hot_pixels(shape: tuple[int, int], *, fraction: float, rng: np.random.Generator):
    """Fixed hot pixels of a sensor: flat indices (k,) and their excess level in e- (k,)."""
    ny, nx = shape
    k = int(round(fraction * ny * nx))
    index = rng.choice(ny * nx, size=k, replace=False) if k else np.zeros(0, np.int64)
    level = 10.0 ** rng.uniform(2.5, 4.5, k)
    return np.sort(index), level


def cosmic_rays(shape: tuple[int, int], *, rate: float, rng: np.random.Generator):
    """Cosmic-ray hits of one exposure: flat pixel indices and deposited e- per pixel.

    ``rate`` is the mean number of hits per megapixel per exposure. Each hit is a straight
    track of 1-8 px at a random angle, not blurred by the PSF (it lands on the sensor).
    """
    ny, nx = shape
    n = rng.poisson(rate * ny * nx / 1e6)
    length = rng.integers(0, 8, n)
    ang = rng.uniform(0, 2 * math.pi, n)
    x0, y0 = rng.uniform(0, nx, n), rng.uniform(0, ny, n)
    energy = 10.0 ** rng.uniform(2.7, 4.3, n)
    steps = np.arange(8)
    use = steps[None, :] <= length[:, None]
    xs = np.rint(x0[:, None] + steps * np.cos(ang)[:, None]).astype(np.int64)
    ys = np.rint(y0[:, None] + steps * np.sin(ang)[:, None]).astype(np.int64)
    use &= (xs >= 0) & (xs < nx) & (ys >= 0) & (ys < ny)
    per_px = np.broadcast_to((energy / (length + 1))[:, None], use.shape)
    return (ys * nx + xs)[use], per_px[use]


def expose(signal: np.ndarray, *, rng: np.random.Generator, read_noise: float, gain: float,
           bias: float, saturate: float) -> np.ndarray:
    """Photon and read noise, gain, bias and saturation: e- per pixel -> float32 ADU.

    Photon noise is Poisson; where the expected count is 30 e- or more the normal
    approximation ``N(lambda, lambda)`` is used (it is indistinguishable there and ~5x
    faster). Read noise is normal with ``read_noise`` e- RMS. The result is clipped to
    ``saturate`` ADU (a full well) and to 0 below.

    Parameters
    ----------
    signal : (ny, nx) expected electrons per pixel (>= 0), modified in place.
    """
    lam = np.maximum(signal, 0.0, out=signal)
    noise = rng.standard_normal(lam.shape, dtype=np.float32)
    out = lam + np.sqrt(lam) * noise
    low = lam < 30.0
    if low.any():
        out[low] = rng.poisson(lam[low])
    out += rng.standard_normal(lam.shape, dtype=np.float32) * np.float32(read_noise)
    out *= np.float32(1.0 / gain)
    out += np.float32(bias)
    return np.clip(out, 0.0, saturate, out=out).astype(np.float32, copy=False)
