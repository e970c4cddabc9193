"""The target-tracking pipeline on synthetic FITS sequences (stars move, targets stay)."""

import argparse

import numpy as np
import pytest

from debristrack.config import add_dataclass_arguments, dataclass_from_args
from debristrack.detect.extract import extract_sources
from debristrack.errors import InputError
from debristrack.io.sequence import open_sequence
from debristrack.pipeline.target import METHODS, Config, nearest_to_centre, track_sequence

from .target_synth import NOISE, SKY, flux_for_snr, render


def _errors(table, truth, ident, target):
    rows = table[table["id"] == ident]
    xy = np.column_stack([rows["x"], rows["y"]])
    return np.hypot(*(xy - truth[rows["frame"], target]).T)


def test_followed_target_found_in_every_frame(sequence):
    path, truth = sequence(n_frames=12, n_stars=80)
    calls = []
    table = track_sequence(open_sequence(path), progress=lambda d, n: calls.append((d, n)))
    assert set(table["id"]) == {1}
    assert len(table) == 12 and (table["flag"] == "ok").all()
    assert _errors(table, truth, 1, 0).max() < 0.5
    assert calls[-1] == (12, 12) and len(calls) == 12


def test_star_crossing_costs_at_most_that_frame(sequence):
    path, truth = sequence(n_frames=12, n_stars=60, crossing=(5, 0))
    table = track_sequence(open_sequence(path))
    assert set(table["id"]) == {1}
    err = _errors(table, truth, 1, 0)
    others = np.arange(12) != 5
    assert err[others].max() < 0.5 and (table["flag"][others] == "ok").all()
    # In the crossing frame: either measured (within the match radius) or flagged.
    assert err[5] < 3 or table["flag"][5] in ("collision", "faint")


def test_no_followed_object_gives_an_empty_table(sequence):
    path, _ = sequence(targets=np.zeros((0, 2)), n_stars=80)
    table = track_sequence(open_sequence(path))
    assert len(table) == 0
    assert {"frame", "id", "x", "y", "flag"} <= set(table.colnames)
    assert table.meta["note"]


def test_two_followed_objects_both_found(sequence):
    path, truth = sequence(targets=((60.0, 50.0), (180.0, 150.0)), n_frames=10)
    table = track_sequence(open_sequence(path))
    assert set(table["id"]) == {1, 2}
    for ident in (1, 2):
        rows = table[table["id"] == ident]
        target = int(np.argmin(np.hypot(*(truth[0] - [rows["x"][0], rows["y"][0]]).T)))
        assert _errors(table, truth, ident, target).max() < 0.5


def test_stars_that_do_not_move_are_not_reported(sequence):
    path, _ = sequence(star_step=(0.0, 0.0), n_frames=5)
    table = track_sequence(open_sequence(path))
    assert len(table) == 0 and "not moving" in table.meta["note"]


def test_too_few_frames_is_an_input_error(sequence):
    path, _ = sequence(n_frames=2)
    with pytest.raises(InputError, match="motionlist needs at least 3 frames"):
        track_sequence(open_sequence(path))


def test_unknown_method_and_bad_parameter_are_input_errors(sequence):
    path, _ = sequence(n_frames=3, n_stars=5)
    seq = open_sequence(path)
    with pytest.raises(InputError, match="unknown target method 'fast'"):
        track_sequence(seq, method="fast")
    with pytest.raises(InputError, match=r"--k-max-px must be in \(0, inf\), got 0"):
        track_sequence(seq, config=Config(k_max_px=0))


def test_k_max_in_arcsec_uses_the_plate_scale(sequence):
    path, _ = sequence(n_frames=6)
    table = track_sequence(open_sequence(path), config=Config(k_max_arcsec=(3.0,)))
    assert table.meta["k_max_px"] == 2.0   # 3" / 1.5"/px


def test_k_max_in_arcsec_without_plate_scale_is_an_input_error(sequence):
    from astropy.io import fits

    path, _ = sequence(n_frames=3, n_stars=5)
    for f in sorted(path.glob("*.fits")):
        with fits.open(f, mode="update") as hdul:
            del hdul[0].header["PIXSCALE"]
    with pytest.raises(InputError, match="needs the plate scale"):
        track_sequence(open_sequence(path), config=Config(k_max_arcsec=(3.0,)))


def test_nearest_baseline_reports_one_source_per_frame(sequence):
    path, truth = sequence(targets=((119.5, 99.5),), n_frames=5, n_stars=10)
    table = track_sequence(open_sequence(path), method="nearest")
    assert len(table) == 5 and set(table["id"]) == {1}
    assert METHODS[0] == "motionlist" and "nearest" in METHODS
    assert nearest_to_centre(np.zeros((0, 2)), (10, 10)) == -1
    assert nearest_to_centre(np.array([[0.0, 0.0], [4.0, 5.0]]), (10, 10)) == 1


