"""Raw frames: overscan subtraction, TRIMSEC/DATASEC crop, common area of slightly different frames."""

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from debristrack.errors import InputError
from debristrack.io.raw import Layout, parse_section, plan_layout
from debristrack.io.sequence import open_sequence


def _wcs_keys(crpix=(30.0, 20.0)):
    return dict(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=150.0, CRVAL2=20.0, CRPIX1=crpix[0],
                CRPIX2=crpix[1], CD1_1=-2e-4, CD1_2=0.0, CD2_1=0.0, CD2_2=2e-4)


def _write(path, data, **header):
    hdu = fits.PrimaryHDU(data)
    for key, value in header.items():
        hdu.header[key.replace("DATE_OBS", "DATE-OBS")] = value
    hdu.writeto(path)


def test_parse_section():
    assert parse_section("[17:528,1:520]") == ((0, 520), (16, 528))
    assert parse_section("[  4:  13,   1: 520]") == ((0, 520), (3, 13))
    assert parse_section("[2048:1,1:10]") == ((0, 10), (0, 2048))  # flipped readout
    assert parse_section("UNKNOWN") is None and parse_section(None) is None


def test_overscan_subtracted_and_trimmed_with_wcs_kept_on_the_sky(tmp_path, frame_writer):
    rng = np.random.default_rng(1)
    ny, nx = 40, 60
    bias = 200.0 + np.linspace(0, 20, ny)[:, None]  # a bias that drifts along the rows
    data = np.full((ny, nx), 0.0) + bias
    data[:, 10:] += 50.0 + rng.normal(0, 1, (ny, nx - 10))  # sky, then 10 overscan columns on the left
    data[5, 30] += 1000.0  # a star at file pixel (x=30, y=5)
    _write(tmp_path / "raw.fits", data.astype(np.float32), BIASSEC="[1:8,1:40]", TRIMSEC="[11:60,1:40]",
                 SATURATE=60000.0, **_wcs_keys())
    seq = open_sequence(tmp_path / "raw.fits")
    frame = seq[0]
    assert seq.shape == (40, 50)
    assert abs(np.median(frame.data) - 50.0) < 1.0  # the drifting bias is gone from every row
    assert abs(np.median(frame.data[:5]) - np.median(frame.data[-5:])) < 1.5
    assert frame.data[5, 20] > 1000  # the star moved 10 columns left with the crop
    assert frame.header["SATURATE"] < 60000.0 - 150  # the level is relative to the bias now
    file_wcs = WCS(fits.getheader(tmp_path / "raw.fits"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(seq.wcs(0).pixel_to_world_values(20, 5), file_wcs.pixel_to_world_values(30, 5))


def test_sections_outside_the_image_are_ignored_on_that_axis():
    h = fits.Header()
    # a windowed readout: the full chip's rows in the sections, its overscan columns present
    h["TRIMSEC"], h["BIASSEC"] = "[17:1078,1:1020]", "[1:16,1:1020]"
    assert plan_layout(h, (712, 1078)) == Layout(rows=(0, 712), cols=(16, 1078), overscan=((0, 712), (0, 16)))
    # a cut-out of a mosaic CCD: its parent's sections describe pixels that are not in the file
    h["TRIMSEC"], h["BIASSEC"] = "[51:2098,1:4608]", "[2099:2304,1:4608]"
    assert plan_layout(h, (200, 100)).is_identity((200, 100))
    # overscan columns inside the image but the data section is not: the strip may be sky
    h["TRIMSEC"], h["BIASSEC"] = "[41:1064,1:1020]", "[1:16,1:1020]"
    assert plan_layout(h, (343, 383)).is_identity((343, 383))


def test_slightly_different_frames_cropped_to_common_area(tmp_path, frame_writer):
    for i, ny in enumerate((102, 100, 101)):
        _write(tmp_path / f"f{i}.fits", np.full((ny, 30), float(i), np.float32),
               DATE_OBS=f"2024-01-01T00:00:0{i}", **_wcs_keys())
    seq = open_sequence(tmp_path)
    assert seq.shape == (100, 30) and all(f.data.shape == (100, 30) for f in seq)
    assert len(seq.notes) == 1 and "100-102 rows" in seq.notes[0] and "common area" in seq.notes[0]
    assert seq.header(0)["CRPIX2"] == 20.0  # cropped at the top: the origin did not move


def test_very_different_frames_are_still_an_error(tmp_path, frame_writer):
    frame_writer(tmp_path / "a.fits", np.zeros((100, 100), np.float32))
    frame_writer(tmp_path / "b.fits", np.zeros((80, 100), np.float32))
    with pytest.raises(InputError, match=r"b\.fits: frame shape 100x80 \(nx x ny\) differs"):
        open_sequence(tmp_path)


# ---- real frames ----

def test_neossat_sequences_load_with_overscan_cut(shared):
    seq = open_sequence(shared / "real-dev" / "sequences" / "neossat-leonard-night1")
    assert len(seq) == 8 and seq.shape == (708, 1062)  # 708-712 rows, 16 overscan columns cut
    assert len(seq.notes) == 1 and "708-712 rows" in seq.notes[0]
    frame = seq[0]
    assert abs(np.median(frame.data[:, 100:200]) - 700) < 300  # sky above the ~1650 ADU bias, not 2300 raw
    assert seq.header(0)["CRPIX1"] == 558.0 - 16
    small = open_sequence(shared / "real-dev" / "sequences" / "neossat-213p")
    assert len(small) == 13 and small.shape == (343, 383)  # a window: its full-chip sections do not apply


def test_a8280271_overscan_strip_gone(shared):
    path = shared / "real-dev" / "no-streaks" / "a8280271.fits"
    frame = open_sequence(path)[0]
    assert frame.data.shape == (520, 512)  # TRIMSEC [17:528,1:520]
    raw = fits.getdata(path).astype(float)
    assert np.median(raw[:, 3:13]) > 200 and np.median(raw[:, 16:528]) > 290  # bias ~214, sky ~300 raw
    cols = np.median(frame.data, axis=0)
    assert abs(np.median(cols) - (np.median(raw[:, 16:528]) - np.median(raw[:, 3:13]))) < 2
    assert cols.min() > 0.7 * np.median(cols)  # no strip at the bias level (0) left at either edge


def test_cutouts_keep_their_pixels(shared):
    lco = open_sequence(shared / "real" / "streaks" / "lco_cutout.fits")
    assert lco.shape == (400, 400)  # BIASSEC [2099:2130,...] is its parent chip's


# ---- colour-filter arrays, darks and flats ----

def _sip_keys():
    keys = _wcs_keys(crpix=(20.5, 15.5))
    keys.update(CTYPE1="RA---TAN-SIP", CTYPE2="DEC--TAN-SIP", A_ORDER=2, B_ORDER=2, A_2_0=2e-5, A_1_1=-1e-5,
                A_0_2=3e-5, B_2_0=-2e-5, B_1_1=1e-5, B_0_2=1e-5)
    return keys


def test_bayer_frame_binned_to_luminance_with_wcs_and_scale(tmp_path):
    ny, nx = 30, 40
    data = np.empty((ny, nx), np.float32)
    data[0::2, 0::2], data[0::2, 1::2], data[1::2, 0::2], data[1::2, 1::2] = 200, 100, 50, 200  # G R / B G
    _write(tmp_path / "osc.fits", data, BAYERPAT="GRBG", XPIXSZ=2.9, FOCALLEN=250.0, XBINNING=1, **_sip_keys())
    seq = open_sequence(tmp_path / "osc.fits")
    frame = seq[0]
    assert seq.shape == (15, 20) and np.allclose(frame.data, (100 + 2 * 200 + 50) / 4)  # no checkerboard
    assert any("GRBG" in n and "2x2" in n for n in seq.notes)
    assert seq.plate_scale() == pytest.approx(2 * 0.72, rel=1e-3)  # the WCS (0.72"/px) doubled
    assert "BAYERPAT" not in frame.header and frame.header["XBINNING"] == 2 and frame.header["XPIXSZ"] == 5.8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw_wcs = WCS(fits.getheader(tmp_path / "osc.fits"))
        # binned pixel (i, j) covers raw pixels 2i..2i+1: its centre is raw (2i + 0.5, 2j + 0.5), SIP included
        for x, y in ((0, 0), (7, 11), (19, 14)):
            np.testing.assert_allclose(seq.wcs(0).all_pix2world(x, y, 0),
                                       raw_wcs.all_pix2world(2 * x + 0.5, 2 * y + 0.5, 0), atol=1e-9)


def test_seestar_sequence_is_binned_and_scaled(shared):
    seq = open_sequence(shared / "real-dev" / "sequences" / "seestar-m94")
    assert len(seq) == 6 and seq.shape == (960, 540)  # 1080 x 1920 raw GRBG
    assert seq.plate_scale() == pytest.approx(4.785, abs=0.01)  # 2 x 2.9 um / 250 mm
    frame = seq[0]
    # a raw Bayer frame has a strong 2-pixel pattern (the colour channels differ); the binned one has none
    raw = fits.getdata(sorted((shared / "real-dev" / "sequences" / "seestar-m94").glob("*.fit"))[0]).astype(float)
    checker = lambda a: abs(np.median(a[0::2, 0::2]) - np.median(a[0::2, 1::2]))  # noqa: E731
    assert checker(raw) > 20 and checker(frame.data) < 0.2 * checker(raw)


def test_dark_and_flat(tmp_path, frame_writer):
    rng = np.random.default_rng(2)
    flat = np.ones((20, 30), np.float32)
    flat[:, 15:] = 0.5  # half the field has half the sensitivity
    dark = np.full((20, 30), 100.0, np.float32) + rng.normal(0, 1, (20, 30)).astype(np.float32)
    sky = 1000.0
    for i in range(2):
        frame_writer(tmp_path / "seq" / f"f{i}.fits", dark + sky * flat, EXPTIME=10.0)
    frame_writer(tmp_path / "dark.fits", dark, EXPTIME=10.0)
    for i in range(3):  # a folder of flats, median-combined
        frame_writer(tmp_path / "flats" / f"flat{i}.fits", 20000.0 * flat + rng.normal(0, 5, (20, 30)), EXPTIME=1.0)
    seq = open_sequence(tmp_path / "seq", dark=tmp_path / "dark.fits", flat=tmp_path / "flats")
    frame = seq[0]
    level = np.median(frame.data)
    assert np.allclose(frame.data, level, rtol=0.01)  # flat field and dark removed
    frame_writer(tmp_path / "small.fits", np.ones((10, 10), np.float32))
    with pytest.raises(InputError, match=r"small\.fits: dark frame shape 10x10"):
        open_sequence(tmp_path / "seq", dark=tmp_path / "small.fits")
