"""Sky positions from a TAN WCS, external WCS files and stare-mode propagation."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS

from debristrack.astrometry.sky import SIDEREAL_DEG_PER_S, add_sky_columns, propagate_stare_wcs, wcs_source
from debristrack.errors import InputError
from debristrack.io.sequence import open_sequence

SCALE = 2.0 / 3600  # deg/px
CRVAL = (150.0, 30.0)
CRPIX = (33.0, 25.0)  # FITS, 1-based
ROT = np.radians(20.0)
CD = SCALE * np.array([[-np.cos(ROT), np.sin(ROT)], [np.sin(ROT), np.cos(ROT)]])


def tan_header(crval=CRVAL):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = crval
    w.wcs.crpix = CRPIX
    w.wcs.cd = CD
    return w.to_header()


def gnomonic_pixels(ra, dec, crval=CRVAL):
    """Independent TAN projection (standard coordinates), 0-based pixels."""
    a, d = np.radians(ra), np.radians(dec)
    a0, d0 = np.radians(crval[0]), np.radians(crval[1])
    cosc = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(a - a0)
    xi = np.degrees(np.cos(d) * np.sin(a - a0) / cosc)
    eta = np.degrees((np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(a - a0)) / cosc)
    p = np.linalg.solve(CD, np.stack([xi, eta]))
    return p[0] + CRPIX[0] - 1, p[1] + CRPIX[1] - 1


def _sequence(tmp_path, n=3, header=None, exptime=4.0, step=10.0):
    t0 = Time("2024-03-01T20:00:00")
    for i in range(n):
        hdu = fits.PrimaryHDU(np.zeros((48, 64), np.float32))
        if header is not None:
            hdu.header.update(header(i) if callable(header) else header)
        hdu.header["DATE-OBS"] = (t0 + TimeDelta(i * step, format="sec")).isot
        hdu.header["EXPTIME"] = exptime
        hdu.writeto(tmp_path / f"f{i}.fits")
    return open_sequence(tmp_path)


def _sep_arcsec(ra1, dec1, ra2, dec2):
    d1, d2 = np.radians(dec1), np.radians(dec2)
    cos = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(np.radians(ra1 - ra2))
    return np.degrees(np.arccos(np.clip(cos, -1, 1))) * 3600


def test_points_match_independent_tan_within_001_px(tmp_path):
    seq = _sequence(tmp_path, header=tan_header())
    rng = np.random.default_rng(3)
    ra = CRVAL[0] + rng.uniform(-0.02, 0.02, 30)
    dec = CRVAL[1] + rng.uniform(-0.015, 0.015, 30)
    x, y = gnomonic_pixels(ra, dec)
    t = Table({"frame": np.arange(30) % 3, "id": np.arange(30), "x": x, "y": y})
    out = add_sky_columns(t, seq)
    err = _sep_arcsec(out["ra"], out["dec"], ra, dec)
    assert err.max() < 0.01 * SCALE * 3600  # 0.01 px equivalent
    assert out["time"][0] == "2024-03-01T20:00:02.000"  # mid-exposure


def test_streak_endpoints_and_exposure_times(tmp_path):
    seq = _sequence(tmp_path, header=tan_header())
    x, y = gnomonic_pixels(np.array([150.01, 149.99]), np.array([30.0, 30.005]))
    t = Table({"frame": [1], "id": [7], "x1": [x[0]], "y1": [y[0]], "x2": [x[1]], "y2": [y[1]]})
    out = add_sky_columns(t, seq)
    assert _sep_arcsec(out["ra1"][0], out["dec1"][0], 150.01, 30.0) < 0.02
    assert _sep_arcsec(out["ra2"][0], out["dec2"][0], 149.99, 30.005) < 0.02
    assert out["time_start"][0] == "2024-03-01T20:00:10.000" and out["time_end"][0] == "2024-03-01T20:00:14.000"


def test_no_wcs_means_no_sky_columns_and_one_note(tmp_path):
    seq = _sequence(tmp_path)
    notes = []
    out = add_sky_columns(Table({"frame": [0], "id": [1], "x": [1.0], "y": [2.0]}), seq, on_missing=notes.append)
    assert "ra" not in out.colnames and "time" in out.colnames
    assert len(notes) == 1 and "no WCS" in notes[0]


def test_external_wcs_file_applies_to_every_frame(tmp_path):
    (tmp_path / "frames").mkdir()
    seq = _sequence(tmp_path / "frames")
    fits.PrimaryHDU(header=tan_header()).writeto(tmp_path / "solved.wcs")
    src = wcs_source(seq, wcs_file=tmp_path / "solved.wcs", mode="target")
    assert all(src(i) is not None for i in range(len(seq)))
    with pytest.raises(InputError, match="no such WCS file"):
        wcs_source(seq, wcs_file=tmp_path / "missing.wcs")


def test_stare_propagation_follows_the_sky(tmp_path):
    """A fixed Earth pointing: the RA under a pixel grows at about 15.04 arcsec/s."""
    (tmp_path / "frames").mkdir()
    seq = _sequence(tmp_path / "frames", n=4, step=300.0)
    hdr = tan_header()
    hdr["DATE-OBS"] = "2024-03-01T20:00:00"
    hdr["EXPTIME"] = 4.0
    fits.PrimaryHDU(header=hdr).writeto(tmp_path / "solved.wcs")
    src = wcs_source(seq, wcs_file=tmp_path / "solved.wcs", mode="stare")
    ra0, dec0 = src(0).all_pix2world([10.0], [20.0], 0)
    ra3, dec3 = src(3).all_pix2world([10.0], [20.0], 0)
    assert (ra3 - ra0)[0] * 3600 == pytest.approx(900 * 15.0410686, rel=2e-3)
    assert abs(dec3 - dec0)[0] * 3600 < 60  # the CIP is within a few arcmin of the ICRS pole
    assert SIDEREAL_DEG_PER_S * 86164.0905 == pytest.approx(360.0, rel=1e-7)


def test_stare_propagation_agrees_with_astropy_altaz():
    """Independent check: the ICRS position of a fixed alt/az direction, 20 minutes apart."""
    from astropy import units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.utils import iers

    iers.conf.auto_download = False
    site = EarthLocation(lat=40 * u.deg, lon=-3 * u.deg, height=700 * u.m)
    t0 = Time("2024-03-01T22:00:00")
    t1 = t0 + TimeDelta(1200, format="sec")
    fixed = dict(alt=50 * u.deg, az=180 * u.deg)
    c0 = SkyCoord(AltAz(obstime=t0, location=site, **fixed)).icrs
    c1 = SkyCoord(AltAz(obstime=t1, location=site, **fixed)).icrs
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [c0.ra.deg, c0.dec.deg]
    w.wcs.crpix = [1, 1]
    w.wcs.cdelt = [-SCALE * 10, SCALE * 10]  # 20 arcsec/px: pixel 180 is 1 degree away
    moved = propagate_stare_wcs(w, t0, t1)
    # the centre and a pixel 1 degree away: where is that Earth-fixed direction at t1?
    for px, py in ((0.0, 0.0), (180.0, 150.0)):
        ra_a, dec_a = w.all_pix2world([px], [py], 0)
        altaz = SkyCoord(ra_a[0] * u.deg, dec_a[0] * u.deg).transform_to(AltAz(obstime=t0, location=site))
        truth = SkyCoord(AltAz(alt=altaz.alt, az=altaz.az, obstime=t1, location=site)).icrs
        ra, dec = moved.all_pix2world([px], [py], 0)
        assert _sep_arcsec(ra[0], dec[0], truth.ra.deg, truth.dec.deg) < 0.1
    assert _sep_arcsec(c1.ra.deg, c1.dec.deg, c0.ra.deg, c0.dec.deg) > 10000  # it did move