def test_config_becomes_command_line_flags():
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, Config)
    args = parser.parse_args(["--k-max-arcsec", "2.5,1.5", "--t-px", "3", "--max-peak-fraction", "1"])
    cfg = dataclass_from_args(Config, args)
    assert cfg.k_max_arcsec == (2.5, 1.5) and cfg.t_px == 3.0 and cfg.max_peak_fraction == 1.0


def test_extract_sources_centroids_and_hot_pixel_rejection():
    rng = np.random.default_rng(0)
    truth = np.array([[30.3, 40.7], [80.6, 20.2], [60.0, 70.5]])
    img = render((100, 110), truth, np.full(3, flux_for_snr(30)), rng)
    img[10, 10] += 50 * NOISE   # a hot pixel
    src = extract_sources(img)
    # Every star is found and centred (the threshold also lets the odd noise peak through,
    # which the motion lists discard); the hot pixel is dropped unless asked to keep it.
    d = np.hypot(*(src.xy[:, None] - truth[None]).T).min(axis=1)   # per star, to its nearest source
    assert d.max() < 0.15 and len(src) <= 4
    hot = lambda s: np.any(np.hypot(s.x - 10, s.y - 10) < 1)
    assert not hot(src) and hot(extract_sources(img, max_peak_fraction=None))
    assert src.background_rms == pytest.approx(NOISE, rel=0.2)
    flat = np.full((50, 50), SKY, dtype=np.float32)
    assert len(extract_sources(flat)) == 0


def test_flagged_rows_survive_the_csv_round_trip(sequence, tmp_path):
    from debristrack.io.tables import detections_only, read_table, write_table

    path, _ = sequence(n_frames=8, n_stars=20)
    table = track_sequence(open_sequence(path))
    table["x"][3] = table["y"][3] = np.nan
    table["flag"][3] = "collision"
    write_table(table, tmp_path / "t.csv")
    back = read_table(tmp_path / "t.csv")
    assert back["flag"][3] == "collision" and np.isnan(back["x"][3])
    assert len(detections_only(back)) == len(table) - 1


def _rows(table):
    return sorted((int(r["frame"]), int(r["id"]), float(r["x"]), float(r["y"]), str(r["flag"])) for r in table)


def test_blocks_give_each_block_its_rows_at_its_last_frame(sequence):
    """--block 5 on 12 frames: rows of frames 0-4 at frame 4, 5-9 at frame 9, 10-11 at the
    finish (from frames 7-11); the object keeps id 1 and the batch's positions."""
    from debristrack.pipeline.loop import feed
    from debristrack.pipeline.target import make_method

    path, truth = sequence(n_frames=12, n_stars=80)
    seq = open_sequence(path)
    batch = track_sequence(seq)
    method = make_method(seq, "motionlist", Config(block=5))
    came = {}
    for k in range(len(seq)):
        rows = feed(method, k, seq[k])
        if rows is not None and len(rows):
            came[k] = sorted(set(rows["frame"].tolist()))
    rest = method.finish()
    assert came == {4: [0, 1, 2, 3, 4], 9: [5, 6, 7, 8, 9]}
    assert sorted(rest["frame"].tolist()) == [10, 11]
    table = track_sequence(seq, config=Config(block=5))
    assert set(table["id"]) == {1} and len(table) == 12 and (table["flag"] == "ok").all()
    assert _rows(table) == _rows(batch)  # the same sources, block by block
    assert len(method.catalogues) <= 5  # only the last block is kept


def test_blocks_keep_each_object_its_id(sequence):
    path, truth = sequence(targets=((60.0, 50.0), (180.0, 150.0)), n_frames=12)
    table = track_sequence(open_sequence(path), config=Config(block=4))
    assert set(table["id"]) == {1, 2} and len(table) == 24
    for ident in (1, 2):
        rows = table[table["id"] == ident]
        target = int(np.argmin(np.hypot(*(truth[0] - [rows["x"][0], rows["y"][0]]).T)))
        assert _errors(table, truth, ident, target).max() < 0.5  # every block's rows on the same object


def test_block_of_one_or_two_frames_is_refused(sequence):
    path, _ = sequence(n_frames=4, n_stars=5)
    with pytest.raises(InputError, match="--block must be 0 .* or at least 3 frames"):
        track_sequence(open_sequence(path), config=Config(block=2))
