"""Issue 16 items 1, 6, 11: corrupt gzip, wrong WCS/DATE-OBS metadata, awkward files.

Each is an error or note naming the file and the problem, never garbage or a traceback.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from debristrack.astrometry.sky import add_sky_columns
from debristrack.cli import main
from debristrack.errors import InputError
from debristrack.io.sequence import open_sequence
from tests.conftest import write_frame

WCS_KEYS = dict(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=60.0, CRVAL2=10.0, CRPIX1=16.0, CRPIX2=16.0,
                CDELT1=-0.0004, CDELT2=0.0004, CUNIT1="deg", CUNIT2="deg")


def _gz_bytes(tmp_path) -> bytes:
    data = np.random.default_rng(0).normal(100, 5, (256, 256)).astype(np.float32)
    fits.PrimaryHDU(data).writeto(tmp_path / "plain.fits")
    return gzip.compress((tmp_path / "plain.fits").read_bytes())


def test_corrupt_gzip_stream_is_an_error_naming_the_file(tmp_path):
    raw = bytearray(_gz_bytes(tmp_path))
    for k in range(300):  # 300 flipped bytes mid-stream: astropy alone reads garbage, exit 0
        raw[len(raw) // 2 + k] ^= 0x55
    bad = tmp_path / "frame.fits.gz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(InputError, match=r"frame\.fits\.gz: corrupt gzip file \(CRC check failed"):
        open_sequence(bad)


def test_flipped_crc_alone_is_caught(tmp_path):
    raw = bytearray(_gz_bytes(tmp_path))
    raw[-6] ^= 1  # the pixels decompress fine; only the trailer's CRC-32 disagrees
    bad = tmp_path / "crc.fits.gz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="crc.fits.gz: corrupt gzip file"):
        open_sequence(bad)


def test_corrupt_gzip_header_is_one_line_no_traceback(tmp_path, capsys):
    raw = bytearray(_gz_bytes(tmp_path))
    raw[10:20] = b"\xff" * 10  # the first deflate block header
    folder = tmp_path / "seq"
    folder.mkdir()
    (folder / "f0.fits.gz").write_bytes(bytes(raw))
    assert main(["track", str(folder), "--mode", "stare", "-o", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "f0.fits.gz: corrupt gzip file" in err[0], err


def test_intact_gzip_still_reads(tmp_path):
    (tmp_path / "ok.fits.gz").write_bytes(_gz_bytes(tmp_path))
    assert abs(float(np.mean(open_sequence(tmp_path / "ok.fits.gz")[0].data)) - 100) < 1


def test_real_hsc_cutout_with_cunit_degree_has_sky_coordinates(shared):
    seq = open_sequence(shared / "real" / "streaks" / "hsc_cutout.fits")
    assert seq.header(0)["CUNIT1"] == "degree"  # not a FITS unit: wcslib alone refuses it
    assert seq.wcs(0) is not None and seq.wcs_problem(0) is None
    assert 0.15 < seq.plate_scale() < 0.19  # HSC: 0.168 arcsec/px
    table = Table({"frame": [0], "id": [1], "x": [10.0], "y": [20.0]})
    out = add_sky_columns(table, seq)
    assert np.isfinite(out["ra"][0]) and np.isfinite(out["dec"][0])


def test_broken_ctype_is_named_not_called_missing(tmp_path):
    write_frame(tmp_path / "s" / "a.fits", np.zeros((32, 32), np.float32), **{**WCS_KEYS, "CTYPE1": "RA---XYZ"})
    seq = open_sequence(tmp_path / "s")
    notes = []
    add_sky_columns(Table({"frame": [0], "id": [1], "x": [1.0], "y": [1.0]}), seq, on_missing=notes.append)
    note = next(n for n in notes if "WCS cannot be read" in n)
    assert "a.fits" in note and "CTYPE1='RA---XYZ'" in note and "projection" in note, notes
    assert "ERROR" not in note and "wcs.c" not in note


def test_one_bad_date_obs_keeps_the_other_frames_times(tmp_path):
    dates = ["2025-01-15T18:00:00", "yesterday", "2025-01-15T18:00:12"]
    for k, date in enumerate(dates):
        write_frame(tmp_path / "s" / f"f{k}.fits", np.zeros((16, 16), np.float32), DATE_OBS=date, EXPTIME=2.0)
    seq = open_sequence(tmp_path / "s")
    notes = []
    out = add_sky_columns(Table({"frame": [0, 1, 2], "id": [1, 1, 1], "x": [1.0] * 3, "y": [1.0] * 3}), seq,
                          on_missing=notes.append)
    assert list(out["time"]) == ["2025-01-15T18:00:01.000", "", "2025-01-15T18:00:13.000"]
    assert any("f1.fits" in n and "DATE-OBS='yesterday'" in n for n in notes), notes


def test_csv_with_utf8_bom_reads(tmp_path):
    from debristrack.io.tables import read_table

    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffframe,id,x,y\n0,1,2.5,3.5\n".encode("utf-8"))  # Excel's "CSV UTF-8"
    table = read_table(path)
    assert table.colnames[:4] == ["frame", "id", "x", "y"] and table["x"][0] == 2.5


def _three_frames(folder):
    for k in range(3):
        write_frame(folder / f"f{k}.fits", np.full((16, 16), 10.0 + k, np.float32))
    return folder


def test_appledouble_and_broken_symlink_are_skipped_with_a_note(tmp_path, capsys):
    folder = _three_frames(tmp_path / "s")
    (folder / "._f0.fits").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 80)  # AppleDouble magic
    (folder / "gone.fits").symlink_to(tmp_path / "nowhere.fits")
    seq = open_sequence(folder)
    assert seq.names == ["f0.fits", "f1.fits", "f2.fits"]
    err = capsys.readouterr().err
    assert "._f0.fits: skipped: a macOS AppleDouble" in err and "gone.fits: skipped: a broken symbolic link" in err


def test_one_dimensional_image_says_so(tmp_path):
    fits.PrimaryHDU(np.arange(50, dtype=np.float32)).writeto(tmp_path / "spectrum.fits")
    with pytest.raises(InputError, match=r"spectrum\.fits: HDU 0 is a 1-D array of 50 values"):
        open_sequence(tmp_path / "spectrum.fits")


def test_overlay_of_a_longer_table_on_a_shorter_sequence_is_an_error(tmp_path, capsys):
    folder = _three_frames(tmp_path / "s")
    tracks = tmp_path / "t.csv"
    tracks.write_text("frame,id,x,y\n0,1,3,3\n5,1,4,4\n")
    code = main(["export", str(tracks), "--overlay", str(tmp_path / "o.png"), "--sequence", str(folder)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "the table has frame 5 but the sequence has 3 frames" in err[0]
    assert not (tmp_path / "o.png").exists()


def test_simulate_rerun_with_another_size_reports_the_sizes_on_disk(tmp_path, capsys):
    base = ["simulate", "--mode", "stare", "--frames", "3", "--out", str(tmp_path / "ds"), "--no-progress"]
    assert main(base + ["--size", "32"]) == 0
    capsys.readouterr()
    assert main(base + ["--size", "48", "--sequences", "2"]) == 0
    out = capsys.readouterr().out
    assert "frames of 32x32 (1 sequences), 48x48 (1 sequences)" in out, out
