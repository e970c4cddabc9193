"""Plate solving with astrometry.net: sidecar .wcs files, hints, modes, clear failures."""

import shutil
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from debristrack.astrometry.solve import SolveConfig, compare_wcs, frames_to_solve, solve_sequence, solve_stars
from debristrack.cli import main
from debristrack.errors import InputError
from debristrack.io.header import wcs_kind
from debristrack.io.sequence import open_sequence, sidecar_path, strip_wcs
from debristrack.io.tables import read_table

needs_solver = pytest.mark.skipif(shutil.which("solve-field") is None,
                                  reason="astrometry.net's solve-field is not installed")


def _copy_without_wcs(src, dst, *, date=None):
    with fits.open(src) as hdul:
        hdu = next(h for h in hdul if h.is_image and h.data is not None)
        header = strip_wcs(hdu.header)
        if date:
            header["DATE-OBS"] = date
        fits.PrimaryHDU(np.array(hdu.data), header).writeto(dst)
    return dst


def test_starless_frame_gives_a_clear_reason(tmp_path, frame_writer):
    rng = np.random.default_rng(0)
    frame_writer(tmp_path / "flat.fits", rng.normal(1000, 10, (200, 200)).astype(np.float32))
    results = solve_sequence(open_sequence(tmp_path / "flat.fits"))
    assert len(results) == 1 and results[0].sidecar is None
    assert results[0].message.startswith("flat.fits: could not solve: ") and "star(s) found" in results[0].message
    assert list(tmp_path.glob("*.wcs")) == []
    assert main(["solve", str(tmp_path / "flat.fits")]) == 1


def test_real_starless_ccd_gives_a_clear_reason(shared, tmp_path):
    # an LBC CCD cut-out of 22" x 45" has no star bright enough to match
    path = shared / "real-dev" / "no-streaks" / "cutout_lbcb.20210407.120357.fits"
    results = solve_sequence(open_sequence(path, ccd="LBCCHIP1"), wcs_dir=tmp_path, force=True)
    assert results[0].sidecar is None
    assert results[0].message == f"{path.name}[LBCCHIP1]: could not solve: 0 star(s) found, 6 needed"


def test_pointing_only_wcs_is_solved_and_solved_wcs_is_kept(tmp_path, frame_writer):
    header = dict(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRVAL1=10.0, CRVAL2=20.0, CRPIX1=5.0, CRPIX2=5.0,
                  CDELT1=-1e-3, CDELT2=1e-3)
    path = frame_writer(tmp_path / "a.fits", np.zeros((10, 10), np.float32), **header)
    assert wcs_kind(fits.getheader(path)) == "solved"
    h = fits.getheader(path)
    h["WCSNAME"] = ("celestial", "Est. based on spacecraft attitude determination")  # NEOSSat's words
    assert wcs_kind(h) == "pointing"
    h["WCSNAME"] = "astrometry.net"
    h["CDELT1"] = 0.0
    assert wcs_kind(h) == "pointing"  # a degenerate matrix: no scale or orientation
    assert frames_to_solve(open_sequence(path)) == [] and frames_to_solve(open_sequence(path), force=True) == [0]


def test_unwritable_sidecar_folder_fails_before_the_work(tmp_path, frame_writer):
    frame_writer(tmp_path / "a.fits", np.zeros((10, 10), np.float32))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match=r"cannot write the \.wcs sidecar files here; give --wcs-dir"):
        solve_sequence(open_sequence(tmp_path / "a.fits"), wcs_dir=blocker / "sub")


def test_solve_stars_without_solver_or_stars():
    sol = solve_stars(np.zeros((2, 2)), np.ones(2), 100, 100)
    assert not sol.ok and sol.reason == "could not solve: 2 star(s) found, 6 needed"


