import dataclasses

import numpy as np
import pytest

from debristrack.cli import main
from debristrack.config import add_dataclass_arguments
from debristrack.errors import InputError
from debristrack.evaluate.mot import evaluate_tracks
from debristrack.io.tables import read_table
from debristrack.simulate import make_scene, simulate_sequence
from debristrack.pipeline import sidereal
from debristrack.pipeline.loop import run_method

from .conftest import FakeFrame, FakeSequence, make_frame, moving_streak


def test_methods_and_config():
    assert len(sidereal.METHODS) == 9 and sidereal.METHODS[0] == "matched+physical" and sidereal.METHODS[-1] == "sdtnet"
    cfg = sidereal.Config()
    for part in dataclasses.fields(cfg):  # every parameter documented
        assert all(f.metadata.get("help") for f in dataclasses.fields(getattr(cfg, part.name)))
    assert cfg.matched.fwhm == 2.5 and cfg.lsd.k == 2.5 and cfg.tracker.gate > 0
    import argparse
    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, sidereal.Config)  # every field is a flag, names unchanged
    flags = {a for action in parser._actions for a in action.option_strings}
    assert {"--matched-fwhm", "--lsd-k", "--gate", "--min-hits", "--sdtnet-radius", "--star-stack",
            "--min-speed", "--max-motion-angle"} <= flags


# the fixture's streak moves less than its length per frame ([SDT] eq. 5, no frame times): the
# physical linker rightly refuses that motion (tests/sidereal/test_physical.py covers it)
@pytest.mark.parametrize("method", [m for m in sidereal.METHODS if not m.endswith("+physical")])
def test_moving_streak_one_id(moving_streak_sequence, method):
    table = sidereal.track_sequence(moving_streak_sequence, method=method)
    assert table.colnames[:6] == ["frame", "id", "x1", "y1", "x2", "y2"]
    assert sorted(table["frame"].tolist()) == [0, 1, 2, 3, 4]
    assert len(set(table["id"].tolist())) == 1
    assert np.all(table["x1"] <= table["x2"])
    truth = np.array([moving_streak(t) for t in table["frame"]])
    found = np.column_stack([table[c] for c in ("x1", "y1", "x2", "y2")])
    assert np.abs(found - truth).max() < (3.0 if method.startswith("matched") else 8.0)  # LSD: rougher ends


def test_progress_is_reported(moving_streak_sequence):
    calls = []
    sidereal.track_sequence(moving_streak_sequence, method="lsd+sort", progress=lambda d, n: calls.append((d, n)))
    assert calls[-1] == (5, 5) and len(calls) == 5


def test_unknown_method_and_empty_sequence():
    with pytest.raises(InputError, match="unknown sidereal method 'hough\\+sort'"):
        sidereal.track_sequence(FakeSequence(), method="hough+sort")
    with pytest.raises(InputError, match="synthetic: 0 frame.*needs at least 1 frame"):
        sidereal.track_sequence(FakeSequence(), method="matched+sort")


def test_static_streak_like_source_is_dropped():
    # a fixed short line (a blended star pair, a galaxy) is not debris in sidereal mode
    seq = FakeSequence(FakeFrame(make_frame([(60, 60, 90, 70, 120)], seed=t)) for t in range(4))
    assert len(sidereal.track_sequence(seq)) == 0
    # without the static-sky subtraction the detector sees it in every frame; the track filter drops it
    no_front_end = sidereal.with_options(sidereal.Config(), min_speed=0.0, real_sky=False, max_motion_angle=180.0)
    kept = sidereal.track_sequence(seq, method="matched+ocsort", config=no_front_end)
    assert len(kept) == 4
    # the physical linker drops detections repeated on the same pixels (sky) on its own
    assert len(sidereal.track_sequence(seq, method="matched+physical", config=no_front_end)) == 0
    # with it (the default) the fixed line is sky and is gone before the tracker sees it
    assert len(sidereal.track_sequence(seq, config=sidereal.with_options(sidereal.Config(), min_speed=0.0,
                                                                         max_motion_angle=180.0))) == 0


def test_empty_detections_give_empty_table():
    class Nothing(sidereal.StreakMethod):
        def detect(self, frame, sky=None):
            return np.zeros((0, 5))

    table = run_method(Nothing("lsd", "ocsort", sidereal.Config()), [None] * 3)
    assert len(table) == 0 and "score" in table.colnames


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    scene = make_scene("sidereal", "debris", size=256, frames=5, objects=(2, 2), snr=(15.0, 25.0),
                       gap_prob=0.0)
    return simulate_sequence(tmp_path_factory.mktemp("sim") / "seq0000", scene, seed=11)


