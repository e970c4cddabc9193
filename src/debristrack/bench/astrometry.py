"""``debristrack bench astrometry``: how good the sky positions are.

1. Stare-mode WCS propagation ([GEO] pointing fixed to the Earth) against astropy's alt-az
   transformation, at the centre and the corners of a [GEO]-sized field (4096 px at
   8.79"/px, 10 deg), 20 and 60 minutes after the solution.
2. O-C ([TRK] eq. 23-24) of a real GPS TLE injected with known noise into a tracking
   sequence: the recovered sigma against the injected one.
3. Throughput of pixel -> sky for a tracks table.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from ..astrometry.ephemeris import Site, predict_tle, read_tle
from ..astrometry.residuals import accuracy, oc_residuals
from ..astrometry.sky import add_sky_columns, propagate_stare_wcs
from ..astrometry.testdata import write_tracking_sequence
from ..errors import InputError
from ..io.sequence import open_sequence
from .report import section_preamble, update_section
from ..config import int_at_least


def add_arguments(p) -> None:
    p.add_argument("--tle", type=Path, default=Path("../shared/data/tle/gps-ops.txt"),
                   help="TLE file for the O-C check (default ../shared/data/tle/gps-ops.txt)")
    p.add_argument("--object", default="GPS BIIR-2", help="object of the TLE file")
    p.add_argument("--frames", type=int_at_least(1), default=200, help="frames of the O-C sequence")
    p.add_argument("--quick", action="store_true", help="40 O-C frames")
    p.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))


def _propagation_errors(alt_deg: float, minutes: float) -> tuple[float, float]:
    """(centre, worst corner) error in arcsec of a 4096 px, 8.79"/px field."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.time import Time, TimeDelta
    from astropy.utils import iers
    from astropy.wcs import WCS

    iers.conf.auto_download = False
    site = EarthLocation(lat=40 * u.deg, lon=-3 * u.deg, height=700 * u.m)
    t0 = Time("2025-01-15T22:00:00")
    t1 = t0 + TimeDelta(minutes * 60, format="sec")
    centre = SkyCoord(AltAz(obstime=t0, location=site, alt=alt_deg * u.deg, az=180 * u.deg)).icrs
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [centre.ra.deg, centre.dec.deg]
    w.wcs.crpix = [2048.5, 2048.5]
    w.wcs.cdelt = [-8.79 / 3600, 8.79 / 3600]
    moved = propagate_stare_wcs(w, t0, t1)
    px = np.array([2047.5, 0.0, 4095.0, 0.0, 4095.0])
    py = np.array([2047.5, 0.0, 0.0, 4095.0, 4095.0])
    ra0, dec0 = w.all_pix2world(px, py, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fixed = SkyCoord(ra0 * u.deg, dec0 * u.deg).transform_to(AltAz(obstime=t0, location=site))
        truth = SkyCoord(AltAz(alt=fixed.alt, az=fixed.az, obstime=t1, location=site)).icrs
    ra1, dec1 = moved.all_pix2world(px, py, 0)
    err = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(truth).arcsec
    return float(err[0]), float(err[1:].max())


def run(args) -> int:
    if args.quick:
        args.frames = 40
    lines = [section_preamble(f"debristrack bench astrometry{' --quick' if args.quick else ''}")]
    lines += ["### Stare-mode WCS propagation vs astropy alt-az (site at latitude 40 deg, field 4096 px x 8.79\"/px)\n",
              "| pointing altitude | after | error at centre (\") | worst corner, 7 deg away (\") |", "|---:|---:|---:|---:|"]
    for alt in (30.0, 50.0, 80.0):
        for minutes in (20.0, 60.0):
            c, corner = _propagation_errors(alt, minutes)
            lines.append(f"| {alt:.0f} deg | {minutes:.0f} min | {c:.3f} | {corner:.3f} |")

    if not args.tle.is_file():
        raise InputError(f"{args.tle}: TLE file not found (run from the repository root with ../shared beside it, or give --tle)")
    tle = read_tle(args.tle, select=args.object)
    site = Site(40.0, -3.0, 700.0)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for noise in (0.3, 1.0, 3.0):
            inj = write_tracking_sequence(Path(tmp) / f"n{noise}", tle, site, start="2019-04-10T20:00:00",
                                          frames=args.frames, noise_arcsec=noise, rng=1)
            seq = open_sequence(Path(tmp) / f"n{noise}")
            t0 = time.perf_counter()
            sky = add_sky_columns(inj.table, seq)
            sky_s = time.perf_counter() - t0
            from astropy.time import Time

            pred = predict_tle(tle, Time(list(sky["time"]), format="isot", scale="utc"), site)
            dra, ddec = oc_residuals(sky["ra"], sky["dec"], pred.ra_deg, pred.dec_deg)
            fig = accuracy(dra, ddec, pred.range_m)
            want = np.sqrt(np.mean(inj.noise_arcsec ** 2, axis=1))
            rows.append((noise, want, fig, sky_s))
    lines += ["", f"### O-C of {tle[0]} (real TLE, gps-ops.txt) injected with noise, {args.frames} frames\n",
              "| injected sigma per axis (\") | sample RMS RA, Dec (\") | recovered sigma_RA, sigma_Dec (\") | sigma_total eq. 24 (\") | in metres at mean range |",
              "|---:|---|---|---:|---:|"]
    for noise, want, fig, _ in rows:
        lines.append(f"| {noise} | {want[0]:.4f}, {want[1]:.4f} | {fig.sigma_ra_arcsec:.4f}, {fig.sigma_dec_arcsec:.4f} | "
                     f"{fig.sigma_total_arcsec:.4f} | {fig.sigma_m:.1f} m at {fig.mean_range_km:.0f} km |")
    per_row = rows[-1][3] / args.frames
    lines.append(f"\nPixel -> sky (time, ra, dec) for a tracks table: {per_row * 1e3:.2f} ms per row "
                 "(one WCS per frame, built from the header).")
    text = "\n".join(lines)
    update_section("astrometry", "## Sky positions and O-C\n\n" + text, args.output)
    print(text)
    return 0
