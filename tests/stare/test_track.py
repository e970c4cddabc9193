"""Staring-mode pipeline on small synthetic sequences, and through FITS files."""

from __future__ import annotations

import numpy as np
import pytest

from debristrack.errors import InputError
from debristrack.io.sequence import open_sequence
from debristrack.detect.stacking import derive_window
from debristrack.pipeline.loop import run_method
from debristrack.pipeline.stare import METHODS, Config, StackMethod, track_sequence
from debristrack.track.blocks import link

# Stars drift 10 px per frame along +x and trail 8 px: a 3-frame min stack removes them.
STARS = [(5.0 + 13 * i, 10.0 + 9 * i, 6000.0) for i in range(8)]


def run(frames, **kw):
    method = kw.pop("method", "minstack")
    window = kw.pop("window", 3)
    config = Config(**kw)
    config.validate()
    return run_method(StackMethod(method, config, window=window, n_frames=len(frames)), frames)


def test_fixed_target_found_at_the_right_place_in_every_frame(make_frames):
    frames = make_frames(targets=[(40.3, 50.7, 800.0)], stars=STARS)
    table = run(frames)
    assert table.colnames == ["frame", "id", "x", "y", "flux", "score"]
    assert sorted(table["frame"]) == list(range(8))
    assert len(set(table["id"])) == 1
    assert np.allclose(table["x"], 40.3, atol=0.25) and np.allclose(table["y"], 50.7, atol=0.25)
    assert np.allclose(table["flux"], 800.0, rtol=0.25)


def test_drifting_stars_alone_are_not_reported(make_frames):
    frames = make_frames(stars=STARS + [(60.0, 70.0, 20000.0)])
    assert len(run(frames)) == 0


def test_hot_pixel_is_not_reported(make_frames):
    frames = make_frames(targets=[(70.0, 30.0, 800.0)], stars=STARS, hot=[(100, 60, 800.0), (20, 80, 5000.0)])
    table = run(frames)
    assert len(set(table["id"])) == 1
    assert np.allclose(table["x"], 70.0, atol=0.3)


def test_target_near_a_bright_star_is_found_once(make_frames):
    # A bright star passes 4 px from the target in frames 2-3.
    frames = make_frames(targets=[(60.0, 40.0, 800.0)], stars=[(40.0, 44.0, 30000.0)])
    table = run(frames)
    assert len(set(table["id"])) == 1
    assert len(table) == 8
    assert np.allclose(table["x"], 60.0, atol=0.3) and np.allclose(table["y"], 40.0, atol=0.3)


def test_two_close_targets_are_separated(make_frames):
    frames = make_frames(targets=[(50.0, 50.0, 1500.0), (55.0, 51.0, 1000.0)], stars=STARS)
    table = run(frames)
    assert len(set(table["id"])) == 2
    means = sorted(np.mean(table["x"][table["id"] == i]) for i in set(table["id"]))
    assert means[0] == pytest.approx(50.0, abs=0.5) and means[1] == pytest.approx(55.0, abs=0.5)


def test_slow_drift_is_followed(make_frames):
    # A GSO-like drift of 0.4 px per frame: 2.8 px over the sequence.
    frames = make_frames(targets=[(40.0, 40.0, 1000.0, 0.4, 0.0)], stars=STARS)
    table = run(frames)
    assert len(set(table["id"])) == 1 and len(table) == 8
    assert np.allclose(table["x"], 40.0 + 0.4 * np.asarray(table["frame"]), atol=0.3)


def test_nan_region_is_handled(make_frames):
    frames = make_frames(targets=[(90.0, 60.0, 800.0)], stars=STARS)
    frames[:, 10:40, 10:50] = np.nan        # a dead region in every frame
    frames[1, 50:70, 60:100] = np.nan       # a hole in one frame, over the target
    table = run(frames)
    assert len(set(table["id"])) == 1
    assert np.allclose(table["x"], 90.0, atol=0.3)
    assert np.all(np.isfinite(table["x"]))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_in_the_same_code_path(make_frames, method):
    frames = make_frames(n=10, targets=[(40.0, 50.0, 1500.0)], stars=STARS[:3])
    table = run(frames, method=method, window=5)
    assert len(table) >= 5
    assert np.allclose(np.median(table["x"]), 40.0, atol=0.3)


