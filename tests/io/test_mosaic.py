"""Mosaic exposures: extensions sharing one DATE-OBS are CCDs of one exposure, not frames."""

import numpy as np
import pytest
from astropy.io import fits

from debristrack.cli import main
from debristrack.errors import InputError
from debristrack.io.sequence import mosaic_ccds, open_sequence


def _mosaic(path, date, values, names=("CCD1", "CCD2")):
    hdus = [fits.PrimaryHDU()]
    hdus[0].header["DATE-OBS"] = date
    hdus[0].header["EXPTIME"] = 5.0
    for name, v in zip(names, values):
        hdus.append(fits.ImageHDU(np.full((20, 30), v, np.float32), name=name))
    fits.HDUList(hdus).writeto(path)


def test_lbc_reads_as_four_ccds(shared):
    path = shared / "real-dev" / "no-streaks" / "cutout_lbcb.20210407.120357.fits"
    assert mosaic_ccds(path) == ["LBCCHIP1", "LBCCHIP2", "LBCCHIP3", "LBCCHIP4"]
    with pytest.raises(InputError, match=r"mosaic exposures of 4 CCDs \(LBCCHIP1, .*each CCD is a sequence"):
        open_sequence(path)
    for ccd in mosaic_ccds(path):  # a single mosaic file is a set of single frames
        seq = open_sequence(path, ccd=ccd)
        assert len(seq) == 1 and seq.shape == (200, 100) and seq.ccd == ccd
        assert seq.names == [f"{path.name}[{ccd}]"] and seq.wcs(0) is not None
        assert seq.times[0].isot == "2021-04-07T12:04:57.391"  # LBC's DATE_OBS + EXPTIME/2


def test_folder_of_mosaic_files_is_one_sequence_per_ccd(tmp_path):
    for k in range(3):
        _mosaic(tmp_path / f"m{k}.fits", f"2024-01-01T00:00:{10 * k:02d}", (k, 100 + k))
    assert mosaic_ccds(tmp_path) == ["CCD1", "CCD2"]
    seq = open_sequence(tmp_path, ccd="CCD2")
    assert len(seq) == 3 and [f.data[0, 0] for f in seq] == [100, 101, 102]
    with pytest.raises(InputError, match=r"no CCD named 'CCD9'"):
        open_sequence(tmp_path, ccd="CCD9")


def test_time_series_mef_and_cube_keep_frames(tmp_path):
    hdus = [fits.PrimaryHDU()]
    for k in range(3):  # a DATE-OBS per extension: frames of a sequence
        h = fits.ImageHDU(np.full((5, 5), k, np.float32))
        h.header["DATE-OBS"] = f"2024-01-01T00:00:0{k}"
        hdus.append(h)
    fits.HDUList(hdus).writeto(tmp_path / "series.fits")
    assert mosaic_ccds(tmp_path / "series.fits") == [] and len(open_sequence(tmp_path / "series.fits")) == 3


def test_track_reports_each_ccd(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for k in range(3):
        hdus = [fits.PrimaryHDU()]
        hdus[0].header["DATE-OBS"] = f"2024-01-01T00:00:{10 * k:02d}"
        hdus[0].header["EXPTIME"] = 5.0
        for name in ("CCD1", "CCD2"):
            hdus.append(fits.ImageHDU(rng.normal(100, 5, (64, 64)).astype(np.float32), name=name))
        fits.HDUList(hdus).writeto(tmp_path / f"m{k}.fits")
    out = tmp_path / "out" / "tracks.csv"
    assert main(["track", str(tmp_path), "--mode", "target", "-o", str(out)]) == 0
    assert (tmp_path / "out" / "tracks-CCD1.csv").is_file() and (tmp_path / "out" / "tracks-CCD2.csv").is_file()
    err = capsys.readouterr().err
    assert f"{tmp_path}[CCD1]:" in err and f"{tmp_path}[CCD2]:" in err
