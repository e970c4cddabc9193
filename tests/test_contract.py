"""The error contract, as a table: every command, a bad value for every parameter -> exit 2, one line.

Each row is run through ``debristrack.cli.main`` in this process (an exception escaping it
fails the row: that would be a traceback for the user). Rows fail before any real work, so
the table is fast. Track-mode parameters (``--threshold``, ``--matched-*`` ...) are
validated by the mode configs (their ``RANGES``); a row is made for each of them.
"""

from __future__ import annotations

import dataclasses
import os
import typing

import numpy as np
import pytest
from astropy.io import fits

from debristrack.cli import main
from debristrack.simulate.dataset import simulate_dataset
from debristrack.simulate.scenes import SCENES

TLE = ("ISS (ZARYA)",
       "1 25544U 98067A   25015.50000000  .00016717  00000-0  10270-3 0  9005",
       "2 25544  51.6400 208.9163 0006317  69.9862  25.2906 15.50377579 12345")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny stare dataset, a points table with sky columns, a TLE file, a 4-D FITS file."""
    root = tmp_path_factory.mktemp("contract")
    ds = simulate_dataset(root / "ds", mode="stare", sequences=1, seed=0, progress=False,
                          overrides={"size": 32, "frames": 3, "star_density": 50.0})
    seq = ds / "stare" / "seq0000"
    tracks = root / "tracks.csv"
    tracks.write_text("frame,id,x,y,time,ra,dec\n"
                      "0,1,10,10,2025-01-15T18:00:02.5,60.0,0.0\n"
                      "1,1,11,10,2025-01-15T18:00:08.5,60.01,0.0\n", encoding="utf-8")
    (root / "obj.tle").write_text("\n".join(TLE) + "\n")
    fits.PrimaryHDU(np.zeros((2, 2, 16, 16), np.float32)).writeto(root / "cube4d.fits")
    bad = fits.Header()
    bad["CTYPE1"], bad["CTYPE2"] = "RA---XYZ", "DEC--TAN"
    fits.PrimaryHDU(header=bad).writeto(root / "bad.wcs")
    (root / "afile").write_text("x")
    (root / "adir").mkdir()
    return {"root": root, "ds": ds, "seq": seq, "gt": seq / "gt.csv", "tracks": tracks, "tle": root / "obj.tle",
            "cube4d": root / "cube4d.fits", "badwcs": root / "bad.wcs", "file": root / "afile", "dir": root / "adir"}


def _scene_rows():
    """Every numeric scene parameter of every mode, given NaN (or -1 for integers)."""
    rows = []
    for mode, cls in SCENES.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not f.init or f.metadata.get("cli") is False:
                continue
            flag = "--" + f.name.replace("_", "-")
            text = str(hints[f.name])
            if "float" in text:
                bad = "nan,1" if "tuple" in text else "nan"
            elif "int" in text:
                bad = "-1,1" if "tuple" in text else "-1"
            else:
                continue
            rows.append((f"simulate {mode} {flag} {bad}", ["simulate", "--mode", mode, flag, bad]))
    return rows


SIMULATE = [
    ("simulate --dec 100", ["simulate", "--mode", "stare", "--dec", "100"]),
    ("simulate --ra 400", ["simulate", "--mode", "stare", "--ra", "400"]),
    ("simulate --start-time yesterday", ["simulate", "--mode", "stare", "--start-time", "yesterday"]),
    ("simulate --size 8", ["simulate", "--mode", "sidereal", "--size", "8"]),
    ("simulate --size abc", ["simulate", "--mode", "sidereal", "--size", "abc"]),
    ("simulate --size 99999999", ["simulate", "--mode", "sidereal", "--size", "99999999"]),
    ("simulate --frames 0", ["simulate", "--mode", "target", "--frames", "0"]),
    ("simulate --cadence < exptime", ["simulate", "--mode", "stare", "--exptime", "5", "--cadence", "1"]),
    ("simulate --psf airy", ["simulate", "--mode", "stare", "--psf", "airy"]),
    ("simulate --cloud 2", ["simulate", "--mode", "stare", "--cloud", "2"]),
    ("simulate --snr 5,1", ["simulate", "--mode", "stare", "--snr", "5,1"]),
    ("simulate --objects 3,1", ["simulate", "--mode", "stare", "--objects", "3,1"]),
    ("simulate --mag-bright 20", ["simulate", "--mode", "stare", "--mag-bright", "20"]),
    ("simulate --offset 1", ["simulate", "--mode", "target", "--offset", "1"]),
    ("simulate --gap-prob 2", ["simulate", "--mode", "sidereal", "--gap-prob", "2"]),
    ("simulate --min-separation -1", ["simulate", "--mode", "sidereal", "--min-separation", "-1"]),
    ("simulate --length 0,1", ["simulate", "--mode", "sidereal", "--length", "0,1"]),
    ("simulate --sequences -1", ["simulate", "--mode", "stare", "--sequences", "-1"]),
    ("simulate --sequences x", ["simulate", "--mode", "stare", "--sequences", "x"]),
    ("simulate --seed -1", ["simulate", "--mode", "stare", "--seed", "-1"]),
    ("simulate --workers 0", ["simulate", "--mode", "stare", "--workers", "0"]),
    ("simulate --mode bogus", ["simulate", "--mode", "bogus"]),
    ("simulate --preset bogus", ["simulate", "--mode", "stare", "--preset", "bogus"]),
    ("simulate --preset without --mode", ["simulate", "--preset", "good"]),
    ("simulate --background missing", ["simulate", "--mode", "stare", "--background", "{root}/nope.fits"]),
    ("simulate --background 4-D", ["simulate", "--mode", "stare", "--background", "{cube4d}"]),
    ("simulate --out a file", ["simulate", "--mode", "stare", "--out", "{file}"]),
    ("simulate unknown flag", ["simulate", "--mode", "stare", "--bogus", "1"]),
] + _scene_rows()

def _track_mode_rows():
    """Every ranged parameter of every track mode (the configs' RANGES), given a value outside it."""
    import importlib

    from debristrack.config import flag_fields

    rows = []
    for mode in ("sidereal", "stare", "target"):
        config = importlib.import_module(f"debristrack.pipeline.{mode}").Config()
        for flag, value, spec, _ in flag_fields(config):
            if spec is None or isinstance(value, bool):
                continue
            low = spec[1:].split(",")[0].strip()
            if isinstance(value, int) and low not in ("-inf",):
                bad = str(int(float(low)) - (1 if spec[0] == "[" else 0))
            elif isinstance(value, tuple):
                bad = ",".join(["nan"] * len(value))
            else:
                bad = "nan"
            rows.append((f"track {mode} {flag} {bad}", ["track", "{seq}", "--mode", mode, flag, bad,
                                                         "-o", "{root}/t.csv"]))
    return rows


TRACK = [
    # the examples, then every ranged parameter of every mode
    ("track stare --threshold -3", ["track", "{seq}", "--mode", "stare", "--threshold", "-3"]),
    ("track sidereal --matched-fwhm -2", ["track", "{seq}", "--mode", "sidereal", "--matched-fwhm", "-2"]),
    ("track sidereal --matched-fwhm 0", ["track", "{seq}", "--mode", "sidereal", "--matched-fwhm", "0"]),
    ("track sidereal --gate nan", ["track", "{seq}", "--mode", "sidereal", "--gate", "nan"]),
    ("track sidereal --max-age -1", ["track", "{seq}", "--mode", "sidereal", "--max-age", "-1"]),
    ("track sidereal --matched-n-angles 0", ["track", "{seq}", "--mode", "sidereal", "--matched-n-angles", "0"]),
    ("track no --mode", ["track", "{seq}"]),
    ("track --mode bogus", ["track", "{seq}", "--mode", "bogus"]),
    ("track --method bogus", ["track", "{seq}", "--mode", "stare", "--method", "bogus"]),
    ("track --workers 0 (one sequence)", ["track", "{seq}", "--mode", "stare", "--workers", "0"]),
    ("track --workers 0 (dataset)", ["track", "{ds}", "--mode", "stare", "--workers", "0"]),
    ("track --workers x", ["track", "{seq}", "--mode", "stare", "--workers", "x"]),
    ("track --wcs missing", ["track", "{seq}", "--mode", "stare", "--wcs", "{root}/nope.wcs", "-o", "{root}/t.csv"]),
    ("track --wcs broken CTYPE", ["track", "{seq}", "--mode", "stare", "--wcs", "{badwcs}", "-o", "{root}/t.csv"]),
    ("track -o a folder", ["track", "{seq}", "--mode", "stare", "-o", "{dir}"]),
    ("track -o under a file", ["track", "{seq}", "--mode", "stare", "-o", "{file}/t.csv"]),
    ("track dataset -o a file", ["track", "{ds}", "--mode", "stare", "-o", "{file}"]),
    ("track missing sequence", ["track", "{root}/nope", "--mode", "stare"]),
    ("track --time-offset nan", ["track", "{seq}", "--mode", "stare", "--time-offset", "nan", "-o", "{root}/t.csv"]),
    ("track --solve-time-limit -5", ["track", "{seq}", "--mode", "stare", "--solve", "--solve-time-limit", "-5",
                                     "-o", "{root}/t.csv"]),
    ("track --identify without --tle", ["track", "{seq}", "--mode", "stare", "--identify", "-o", "{root}/t.csv"]),
    ("track unknown flag", ["track", "{seq}", "--mode", "stare", "--bogus", "1"]),
] + _track_mode_rows()

EVALUATE = [
    ("evaluate no args", ["evaluate"]),
    ("evaluate --radius 0", ["evaluate", "{gt}", "{gt}", "--radius", "0"]),
    ("evaluate --radius nan", ["evaluate", "{gt}", "{gt}", "--radius", "nan"]),
    ("evaluate --threshold 2", ["evaluate", "{gt}", "{gt}", "--threshold", "2"]),
    ("evaluate --threshold x", ["evaluate", "{gt}", "{gt}", "--threshold", "x"]),
    ("evaluate --width -1", ["evaluate", "{gt}", "{gt}", "--width", "-1"]),
    ("evaluate --fwhm inf", ["evaluate", "{gt}", "{gt}", "--fwhm", "inf"]),
    ("evaluate --similarity x", ["evaluate", "{gt}", "{gt}", "--similarity", "x"]),
    ("evaluate --kind x", ["evaluate", "{gt}", "{gt}", "--kind", "x"]),
    ("evaluate --workers 0", ["evaluate", "{gt}", "{gt}", "--workers", "0"]),
    ("evaluate --json a folder", ["evaluate", "{gt}", "{gt}", "--json", "{dir}"]),
    ("evaluate --json under a file", ["evaluate", "{gt}", "{gt}", "--json", "{file}/x.json"]),
    ("evaluate --plot out.xyz", ["evaluate", "{gt}", "{gt}", "--plot", "{root}/out.xyz"]),
    ("evaluate --plot a folder", ["evaluate", "{gt}", "{gt}", "--plot", "{dir}"]),
    ("evaluate missing pred", ["evaluate", "{gt}", "{root}/nope.csv"]),
]

EXPORT = [
    ("export nothing to do", ["export", "{tracks}"]),
    ("export --tdm a folder", ["export", "{tracks}", "--tdm", "{dir}"]),
    ("export --mot under a file", ["export", "{tracks}", "--mot", "{file}/x.txt"]),
    ("export --overlay out.xyz", ["export", "{tracks}", "--overlay", "{root}/o.xyz", "--sequence", "{seq}"]),
    ("export --overlay no --sequence", ["export", "{tracks}", "--overlay", "{root}/o.gif"]),
    ("export --time-uncertainty -1", ["export", "{tracks}", "--mot", "{root}/m.txt", "--time-uncertainty", "-1"]),
    ("export --position-uncertainty nan", ["export", "{tracks}", "--mot", "{root}/m.txt",
                                           "--position-uncertainty", "nan"]),
    ("export --iod without --station", ["export", "{tracks}", "--iod", "{root}/i.txt"]),
    ("export --iod a folder", ["export", "{tracks}", "--iod", "{dir}", "--station", "1234"]),
    ("export missing table", ["export", "{root}/nope.csv", "--mot", "{root}/x.txt"]),
]

RESIDUALS = [
    ("residuals no source", ["residuals", "{tracks}"]),
    ("residuals --site 100,0", ["residuals", "{tracks}", "--tle", "{tle}", "--site", "100,0"]),
    ("residuals --site x", ["residuals", "{tracks}", "--tle", "{tle}", "--site", "x"]),
    ("residuals --id x", ["residuals", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--id", "x"]),
    ("residuals --tle missing", ["residuals", "{tracks}", "--tle", "{root}/nope.tle", "--site", "0,0"]),
    ("residuals --object bogus", ["residuals", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--object", "bogus"]),
    ("residuals -o a folder", ["residuals", "{tracks}", "--tle", "{tle}", "--site", "0,0", "-o", "{dir}"]),
    ("residuals --plot out.xyz", ["residuals", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--plot", "{root}/p.xyz"]),
    ("residuals --ephemeris missing", ["residuals", "{tracks}", "--ephemeris", "{root}/nope.csv"]),
]

IDENTIFY = [
    ("identify no --tle", ["identify", "{tracks}", "--site", "0,0"]),
    ("identify --max-cross-track -1", ["identify", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--max-cross-track", "-1"]),
    ("identify --max-time-offset 0", ["identify", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--max-time-offset", "0"]),
    ("identify --max-direction nan", ["identify", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--max-direction", "nan"]),
    ("identify --max-rate -1", ["identify", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--max-rate", "-1"]),
    ("identify --position-sigma 0", ["identify", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--position-sigma", "0"]),
    ("identify --min-altitude 100", ["identify", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--min-altitude", "100"]),
    ("identify --site 100,0", ["identify", "{tracks}", "--tle", "{tle}", "--site", "100,0"]),
    ("identify -o a folder", ["identify", "{tracks}", "--tle", "{tle}", "--site", "0,0", "-o", "{dir}"]),
    ("identify --unseen under a file", ["identify", "{tracks}", "--tle", "{tle}", "--site", "0,0", "--unseen", "{file}/u.csv"]),
]

SOLVE = [
    ("solve --time-limit -1", ["solve", "{seq}", "--time-limit", "-1"]),
    ("solve --time-limit x", ["solve", "{seq}", "--time-limit", "x"]),
    ("solve --mode bogus", ["solve", "{seq}", "--mode", "bogus"]),
    ("solve missing sequence", ["solve", "{root}/nope"]),
]

BENCH = [
    ("bench no name", ["bench"]),
    ("bench bogus", ["bench", "bogus"]),
    ("bench simulate --frames 0", ["bench", "simulate", "--frames", "0"]),
    ("bench simulate --seed -1", ["bench", "simulate", "--seed", "-1"]),
    ("bench evaluate --frames 0", ["bench", "evaluate", "--frames", "0"]),
    ("bench evaluate --objects 0", ["bench", "evaluate", "--objects", "0"]),
    ("bench evaluate --repeat 0", ["bench", "evaluate", "--repeat", "0"]),
    ("bench astrometry --frames 0", ["bench", "astrometry", "--frames", "0"]),
    ("bench parallel --sequences 0", ["bench", "parallel", "--sequences", "0"]),
    ("bench parallel --size 8", ["bench", "parallel", "--size", "8"]),
    ("bench parallel --big -1", ["bench", "parallel", "--big", "-1"]),
    ("bench stare --sequences 0", ["bench", "stare", "--sequences", "0"]),
    ("bench stare --size x", ["bench", "stare", "--size", "x"]),
    ("bench stare --timing-frames 0", ["bench", "stare", "--timing-frames", "0"]),
    ("bench target --frames 0", ["bench", "target", "--frames", "0"]),
    ("bench target --speed-size 8", ["bench", "target", "--speed-size", "8"]),
    ("bench sidereal --sequences 0", ["bench", "sidereal", "--sequences", "0"]),
    ("bench sdtnet --threads 0", ["bench", "sdtnet", "--threads", "0"]),
    ("bench sdtnet --size 8", ["bench", "sdtnet", "--size", "8"]),
    ("bench memory --size 8", ["bench", "memory", "--size", "8"]),
]

OTHER = [
    ("train --epochs 0", ["train", "--epochs", "0", "--out", "{root}/tr"]),
    ("train --lr nan", ["train", "--lr", "nan", "--out", "{root}/tr"]),
    ("train --batch 0", ["train", "--batch", "0", "--out", "{root}/tr"]),
    ("train --optimizer x", ["train", "--optimizer", "x", "--out", "{root}/tr"]),
    ("train --threads 0", ["train", "--threads", "0", "--out", "{root}/tr"]),
    ("train --config missing", ["train", "--config", "{root}/nope.json", "--out", "{root}/tr"]),
    ("train --out a file", ["train", "--out", "{file}"]),
    ("unknown command", ["bogus"]),
    ("demo --seed -1", ["demo", "--seed", "-1"]),
    ("demo --seed x", ["demo", "--seed", "x"]),
]

ROWS = SIMULATE + TRACK + EVALUATE + EXPORT + RESIDUALS + IDENTIFY + SOLVE + BENCH + OTHER


@pytest.mark.parametrize("argv", [r[1] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_value_exits_2_with_one_line(argv, data, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # default outputs (tracks.csv, debristrack-demo/) land here, if at all
    argv = [a.format(**data) for a in argv]
    if argv[0] == "simulate" and "--out" not in argv:
        argv += ["--out", str(tmp_path / "sim")]
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("debristrack: error: "), err
    if argv[0] == "simulate":
        assert not (tmp_path / "sim").exists()  # no empty folder left behind either


def test_scene_rows_cover_every_numeric_flag():
    flags = {r[1][3] for r in _scene_rows()}
    assert {"--dec", "--ra", "--size", "--snr", "--objects", "--jitter", "--track-rate", "--speed"} <= flags


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_fails_before_the_work(data, tmp_path, capsys):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for argv in (["track", str(data["seq"]), "--mode", "stare", "-o", str(locked / "t.csv")],
                     ["evaluate", str(data["gt"]), str(data["gt"]), "--json", str(locked / "e.json")],
                     ["export", str(data["tracks"]), "--mot", str(locked / "m.txt")]):
            assert main(argv) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and "cannot write" in err[0], err
    finally:
        locked.chmod(0o700)