def test_cli_end_to_end_on_simulated_sequence(simulated, tmp_path):
    out = tmp_path / "tracks.csv"
    assert main(["track", str(simulated), "--mode", "sidereal", "-o", str(out)]) == 0
    pred, gt = read_table(out), read_table(simulated / "gt.csv")
    figures = evaluate_tracks(gt, pred, fwhm=2.5)
    assert figures["MOTA"] > 0.8 and figures["IDS"] == 0


def test_cli_method_and_flag(simulated, tmp_path):
    out = tmp_path / "lsd.csv"
    assert main(["track", str(simulated), "--mode", "sidereal", "--method", "lsd+bytetrack", "-o", str(out)]) == 0
    assert read_table(out).meta["kind"] == "streak" and len(read_table(out)) > 0
    # the flag reaches the detector: no streak is 1000 px long
    assert main(["track", str(simulated), "--mode", "sidereal", "--method", "lsd+bytetrack",
                 "--lsd-min-length", "1000", "-o", str(out)]) == 0
    assert len(read_table(out)) == 0


def test_flags_fill_the_nested_config():
    import argparse

    from debristrack.config import dataclass_from_args

    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, sidereal.Config)
    args = parser.parse_args(["--matched-fwhm", "3.5", "--lsd-k", "2", "--gate", "12", "--min-hits", "3",
                              "--sdtnet-radius", "40", "--sdtnet-motion", "off", "--min-speed", "0.5",
                              "--star-stack", "0"])
    cfg = dataclass_from_args(sidereal.Config, args)
    assert (cfg.matched.fwhm, cfg.lsd.k, cfg.tracker.gate, cfg.tracker.min_hits) == (3.5, 2.0, 12.0, 3)
    assert (cfg.sdtnet.radius, cfg.sdtnet.motion, cfg.filter.min_speed, cfg.filter.star_stack) == (40.0, False, 0.5, 0)
    assert cfg.matched.n_angles == 24 and cfg.filter.max_motion_angle == 20.0  # the others keep their defaults
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.matched.fwhm = 1.0


def test_cli_bad_method_exits_2(simulated, tmp_path, capsys):
    assert main(["track", str(simulated), "--mode", "sidereal", "--method", "nope", "-o",
                 str(tmp_path / "x.csv")]) == 2
    assert "unknown method" in capsys.readouterr().err


def test_implausible_tracks():
    ids = np.array([1, 1, 1, 2, 2, 3, 3])
    frames = np.array([0, 1, 2, 0, 1, 0, 1])
    segs = np.array([[0, 0, 20, 0], [10, 0, 30, 0], [20, 0, 40, 0],  # moves along itself: kept
                     [0, 50, 20, 50], [0, 60, 20, 60],  # moves across itself: dropped
                     [0, 90, 20, 90], [0.2, 90, 20.2, 90]], float)  # does not move: dropped
    bad = sidereal.implausible_tracks(ids, frames, segs, min_speed=1.0, max_motion_angle=20.0)
    assert bad.tolist() == [False] * 3 + [True] * 4
    assert not sidereal.implausible_tracks(ids, frames, segs, min_speed=0.0, max_motion_angle=180.0).any()


def test_plausible_tracks_needs_hits_and_motion():
    from astropy.table import Table

    t = Table({"frame": [0, 1, 2, 1, 0, 1], "id": [1, 1, 1, 2, 3, 3],
               "x1": [0, 10, 20, 5, 0, 0.1], "y1": [0, 0, 0, 80, 50, 50],
               "x2": [20, 30, 40, 25, 20, 20.1], "y2": [0, 0, 0, 80, 50, 50]})
    cfg = sidereal.Config()
    assert sidereal.plausible_tracks(t, cfg).columns["id"].tolist() == [1, 1, 1]  # 2: one hit; 3: static
    assert len(sidereal.plausible_tracks(t, sidereal.with_options(cfg, min_hits=1, min_speed=0.0))) == 6
    assert len(sidereal.plausible_tracks(t[:0], cfg)) == 0


def test_bench_quick_run_with_an_extra_row_source(tmp_path, monkeypatch):
    import argparse

    from debristrack.bench import sidereal as bench
    from debristrack.io.tables import empty_table

    # every row on one small sequence per set (128 px, 4 frames): the bench's code, in seconds
    monkeypatch.setattr(bench, "make_scene", lambda mode, preset: make_scene(mode, preset, size=128, frames=4))
    monkeypatch.setattr(bench, "ROW_SOURCES", bench.ROW_SOURCES + [
        lambda frames, config: {"nothing": (empty_table("streak"), 0.0)}])
    out = tmp_path / "BENCHMARKS.md"
    args = argparse.Namespace(quick=False, sequences=1, seed=5, output=str(out), workers=1, scheduler=None,
                              classical_only=False, sets="debris,sdtd", section="sidereal")
    assert bench.run(args) == 0
    text = out.read_text()
    assert "<!-- bench:sidereal -->" in text and "Debris HOTA" in text
    for row in list(sidereal.METHODS) + ["nothing"]:
        assert f"| {row} |" in text
    with pytest.raises(InputError, match="--sequences must be at least 1"):
        bench.run(argparse.Namespace(quick=False, sequences=0, seed=5, output=str(out), workers=1, scheduler=None,
                                     classical_only=False, sets="debris", section="sidereal"))


