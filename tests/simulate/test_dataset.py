import argparse
import json
import os

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from debristrack.commands import simulate as simulate_cmd
from debristrack.errors import InputError
from debristrack.io.tables import read_table
from debristrack.simulate import iter_frames, make_scene
from debristrack.simulate.dataset import simulate_dataset, simulate_sequence

SMALL = dict(size=96, frames=3)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("mode", ["sidereal", "stare", "target"])
def test_same_seed_same_bytes(tmp_path, mode):
    scene = make_scene(mode, **SMALL)
    a = _files(simulate_sequence(tmp_path / "a", scene, seed=42))
    b = _files(simulate_sequence(tmp_path / "b", scene, seed=42))
    c = _files(simulate_sequence(tmp_path / "c", scene, seed=43))
    assert a == b
    assert a["frames/000000.fits"] != c["frames/000000.fits"]
    assert "meta.json" in a and "gt.csv" in a


def test_sequence_does_not_depend_on_how_many_are_generated(tmp_path):
    simulate_dataset(tmp_path / "one", mode="stare", sequences=1, seed=5, overrides=SMALL, progress=False)
    simulate_dataset(tmp_path / "three", mode="stare", sequences=3, seed=5, overrides=SMALL, progress=False)
    assert _files(tmp_path / "one" / "stare" / "seq0000") == _files(tmp_path / "three" / "stare" / "seq0000")
    assert (_files(tmp_path / "three" / "stare" / "seq0001")["frames/000000.fits"]
            != _files(tmp_path / "three" / "stare" / "seq0000")["frames/000000.fits"])


@pytest.mark.parametrize("mode,kind", [("sidereal", "streak"), ("stare", "point"), ("target", "point")])
def test_layout_and_ground_truth_tables(tmp_path, mode, kind):
    root = simulate_dataset(tmp_path, mode=mode, sequences=1, seed=1, overrides=SMALL, progress=False)
    seq = root / mode / "seq0000"
    table = read_table(seq / "gt.csv")
    assert table.meta["kind"] == kind
    assert sorted(p.name for p in (seq / "frames").iterdir()) == ["000000.fits", "000001.fits", "000002.fits"]
    meta = json.loads((seq / "meta.json").read_text())
    assert meta["mode"] == mode and meta["scene"]["size"] == 96 and meta["scene"]["mode"] == mode
    data = json.loads((root / "dataset.json").read_text())
    assert data["splits"][mode]["sequences"] == 1 and data["splits"][mode]["seed"] == 1
    with fits.open(seq / "frames" / "000001.fits") as hdul:
        assert hdul[0].data.dtype == np.dtype(">f4") and hdul[0].header["DT_MODE"] == mode
        assert hdul[0].header["DATE-OBS"].startswith("2025-")
    masks = sorted((seq / "masks").glob("*.png")) if (seq / "masks").exists() else []
    if mode == "sidereal":
        assert len(masks) == 3
        values = np.unique(np.asarray(Image.open(masks[0])))
        assert set(values.tolist()) <= {0, 255}
    else:
        assert not masks


def test_in_memory_frames_match_written_frames(tmp_path):
    scene = make_scene("target", **SMALL)
    seq = simulate_sequence(tmp_path / "s", scene, seed=9)
    for frame in iter_frames(scene, seed=9):
        on_disk = fits.getdata(seq / "frames" / f"{frame.index:06d}.fits")
        np.testing.assert_array_equal(on_disk, frame.data)


def test_resume_redoes_unfinished_and_keeps_finished(tmp_path):
    kw = dict(mode="sidereal", sequences=2, seed=3, overrides=SMALL, progress=False)
    root = simulate_dataset(tmp_path, **kw)
    done, half = root / "sidereal" / "seq0000", root / "sidereal" / "seq0001"
    original = _files(half)
    # seq0001 as a killed run leaves it: no meta.json, a torn frame, a temporary file.
    (half / "meta.json").unlink()
    (half / "frames" / "000002.fits").unlink()
    (half / "frames" / "000001.fits").write_bytes(b"torn")
    (half / ".gt.csv.x.tmp").write_text("partial")
    # A finished sequence is never rewritten, even if its files differ from a fresh run.
    (done / "gt.csv").write_text("frame,id,x1,y1,x2,y2\n")
    stamp = os.stat(done / "frames" / "000000.fits").st_mtime_ns
    simulate_dataset(tmp_path, **kw)
    assert _files(half) == original
    assert (done / "gt.csv").read_text() == "frame,id,x1,y1,x2,y2\n"
    assert os.stat(done / "frames" / "000000.fits").st_mtime_ns == stamp


