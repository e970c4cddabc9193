"""Issue 16 item 7: one bad frame is masked and reported; its neighbours keep their detections."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from astropy.io import fits

from debristrack.cli import main
from debristrack.io.masks import mask_bad_frame
from debristrack.io.sequence import open_sequence
from debristrack.simulate.dataset import simulate_dataset
from debristrack.pipeline.stare import track_sequence


@pytest.fixture(scope="module")
def five_targets(tmp_path_factory):
    root = simulate_dataset(tmp_path_factory.mktemp("bad") / "ds", mode="stare", sequences=1, seed=3,
                            overrides={"size": 256, "objects": (5, 5)}, progress=False)
    return root / "stare" / "seq0000"


def _with_frame3(seq_dir, tmp_path, change):
    folder = tmp_path / "frames"
    shutil.copytree(seq_dir / "frames", folder)
    path = sorted(folder.glob("*.fits"))[3]
    fits.writeto(path, change(fits.getdata(path).astype(np.float32)), fits.getheader(path), overwrite=True)
    return folder


def test_all_zero_frame_costs_no_neighbour(five_targets, tmp_path, capsys):
    clean = track_sequence(open_sequence(five_targets))
    assert len(clean) == 40 and len(set(clean["id"])) == 5  # 5 targets x 8 frames
    folder = _with_frame3(five_targets, tmp_path, lambda a: a * 0)
    table = track_sequence(open_sequence(folder))
    per_frame = np.bincount(table["frame"], minlength=8)
    assert list(per_frame) == [5] * 8, per_frame  # today: frames 3-5 lost for every target (25 rows)
    assert any("000003.fits" in n and "all pixels are 0" in n for n in table.meta["notes"])

    assert main(["track", str(folder), "--mode", "stare", "-o", str(tmp_path / "t.csv")]) == 0
    assert "bad frame, masked: all pixels are 0" in capsys.readouterr().err


def test_sparse_nan_inf_grid_keeps_every_target(five_targets, tmp_path):
    def grid(a):
        a = a.copy()
        a[::5, ::5] = np.nan
        a[2::5, 2::5] = -np.inf
        return a

    table = track_sequence(open_sequence(_with_frame3(five_targets, tmp_path, grid)))
    assert list(np.bincount(table["frame"], minlength=8)) == [5] * 8


def test_mask_bad_frame():
    ok = np.ones((8, 8), np.float32)
    assert mask_bad_frame(ok) == (ok, None)
    holes = ok.copy()
    holes[0, 0] = np.nan
    holes[4:6, 4:6] = 0  # a dead 2x2 block
    out, why = mask_bad_frame(holes)
    assert why is None and np.isnan(out).sum() == 5 and np.isfinite(out[1:4, 1:4]).all()
    out, why = mask_bad_frame(np.zeros((8, 8), np.float32))
    assert why == "all pixels are 0" and np.isnan(out).all()
