"""A tracking-mode sequence with an exactly known object: a real TLE seen from a site.

Used by the tests and by ``debristrack bench astrometry``: each frame's TAN WCS is centred
near the object's predicted position (the telescope follows it, with an offset), and the
object is placed at its predicted position plus Gaussian noise of known size, so the O-C
figures that come out can be compared with the noise that went in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS

from .ephemeris import Site, predict_tle


@dataclass(frozen=True)
class InjectedTrack:
    table: Table  # frame,id,x,y (pixels), before sky columns are added
    noise_arcsec: np.ndarray  # (2, n): injected RA*cos(dec) and Dec errors
    tle: tuple[str, str, str]


def write_tracking_sequence(folder: Path, tle, site: Site, *, start: str, frames: int, cadence_s: float = 10.0,
                            exptime_s: float = 5.0, noise_arcsec: float = 0.6, scale_arcsec: float = 1.0,
                            size: int = 32, rng: np.random.Generator | int | None = 0) -> InjectedTrack:
    """Write ``frames`` tiny FITS frames with WCS and OBSGEO headers; return the injected track."""
    rng = np.random.default_rng(rng)
    folder = Path(folder)
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    t0 = Time(start, scale="utc")
    times = t0 + TimeDelta(np.arange(frames) * cadence_s + exptime_s / 2, format="sec")
    pred = predict_tle(tle, times, site)
    noise = rng.normal(0, noise_arcsec, (2, frames))
    scale = scale_arcsec / 3600
    xs, ys = np.zeros(frames), np.zeros(frames)
    for i in range(frames):
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [pred.ra_deg[i] + 3 * scale, pred.dec_deg[i] - 2 * scale]  # following error
        w.wcs.crpix = [size / 2 + 0.5, size / 2 + 0.5]
        w.wcs.cdelt = [-scale, scale]
        hdu = fits.PrimaryHDU(np.zeros((size, size), np.float32), header=w.to_header())
        hdu.header["DATE-OBS"] = (t0 + TimeDelta(i * cadence_s, format="sec")).isot
        hdu.header["EXPTIME"] = exptime_s
        hdu.header["OBSGEO-B"], hdu.header["OBSGEO-L"], hdu.header["OBSGEO-H"] = site.lat_deg, site.lon_deg, site.height_m
        hdu.writeto(folder / "frames" / f"{i:06d}.fits", overwrite=True)
        ra = pred.ra_deg[i] + noise[0, i] / 3600 / np.cos(np.radians(pred.dec_deg[i]))
        dec = pred.dec_deg[i] + noise[1, i] / 3600
        x, y = w.all_world2pix([ra], [dec], 0)
        xs[i], ys[i] = x[0], y[0]
    table = Table({"frame": np.arange(frames), "id": np.ones(frames, int), "x": xs, "y": ys})
    return InjectedTrack(table, noise, tle)
