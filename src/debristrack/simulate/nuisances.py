"""Real-sky nuisances for the sidereal scene: structure that is no object (and one that is a transient).

What real frames hold and a tracker must not report (issue 14): saturated stars with a halo,
diffraction spikes and a bleed column; nebula-like extended emission with a sharp edge; a hot
column; a bright row and a zeroed row; a jittered frame whose stars are doubled (the mount
jumped mid-exposure). All are fixed on the detector or the sky for the whole sequence except
the jitter. Plus one real transient: a meteor-like trail in a single frame, labelled as an
object of one frame (id :data:`METEOR_ID`), which a tracker should report as a one-frame
track and never link into another object. Moving cloud patches and cosmic rays come from
the scene's own ``cloud`` and ``cosmic_rate``.

Units: e- per pixel per exposure (drawn into the signal before the noise), px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .psf import add_segments

METEOR_ID = 9001


@dataclass(frozen=True)
class Nuisances:
    """Where the nuisances of one sequence are (fixed for the sequence)."""

    sat_xy: np.ndarray  # (K, 2) saturated stars
    sat_flux: np.ndarray  # (K,) e-
    nebula: np.ndarray  # (ny, nx) e- per exposure
    hot_col: int
    hot_rows: tuple[int, int]  # the hot column's extent
    bright_row: int
    zero_row: int
    jitter_frame: int
    jitter: tuple[float, float]
    meteor_frame: int
    meteor: np.ndarray  # (4,) x1, y1, x2, y2
    meteor_flux: float


def plan_nuisances(shape: tuple[int, int], *, frames: int, sky_level: float, saturate_e: float,
                   fwhm: float, rng: np.random.Generator) -> Nuisances:
    """Draw the nuisances of one sequence."""
    ny, nx = shape
    k = 2
    sat_xy = np.column_stack([rng.uniform(0.15 * nx, 0.85 * nx, k), rng.uniform(0.15 * ny, 0.85 * ny, k)])
    # peak = flux / (2 pi sigma^2): 20-80 x saturation at the core
    sigma = fwhm / 2.3548
    sat_flux = rng.uniform(20, 80, k) * saturate_e * 2 * math.pi * sigma ** 2
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    cx, cy = rng.uniform(0.2 * nx, 0.8 * nx), rng.uniform(0.2 * ny, 0.8 * ny)
    r = np.hypot(xx - cx, (yy - cy) * 1.5)
    ang = rng.uniform(0, 2 * math.pi)
    edge = (xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang)
    # a glowing cloud with a sharp dark edge across it (a dust lane), up to the sky level
    nebula = (sky_level * rng.uniform(0.5, 1.5) * np.exp(-(r / (0.25 * max(nx, ny))) ** 2)
              * (edge > 0)).astype(np.float32)
    length = rng.uniform(0.5, 1.0) * math.hypot(nx, ny)
    theta = rng.uniform(0, math.pi)
    mx, my = rng.uniform(0.3 * nx, 0.7 * nx), rng.uniform(0.3 * ny, 0.7 * ny)
    meteor = np.array([mx - length / 2 * math.cos(theta), my - length / 2 * math.sin(theta),
                       mx + length / 2 * math.cos(theta), my + length / 2 * math.sin(theta)])
    row0 = int(rng.integers(0, ny // 2))
    return Nuisances(sat_xy=sat_xy, sat_flux=sat_flux, nebula=nebula, hot_col=int(rng.integers(5, nx - 5)),
                     hot_rows=(row0, int(rng.integers(row0 + ny // 4, ny))), bright_row=int(rng.integers(5, ny - 5)),
                     zero_row=int(rng.integers(5, ny - 5)), jitter_frame=int(rng.integers(frames)),
                     jitter=(float(rng.uniform(2, 4) * rng.choice([-1, 1])), float(rng.uniform(2, 4) * rng.choice([-1, 1]))),
                     meteor_frame=int(rng.integers(frames)), meteor=meteor,
                     meteor_flux=float(40 * sky_level ** 0.5 * length))


def draw_nuisances(signal: np.ndarray, nz: Nuisances, index: int, *, fwhm: float, sky_level: float) -> dict | None:
    """Draw the static nuisances (and this frame's meteor) into ``signal`` (e-, in place).

    Returns the meteor's label (``id, x1, y1, x2, y2``, clipped by the caller) in its frame,
    else None.
    """
    ny, nx = signal.shape
    x, y = nz.sat_xy[:, 0], nz.sat_xy[:, 1]
    add_segments(signal, x, y, x, y, nz.sat_flux, fwhm=fwhm, psf="moffat", beta=2.0)
    add_segments(signal, x, y, x, y, 0.03 * nz.sat_flux, fwhm=8 * fwhm, psf="gaussian", beta=2.5)  # halo
    for k in range(len(x)):
        spike = 60.0
        for dx, dy in ((spike, 0.0), (0.0, spike)):  # diffraction spikes along the spider vanes
            add_segments(signal, np.array([x[k] - dx]), np.array([y[k] - dy]), np.array([x[k] + dx]),
                         np.array([y[k] + dy]), np.array([0.01 * nz.sat_flux[k]]), fwhm=fwhm, psf="gaussian",
                         beta=2.5)
        col = int(round(x[k]))
        lo, hi = max(0, int(y[k]) - 40), min(ny, int(y[k]) + 40)
        signal[lo:hi, col] += 0.02 * nz.sat_flux[k]  # bleed column: charge spilling along the column
    signal += nz.nebula
    signal[nz.hot_rows[0]:nz.hot_rows[1], nz.hot_col] += 5.0 * math.sqrt(sky_level)
    signal[nz.bright_row, :] += 4.0 * math.sqrt(sky_level)
    if index != nz.meteor_frame:
        return None
    m = nz.meteor
    add_segments(signal, m[0:1], m[1:2], m[2:3], m[3:4], np.array([nz.meteor_flux]), fwhm=fwhm, psf="gaussian",
                 beta=2.5)
    return {"id": METEOR_ID, "x1": m[0], "y1": m[1], "x2": m[2], "y2": m[3]}
