"""Header adapters: exposure, times, site, pointing, gain, read noise, plate scale."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from debristrack.astrometry.sky import add_sky_columns, streak_end_times
from debristrack.io import header as H
from debristrack.io.sequence import open_sequence
from debristrack.io.times import end_time, mid_time, start_time


def _h(**cards):
    h = fits.Header()
    for k, v in cards.items():
        h[k.replace("__", "-")] = v
    return h


def test_parse_angle_forms():
    assert H.parse_angle("12 10 09.0", hours=True) == pytest.approx(182.5375)
    assert H.parse_angle("12:10:09", hours=True) == pytest.approx(182.5375)
    assert H.parse_angle("-21 35 56.5") == pytest.approx(-21.59903, abs=1e-5)
    assert H.parse_angle("+46:52:00.408") == pytest.approx(46.86678, abs=1e-5)
    assert H.parse_angle("-00:55:31") == pytest.approx(-0.92528, abs=1e-5)  # the sign of a zero degree
    assert H.parse_angle("-22:57:08:99") == pytest.approx(-(22 + 57 / 60 + 8.99 / 3600))  # PRISM
    assert H.parse_angle("193.07", hours=True) == 193.07  # a number is degrees even for RA
    assert H.parse_angle(240.1125, hours=True) == 240.1125
    assert H.parse_angle("UNKNOWN") is None and H.parse_angle("") is None


def test_exposure_keys_in_order():
    assert H.exposure_time(_h(EXP_TIME=3.0)) == 3.0
    assert H.exposure_time(_h(ITIME=600)) == 600.0
    assert H.exposure_time(_h(EXPTIME="53.9", EXPOSURE=10.0)) == 53.9  # numeric text (SDSS)
    assert H.exposure_time(_h()) is None


def test_start_mid_end_times():
    h = _h(DATE__BEG="2024-01-01T00:00:00", EXPTIME=10.0)
    assert start_time(h).isot == "2024-01-01T00:00:00.000"
    assert mid_time(h).isot == "2024-01-01T00:00:05.000" and end_time(h).isot == "2024-01-01T00:00:10.000"
    h = _h(MJD__OBS=60310.0, EXPTIME=10.0, DATE__AVG="2024-01-01T00:00:04.000", DATE__END="2024-01-01T00:00:10.5")
    assert mid_time(h).isot == "2024-01-01T00:00:04.000"  # the program's own mid-time
    assert end_time(h).isot == "2024-01-01T00:00:10.500"
    h = _h(DATE__OBS="2024-01-01T00:00:00", EXPTIME=10.0, MJD__AVG=60310.0 + 5.0 / 86400)
    assert abs((mid_time(h) - start_time(h)).to_value("s") - 5.0) < 1e-3
    # SharpCap writes DATE-AVG 0.7 ms after DATE-OBS for 20 s: not a mid-time
    h = _h(DATE__OBS="2024-07-22T22:48:42.063", DATE__AVG="2024-07-22T22:48:42.0638269", EXPTIME=20.0)
    assert mid_time(h).isot == "2024-07-22T22:48:52.063"
    assert start_time(h, 0.25).isot == "2024-07-22T22:48:42.313"  # --time-offset


def test_site_keyword_sets():
    s = H.site(_h(SITELAT="+46:52:00.408", SITELONG="-96:27:11.8008"))
    assert (s.lat_deg, s.lon_deg, s.height_m) == pytest.approx((46.86678, -96.45328, 0.0), abs=1e-5)
    s = H.site(_h(OBSLAT=34.93, OBSLONG=32.84))
    assert (s.lat_deg, s.lon_deg) == (34.93, 32.84)
    s = H.site(_h(LAT__OBS=-31.27, LONG__OBS=149.06, ALT__OBS=1165.0))
    assert (s.lat_deg, s.lon_deg, s.height_m) == (-31.27, 149.06, 1165.0)
    s = H.site(_h(SITELONG=210.934, SITELAT=-31.277))  # 0-360 east longitudes are folded to +-180
    assert s.lon_deg == pytest.approx(-149.066)
    # LCO: OBSGEO-X/Y/Z (ITRS metres) win over LATITUDE/LONGITUD/ALTITUDE (ALTITUDE is the telescope's)
    s = H.site(_h(OBSGEO__X=1815200.221, OBSGEO__Y=-5213900.7, OBSGEO__Z=-3187561.361, LATITUDE=-30.17,
                  LONGITUD=-70.8, ALTITUDE=62.5))
    assert s.source == "OBSGEO-X/OBSGEO-Y/OBSGEO-Z" and s.lat_deg == pytest.approx(-30.17, abs=0.01)
    assert 2000 < s.height_m < 2400
    assert H.site(_h(SITELAT="51 3 0.000")) is None  # no longitude: no site


def test_pointing_gain_noise_scale():
    assert H.pointing(_h(OBJCTRA="18 53 34.930", OBJCTDEC="+33 02 02.625", RA=1.0, DEC=2.0))[:2] == \
        pytest.approx((283.39554, 33.03406), abs=1e-5)
    assert H.pointing(_h(RA=240.1125, DEC=20.661389)) == (240.1125, 20.661389, "RA/DEC")
    assert H.gain(_h(GAIN=120, EGAIN=3.99)) == 3.99
    assert H.gain(_h(GAIN=45, SWCREATE="SharpCap v4.1.12100.0, 64 bit")) is None  # a gain setting
    assert H.gain(_h(GAIN="1.10    ", CREATOR="NEOSSat")) == 1.1
    assert H.read_noise(_h(RDNOISE="8.00")) == 8.0
    assert H.plate_scale(_h(XPIXSZ=2.9, FOCALLEN=250)) == pytest.approx(2.3927, abs=1e-4)
    assert H.plate_scale(_h(XPIXSZ=3.8, FOCALLEN=1)) is None  # SharpCap's unset focal length
    assert H.plate_scale(_h(PIXSCALE=0.65415, XPIXSZ=1.0, FOCALLEN=100)) == 0.65415


def test_real_headers(shared):
    dev = shared / "real-dev"
    seestar = open_sequence(dev / "sequences" / "seestar-m94").header(0)
    assert H.site(seestar).source == "SITELAT/SITELONG" and H.pointing(seestar)[2] == "RA/DEC"
    neossat = open_sequence(dev / "sequences" / "neossat-213p").header(0)
    s = H.site(neossat)  # the spacecraft's ECEF position at mid-exposure
    assert s.source.startswith("EPOS2") and 7.0e5 < s.height_m < 8.5e5
    assert H.pointing(neossat)[:2] == pytest.approx((289.625, -21.59903), abs=1e-4)
    assert H.exposure_time(neossat) == pytest.approx(134.043)  # EXPOSURE
    decam = fits.getheader(shared / "real" / "no-streaks" / "decam_calexp_cutout.fits", 0)
    assert H.site(decam).lon_deg == pytest.approx(-70.81489)  # OBS-LAT/OBS-LONG/OBS-ELEV
    sharpcap = fits.getheader(dev / "no-streaks" / "272_mpc_1.1_00001.fits")
    assert H.gain(sharpcap) is None and H.site(sharpcap).source == "OBSLAT/OBSLONG"


def test_time_offset_shifts_every_frame(tmp_path, frame_writer):
    for i in range(2):
        frame_writer(tmp_path / f"f{i}.fits", np.zeros((4, 4), np.float32), DATE_OBS=f"2024-01-01T00:00:0{i}",
                     EXPTIME=2.0)
    seq = open_sequence(tmp_path, time_offset=0.5)
    assert seq.times[1].isot == "2024-01-01T00:00:02.500"
    assert seq.start_time(1).isot == "2024-01-01T00:00:01.500" and seq.end_time(1).isot == "2024-01-01T00:00:03.500"


def test_streak_ends_get_start_and_end_times(tmp_path, frame_writer):
    for i in range(3):
        frame_writer(tmp_path / f"f{i}.fits", np.zeros((4, 4), np.float32), DATE_OBS=f"2024-01-01T00:00:{10 * i:02d}",
                     EXPTIME=4.0)
    seq = open_sequence(tmp_path)
    # track 1 moves towards -x: its right end (x2) was passed first; track 2 is seen once
    t = Table({"frame": [0, 1, 2, 1], "id": [1, 1, 1, 2], "x1": [90.0, 70.0, 50.0, 5.0], "y1": [5.0] * 4,
               "x2": [98.0, 78.0, 58.0, 9.0], "y2": [5.0] * 4})
    assert list(streak_end_times(t)) == [-1, -1, -1, 0]
    out = add_sky_columns(t, seq)
    assert out["time2"][1] == "2024-01-01T00:00:10.000" and out["time1"][1] == "2024-01-01T00:00:14.000"
    assert out["time1"][3] == "" and out["time_start"][3] == "2024-01-01T00:00:10.000"
    points = add_sky_columns(Table({"frame": [2], "id": [1], "x": [1.0], "y": [1.0]}), seq)
    assert points["time_start"][0] == "2024-01-01T00:00:20.000" and points["time_end"][0] == "2024-01-01T00:00:24.000"


def test_endpoint_times_follow_their_endpoints_when_normalized():
    from debristrack.io.tables import normalize_streaks

    t = Table({"frame": [0], "id": [1], "x1": [9.0], "y1": [0.0], "x2": [1.0], "y2": [0.0],
               "time1": ["2024-01-01T00:00:00.000"], "time2": ["2024-01-01T00:00:04.000"]})
    out = normalize_streaks(t)
    assert out["x1"][0] == 1.0 and out["time1"][0] == "2024-01-01T00:00:04.000"


def test_pointing_dec_reads_text_keywords(tmp_path, frame_writer):
    frame_writer(tmp_path / "m.fits", np.zeros((4, 4), np.float32), OBJCTDEC="-21 35 56.5", OBJCTRA="19 18 30.0")
    assert open_sequence(tmp_path / "m.fits").pointing_dec() == pytest.approx(-21.59903, abs=1e-5)