def test_window_from_headers():
    config = Config()
    # [GEO] set-up: 8.79 arcsec/px, 5 s exposures every 6 s on the equator.
    assert derive_window(plate_scale=8.79, dec=0.0, exptime=5.0, cadence=6.0, stack="min", footprint=config.star_footprint, longest=config.max_window) == 3
    assert derive_window(plate_scale=8.79, dec=0.0, exptime=5.0, cadence=6.0, stack="median", footprint=config.star_footprint, longest=config.max_window) == 5
    # Near the pole the stars barely move: the longest window.
    assert derive_window(plate_scale=8.79, dec=89.9, exptime=5.0, cadence=6.0, stack="min", footprint=config.star_footprint, longest=config.max_window) == 20
    assert derive_window(plate_scale=None, dec=0.0, exptime=5.0, cadence=6.0, stack="min", footprint=config.star_footprint, longest=config.max_window) is None


def test_link_is_one_to_one_and_gated():
    matches, lost, new = link(np.array([[0.0, 0.0], [10.0, 10.0]]), np.array([[10.5, 10.0], [50.0, 50.0]]), 3.0)
    assert matches.tolist() == [[1, 0]] and lost.tolist() == [0] and new.tolist() == [1]


def write_sequence(folder, frames, writer, **header):
    for i, f in enumerate(frames):
        writer(folder / f"{i:06d}.fits", f, DATE_OBS=f"2025-01-15T18:00:{6 * i:02d}", EXPTIME=5.0, **header)
    return folder


def test_track_sequence_from_fits(tmp_path, make_frames, frame_writer):
    frames = make_frames(targets=[(40.3, 50.7, 800.0)], stars=STARS)
    seq = open_sequence(write_sequence(tmp_path / "seq", frames, frame_writer, PIXSCALE=8.79))
    calls = []
    table = track_sequence(seq, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (8, 8)
    assert len(set(table["id"])) == 1 and len(table) == 8


def test_too_few_frames_is_an_input_error(tmp_path, make_frames, frame_writer):
    frames = make_frames(n=2)
    seq = open_sequence(write_sequence(tmp_path / "two", frames, frame_writer))
    with pytest.raises(InputError, match=r"two: 2 frame\(s\); minstack needs at least 3 frames"):
        track_sequence(seq)


def test_bad_config_is_an_input_error(make_frames):
    with pytest.raises(InputError, match="--threshold-mode must be one of adaptive, global"):
        run(make_frames(n=3), threshold_mode="local")
    with pytest.raises(InputError, match="unknown stare method 'maxstack'"):
        run(make_frames(n=3), method="maxstack")


def test_simulated_stare_sequence_end_to_end(tmp_path):
    from debristrack.evaluate.detection import detection_figures
    from debristrack.io.tables import read_table
    from debristrack.simulate.dataset import simulate_sequence
    from debristrack.simulate.scenes import make_scene

    scene = make_scene("stare", "good", size=256, objects=(3, 3), snr=(10.0, 40.0))
    path = simulate_sequence(tmp_path / "seq", scene, seed=3)
    seq = open_sequence(path)
    table = track_sequence(seq)
    figures = detection_figures(read_table(path / "gt.csv"), table)
    assert figures.detection_rate == 1.0 and figures.false_alarm_rate == 0.0
    assert figures.position_rms < 0.5


def test_command_line_writes_the_points_table(tmp_path, make_frames, frame_writer):
    from debristrack.cli import main
    from debristrack.io.tables import read_table

    frames = make_frames(targets=[(40.3, 50.7, 800.0)], stars=STARS)
    folder = write_sequence(tmp_path / "seq", frames, frame_writer, PIXSCALE=8.79)
    out = tmp_path / "tracks.csv"
    assert main(["track", str(folder), "--mode", "stare", "--threshold", "6", "-o", str(out)]) == 0
    table = read_table(out)
    assert len(table) == 8 and {"flux", "score"} <= set(table.colnames)
    # the flag reaches the segmentation: nothing is 10^4 sigma above the noise
    assert main(["track", str(folder), "--mode", "stare", "--threshold", "1e4", "--forced-threshold", "1e4",
                 "-o", str(out)]) == 0
    assert len(read_table(out)) == 0
    assert main(["track", str(folder), "--mode", "stare", "--method", "meanstack", "--window", "4",
                 "-o", str(out)]) == 0