@needs_solver
def test_real_frame_solved_with_its_wcs_removed(shared, tmp_path):
    # LCO 0.4 m, 53' field: the cut-out's own WCS kept its parent frame's CRPIX (1025 in a 400 px
    # image): the solution maps onto it by a shift of 825 px, and agrees after it
    src = shared / "real" / "streaks" / "lco_cutout.fits"
    frame = _copy_without_wcs(src, tmp_path / "lco.fits")
    before = frame.read_bytes()
    results = solve_sequence(open_sequence(frame), wcs_dir=tmp_path / "wcs", config=SolveConfig(time_limit=30))
    assert results[0].sidecar == tmp_path / "wcs" / "lco.wcs" and results[0].sidecar.is_file(), results[0].message
    assert frame.read_bytes() == before  # the user's frame is never modified
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        as_given, shift, shifted = compare_wcs(WCS(fits.getheader(src)), WCS(fits.getheader(results[0].sidecar)),
                                               (400, 400))
    assert as_given.min() > 3600  # the header's WCS is 2.5 deg off
    assert np.allclose(shift, 825, atol=0.5)
    assert np.median(shifted) < 2.0 and shifted.max() < 4.0  # 7.9"/px: 2" is a quarter pixel
    seq = open_sequence(frame, wcs_dir=tmp_path / "wcs")  # the sidecar is read back as the frame's WCS
    assert seq.wcs(0) is not None and any("sidecar" in n for n in seq.notes)


@needs_solver
def test_seestar_sidereal_stack_solved_once_for_all_frames(shared, tmp_path):
    # raw GRBG, binned 2x2 on reading; the .wcs is in the file's (unbinned) pixels
    seq = open_sequence(shared / "real-dev" / "sequences" / "seestar-m94")
    results = solve_sequence(seq, mode="sidereal", wcs_dir=tmp_path, config=SolveConfig(time_limit=30))
    assert len(results) == 6 and sum(r.solved_here for r in results) == 1, results[0].message
    assert all(r.sidecar is not None for r in results)
    side = fits.getheader(results[0].sidecar)
    assert side["IMAGEW"] == 1080 and side["IMAGEH"] == 1920
    solved = open_sequence(shared / "real-dev" / "sequences" / "seestar-m94", wcs_dir=tmp_path)
    assert solved.plate_scale() == pytest.approx(4.78, abs=0.05)  # the binned frame's scale
    ra, dec = solved.wcs(0).all_pix2world(270, 480, 0)
    assert abs(ra - 192.72) < 0.3 and abs(dec - 41.12) < 0.3  # M94 (NGC 4736) in the field


@needs_solver
def test_stare_mode_propagates_the_first_solution(shared, tmp_path):
    src = shared / "real" / "streaks" / "lco_cutout.fits"
    for k in range(2):
        _copy_without_wcs(src, tmp_path / f"f{k}.fits", date=f"2020-11-20T01:0{4 + k}:29.222")
    seq = open_sequence(tmp_path)
    results = solve_sequence(seq, mode="stare", wcs_dir=tmp_path / "wcs", config=SolveConfig(time_limit=30))
    assert [r.solved_here for r in results] == [True, False] and all(r.sidecar for r in results)
    assert "propagated by 60 s of Earth rotation" in results[1].message
    a, b = (fits.getheader(r.sidecar) for r in results)
    dra = (b["CRVAL1"] - a["CRVAL1"]) * 3600 * np.cos(np.radians(a["CRVAL2"]))
    assert abs(dra - 60 * 15.041 * np.cos(np.radians(a["CRVAL2"]))) < 5  # the sky turned by 15"/s of RA


@needs_solver
def test_track_solve_gives_sky_columns(shared, tmp_path):
    src = shared / "real" / "streaks" / "lco_cutout.fits"
    (tmp_path / "seq").mkdir()
    for k in range(3):
        _copy_without_wcs(src, tmp_path / "seq" / f"f{k}.fits", date=f"2020-11-20T01:0{4 + 2 * k}:29.222")
    out = tmp_path / "tracks.csv"
    assert main(["track", str(tmp_path / "seq"), "--mode", "target", "-o", str(out)]) == 0
    assert "ra" not in read_table(out).colnames  # no WCS: no sky columns
    assert main(["track", str(tmp_path / "seq"), "--mode", "target", "--solve", "--wcs-dir", str(tmp_path / "w"),
                 "-o", str(out)]) == 0
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["f0.wcs", "f1.wcs", "f2.wcs"]
    assert {"ra", "dec", "time_start"} <= set(read_table(out).colnames)
    assert sidecar_path(open_sequence(tmp_path / "seq").ref(0), tmp_path / "w") == tmp_path / "w" / "f0.wcs"