def test_a_slow_object_too_short_for_a_trail_is_tracked_by_its_motion(tmp_path):
    # 14 px per 6 s cadence, 5 s exposures: ~12 px streaks, under the 15 px a trail needs in one frame
    scene = make_scene("sidereal", "debris", size=256, frames=6, objects=(1, 1), snr=(20.0, 20.0),
                       speed=(14.0, 14.0), leo_prob=0.0, gap_prob=0.0)
    seq = simulate_sequence(tmp_path / "slow", scene, seed=5)
    gt = read_table(seq / "gt.csv")
    assert np.median(np.hypot(gt["x2"] - gt["x1"], gt["y2"] - gt["y1"])) < 15.0
    out = tmp_path / "slow.csv"
    assert main(["track", str(seq), "--mode", "sidereal", "-o", str(out)]) == 0
    figures = evaluate_tracks(gt, read_table(out), fwhm=2.5)
    assert figures["MOTA"] > 0.6 and figures["IDS"] == 0
    # without the short candidates (searched only down to a trail's length) it is not found
    assert main(["track", str(seq), "--mode", "sidereal", "--trail-short-length", "15", "-o", str(out)]) == 0
    assert len(read_table(out)) == 0


def test_unsteady_tracks_drop_noise_linked_by_chance():
    from debristrack.pipeline.sidereal import unsteady_tracks

    frames = np.array([0, 1, 2, 3] * 3)
    ids = np.repeat([1, 2, 3], 4)
    t = np.arange(4.0)
    steady = np.column_stack([100 + 30 * t, 50 + 10 * t, 120 + 30 * t, 57 + 10 * t])  # on one line, onwards
    steady[1, 0:2] += [10.0, 10.0 / 3]  # a streak cut short by the edge: its centre moves along the line only
    zigzag = steady + np.array([[0, 0, 0, 0], [0, 25, 0, 25], [0, 0, 0, 0], [0, 25, 0, 25]])  # 25 px across
    back = np.column_stack([100 + 30 * t[[0, 2, 1, 3]], 50 + 10 * t[[0, 2, 1, 3]],
                            120 + 30 * t[[0, 2, 1, 3]], 57 + 10 * t[[0, 2, 1, 3]]])  # on the line, back and forth
    bad = unsteady_tracks(ids, frames, np.vstack([steady, zigzag, back]))
    assert not bad[ids == 1].any() and bad[ids == 2].all() and bad[ids == 3].all()
    # two streaks: parallel ones are kept for the other tests, crossed ones are two things
    assert not unsteady_tracks(np.array([1, 1]), np.array([0, 1]), zigzag[:2]).any()
    crossed = np.array([[0, 0, 40, 0], [50, 0, 80, 30.0]])  # 45 deg apart
    assert unsteady_tracks(np.array([1, 1]), np.array([0, 1]), crossed).all()
    assert not unsteady_tracks(np.array([1, 1]), np.array([0, 1]), crossed, max_angle=50).any()


def test_window_in_a_thread_gives_the_tracks_of_one_thread(tmp_path, monkeypatch):
    # the static sky window's worker makes one frame's sky (and cleans it) while the frame before
    # is detected, a night's first window and its end included: the same tracks as all in one thread
    from debristrack.io.sequence import open_sequence

    scene = make_scene("sidereal", "debris", size=192, frames=12, objects=(2, 2), snr=(12.0, 20.0), gap_prob=0.0)
    seq = open_sequence(simulate_sequence(tmp_path / "seq", scene, seed=5))
    threaded = sidereal.track_sequence(seq)
    init = sidereal.StreakMethod.__init__

    def one_thread(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._overlap = False

    monkeypatch.setattr(sidereal.StreakMethod, "__init__", one_thread)
    monkeypatch.setattr(sidereal.StreakMethod, "clean_ahead", False)
    alone = sidereal.track_sequence(seq)
    assert len(threaded) >= 5  # streaks were found (the comparison below is not of two empty tables)
    assert threaded.colnames == alone.colnames
    for name in threaded.colnames:
        np.testing.assert_array_equal(np.asarray(threaded[name]), np.asarray(alone[name]))
