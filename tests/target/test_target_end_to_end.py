"""Simulated target-tracking sequences written to disk, tracked through the command line."""

import numpy as np
import pytest

from debristrack.cli import main
from debristrack.evaluate.detection import detection_figures
from debristrack.io.sequence import open_sequence
from debristrack.io.tables import read_table
from debristrack.simulate import make_scene
from debristrack.simulate.dataset import simulate_sequence
from debristrack.pipeline.target import track_sequence


def _simulate(folder, preset, **overrides):
    scene = make_scene("target", preset, size=384, frames=10, snr=(15.0, 30.0), collisions=0.0, **overrides)
    return simulate_sequence(folder, scene, seed=11)


def test_simulated_multi_object_sequence(tmp_path):
    seq_dir = _simulate(tmp_path / "multi", "multi")
    gt = read_table(seq_dir / "gt.csv")
    pred = track_sequence(open_sequence(seq_dir))
    figures = detection_figures(gt, pred)
    assert figures.detection_rate >= 0.95
    assert figures.n_false == 0
    assert len(set(pred["id"])) == len(set(gt["id"]))


def test_simulated_empty_sequence_reports_no_object(tmp_path):
    seq_dir = _simulate(tmp_path / "empty", "empty")
    assert len(track_sequence(open_sequence(seq_dir))) == 0


def test_command_line_writes_the_flagged_points_table(tmp_path, capsys):
    seq_dir = _simulate(tmp_path / "one", "single")
    out = tmp_path / "tracks.csv"
    assert main(["track", str(seq_dir), "--mode", "target", "--k-max-px", "2", "-o", str(out)]) == 0
    table = read_table(out)
    assert {"flag", "score", "flux"} <= set(table.colnames)
    assert np.isin(np.asarray(table["flag"]), ["ok", "collision", "faint", "outside"]).all()
    gt = read_table(seq_dir / "gt.csv")
    assert detection_figures(gt, table).detection_rate >= 0.9


def test_command_line_too_few_frames_exits_2(tmp_path, capsys):
    scene = make_scene("target", "single", size=128, frames=2)
    seq_dir = simulate_sequence(tmp_path / "short", scene, seed=1)
    assert main(["track", str(seq_dir), "--mode", "target", "-o", str(tmp_path / "t.csv")]) == 2
    assert "motionlist needs at least 3 frames" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--k-max-arcsec", "--t-px", "--h-px", "--max-peak-fraction"])
def test_command_line_lists_the_options(flag, capsys):
    assert main(["track", "--mode", "target", "--help"]) == 0
    assert flag in capsys.readouterr().out
