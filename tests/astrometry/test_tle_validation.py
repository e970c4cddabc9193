"""Issue 16 item 9: TLEs are validated (length, checksum, catalogue numbers, numeric fields) and a
TLE far from the frames' epoch gives a warning; bad TLEs are one-line errors, never tracebacks."""

from __future__ import annotations

import pytest
from astropy.time import Time

from debristrack.astrometry.ephemeris import Site, epoch_warning, read_tle, tle_checksum, tle_epoch
from debristrack.astrometry.sky import add_sky_columns
from debristrack.astrometry.testdata import write_tracking_sequence
from debristrack.cli import main
from debristrack.errors import InputError
from debristrack.io.sequence import open_sequence
from debristrack.io.tables import write_table


def _real(shared):
    return read_tle(shared / "data" / "tle" / "gps-ops.txt", select="GPS BIIR-2")


def _with_checksum(line: str) -> str:
    return line[:68] + str(tle_checksum(line))


def _write(tmp_path, name, l1, l2):
    path = tmp_path / "one.tle"
    path.write_text(f"{name}\n{l1}\n{l2}\n")
    return path


def test_real_tles_pass_and_epoch_is_read(shared):
    name, l1, l2 = _real(shared)
    assert tle_epoch((name, l1, l2)).isot.startswith("2019-04-")


def test_line_cut_short(tmp_path, shared):
    name, l1, l2 = _real(shared)
    with pytest.raises(InputError, match=r"line 2 has 60 characters.*cut short"):
        read_tle(_write(tmp_path, name, l1, l2[:60]))


def test_bad_checksum(tmp_path, shared):
    name, l1, l2 = _real(shared)
    wrong = str((int(l1[68]) + 1) % 10)
    with pytest.raises(InputError, match=r"one\.tle: 'GPS BIIR-2 .*line 1 checksum"):
        read_tle(_write(tmp_path, name, l1[:68] + wrong, l2))


def test_letter_in_a_field(tmp_path, shared):
    name, l1, l2 = _real(shared)
    l2 = _with_checksum(l2[:10] + "X" + l2[11:])  # inclination, checksum made right
    with pytest.raises(InputError, match=r"line 2 inclination \(columns 9-16\) is not a number"):
        read_tle(_write(tmp_path, name, l1, l2))


def test_mismatched_catalogue_numbers(tmp_path, shared):
    name, l1, l2 = _real(shared)
    l2 = _with_checksum(l2[:2] + "99999" + l2[7:])
    with pytest.raises(InputError, match="catalogue numbers differ"):
        read_tle(_write(tmp_path, name, l1, l2))


def test_epoch_far_from_frames_warns(shared):
    tle = _real(shared)
    assert epoch_warning(tle, Time(["2019-04-10T20:00:00"])) is None
    text = epoch_warning(tle, Time(["2025-04-10T20:00:00"]))
    assert text and "days from the frames" in text and "2,1" in text  # about 2,190 days


def test_cli_bad_tle_is_one_line_and_old_tle_warns(tmp_path, shared, capsys):
    tle = _real(shared)
    inj = write_tracking_sequence(tmp_path / "seq", tle, Site(40.0, -3.0, 700.0), start="2019-04-10T20:00:00",
                                  frames=4, noise_arcsec=0.5, rng=1)
    write_table(add_sky_columns(inj.table, open_sequence(tmp_path / "seq")), tmp_path / "tracks.csv")
    bad = _write(tmp_path, tle[0], tle[1], tle[2][:50])
    code = main(["residuals", str(tmp_path / "tracks.csv"), "--tle", str(bad), "--site", "40,-3,700"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cut short" in err[0], err

    # the same frames, six years after the epoch: a number comes out, with a warning beside it
    text = (tmp_path / "tracks.csv").read_text().replace("2019-04-10", "2025-04-10")
    (tmp_path / "late.csv").write_text(text)
    code = main(["residuals", str(tmp_path / "late.csv"), "--tle", str(shared / "data/tle/gps-ops.txt"),
                 "--object", "GPS BIIR-2", "--site", "40,-3,700"])
    assert code == 0
    assert "warning: TLE 'GPS BIIR-2" in capsys.readouterr().err