def test_background_file_is_used(tmp_path):
    rng = np.random.default_rng(0)
    image = (1000 + 20 * rng.standard_normal((50, 70))).astype(np.float32)
    image[3, 4] = np.nan
    fits.PrimaryHDU(image).writeto(tmp_path / "sky.fits")
    scene = make_scene("stare", **SMALL)
    frames = list(iter_frames(scene, seed=1, background=tmp_path / "sky.fits"))
    assert frames[0].data.shape == (96, 96)
    assert np.isfinite(frames[0].data).all()
    assert abs(np.median(frames[0].data) - 1000) < 10
    folder = tmp_path / "many"
    folder.mkdir()
    fits.PrimaryHDU(image).writeto(folder / "a.fits")
    fits.PrimaryHDU(image * 2).writeto(folder / "b.fits")
    simulate_dataset(tmp_path / "ds", mode="sidereal", sequences=2, seed=0, overrides=SMALL,
                     background=folder, progress=False)


def test_bad_background_is_input_error(tmp_path):
    bad = tmp_path / "bad.fits"
    bad.write_text("not a fits file at all")
    with pytest.raises(InputError, match=r"bad\.fits: cannot read as a FITS image"):
        simulate_dataset(tmp_path / "ds", mode="sidereal", overrides=SMALL, background=bad, progress=False)
    with pytest.raises(InputError, match="no such background file or folder"):
        simulate_dataset(tmp_path / "ds", mode="sidereal", overrides=SMALL, background=tmp_path / "missing.fits",
                         progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no FITS files"):
        simulate_dataset(tmp_path / "ds", mode="sidereal", overrides=SMALL, background=empty, progress=False)
    table = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]
                 ).writeto(table)
    with pytest.raises(InputError, match="no 2-D image"):
        simulate_dataset(tmp_path / "ds", mode="sidereal", overrides=SMALL, background=table, progress=False)


def _cli(argv):
    parser = argparse.ArgumentParser(prog="debristrack")
    sub = parser.add_subparsers(dest="command")
    simulate_cmd.register(sub)
    args, extra = parser.parse_known_args(argv)
    args.extra = extra
    return args.run(args)


def test_cli_mode_help_lists_scene_flags(capsys):
    assert _cli(["simulate", "--mode", "stare", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--jitter" in out and "--pixscale" in out and "8.79" in out and "--length" not in out
    assert _cli(["simulate", "--mode", "sidereal", "--preset", "dense", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--length" in out and "--gap-prob" in out


def test_cli_writes_dataset_with_scene_flags(tmp_path, capsys):
    rc = _cli(["simulate", "--mode", "target", "--preset", "multi", "--out", str(tmp_path), "--sequences", "2",
               "--seed", "4", "--split", "test", "--size", "80", "--frames", "2", "--following-error", "1.0",
               "--no-progress", "--preview"])
    assert rc == 0
    meta = json.loads((tmp_path / "test" / "seq0001" / "meta.json").read_text())
    assert meta["scene"]["size"] == 80 and meta["scene"]["following_error"] == 1.0
    assert meta["scene"]["objects"] == [2, 3]
    assert (tmp_path / "test" / "seq0000-preview.png").is_file()
    assert "wrote" in capsys.readouterr().out


def test_cli_demo_and_errors(tmp_path, capsys):
    assert _cli(["simulate", "--out", str(tmp_path), "--size", "64", "--frames", "2", "--no-progress"]) == 0
    for mode in ("sidereal", "stare", "target"):
        assert (tmp_path / mode / "seq0000" / "meta.json").is_file()
    with pytest.raises(InputError, match="unknown preset"):
        _cli(["simulate", "--mode", "stare", "--preset", "dense", "--out", str(tmp_path)])
    with pytest.raises(InputError, match="argument --jitter: expects float, got 'abc'"):
        _cli(["simulate", "--mode", "stare", "--jitter", "abc", "--out", str(tmp_path)])


def test_meta_json_regenerates_the_sequence(tmp_path):
    from debristrack.simulate import scene_from_dict

    seq = simulate_dataset(tmp_path / "ds", mode="sidereal", preset="dense", sequences=2, seed=7,
                           overrides=SMALL, progress=False) / "sidereal" / "seq0001"
    meta = json.loads((seq / "meta.json").read_text())
    scene = scene_from_dict(meta["scene"])
    seed = np.random.SeedSequence(meta["seed"]["entropy"], spawn_key=tuple(meta["seed"]["spawn_key"]))
    again = simulate_sequence(tmp_path / "again", scene, seed=seed, info={k: meta[k] for k in
                                                                          ("dataset_seed", "split", "index", "preset")})
    assert _files(again) == _files(seq)


def test_rerun_with_other_parameters_keeps_and_warns(tmp_path, capsys):
    simulate_dataset(tmp_path, mode="stare", sequences=1, seed=1, overrides=SMALL, progress=False)
    capsys.readouterr()
    simulate_dataset(tmp_path, mode="stare", sequences=1, seed=1, overrides=SMALL, progress=False)
    assert "warning" not in capsys.readouterr().err
    simulate_dataset(tmp_path, mode="stare", sequences=1, seed=2, overrides=SMALL, progress=False)
    assert "kept 1 finished sequence(s)" in capsys.readouterr().err
