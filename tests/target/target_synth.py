"""Small synthetic target-tracking sequences: Gaussian stars drifting across a noisy sky
while the followed objects stay put (up to a jitter), written as FITS frames."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

SKY, NOISE, SIGMA = 100.0, 5.0, 1.1  # ADU, ADU RMS, PSF sigma in px (FWHM 2.6 px)


def render(shape, xy, flux, rng):
    """(ny, nx) float32 frame: sky + Gaussian spots at ``xy`` (n, 2) with total ``flux`` (n,)."""
    ny, nx = shape
    img = np.full(shape, SKY, dtype=np.float64)
    r = 5
    off = np.arange(-r, r + 1)
    cx, cy = np.rint(xy[:, 0]).astype(int), np.rint(xy[:, 1]).astype(int)
    X = cx[:, None, None] + off[None, None, :]
    Y = cy[:, None, None] + off[None, :, None]
    val = flux[:, None, None] / (2 * np.pi * SIGMA**2) * np.exp(
        -((X - xy[:, 0, None, None]) ** 2 + (Y - xy[:, 1, None, None]) ** 2) / (2 * SIGMA**2))
    X, Y, val = np.broadcast_arrays(X, Y, val)
    ok = (X >= 0) & (X < nx) & (Y >= 0) & (Y < ny)
    np.add.at(img, (Y[ok], X[ok]), val[ok])
    return (img + rng.normal(0, NOISE, shape)).astype(np.float32)


def flux_for_snr(snr):
    """Total flux giving a peak-pixel S/N of roughly ``snr`` for the PSF above."""
    return snr * NOISE * 2 * np.pi * SIGMA**2


def make_sequence(folder, *, n_frames=10, shape=(200, 240), n_stars=60, star_step=(7.0, 3.0),
                  targets=((120.0, 100.0),), target_snr=20.0, jitter=0.3, crossing=None,
                  stars=None, clear=8.0, seed=0):
    """Write a sequence to ``folder`` and return ``(folder, truth)``.

    ``truth`` is an (n_frames, n_targets, 2) array of target positions. Stars move
    ``star_step`` px per frame. ``crossing=(frame, target)`` puts a bright star on that
    target in that frame. ``stars`` overrides the random star positions at frame 0; stars
    that would pass within ``clear`` px of a target are left out (no chance crossings).
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    lo = -np.array(star_step) * n_frames
    if stars is None:
        stars = np.column_stack([rng.uniform(min(0, lo[0]), nx + max(0, -lo[0]), n_stars),
                                 rng.uniform(min(0, lo[1]), ny + max(0, -lo[1]), n_stars)])
    star_flux = 10 ** rng.uniform(np.log10(flux_for_snr(8)), np.log10(flux_for_snr(200)), len(stars))
    targets = np.asarray(targets, dtype=float).reshape(-1, 2)
    path = stars[None] + np.arange(n_frames)[:, None, None] * np.asarray(star_step)
    if len(targets):
        near = np.hypot(*(path[:, :, None] - targets[None, None]).transpose(3, 0, 1, 2)).min(axis=(0, 2))
        stars, star_flux = stars[near > clear], star_flux[near > clear]
    truth = np.empty((n_frames, len(targets), 2))
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n_frames):
        s = stars + k * np.asarray(star_step)
        t = targets + rng.uniform(-jitter, jitter, targets.shape)
        truth[k] = t
        xy, flux = [s, t], [star_flux, np.full(len(t), flux_for_snr(target_snr))]
        if crossing is not None and crossing[0] == k:
            xy.append(t[crossing[1]][None] + 0.5)
            flux.append(np.array([flux_for_snr(60)]))
        img = render(shape, np.vstack(xy), np.concatenate(flux), rng)
        hdr = fits.Header()
        hdr["DATE-OBS"] = f"2026-01-01T00:00:{k * 2:02d}"
        hdr["EXPTIME"] = 1.0
        hdr["PIXSCALE"] = 1.5
        fits.PrimaryHDU(img, hdr).writeto(folder / f"{k:06d}.fits")
    return folder, truth
