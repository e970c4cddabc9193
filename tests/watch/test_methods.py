"""Live methods: built from the first frames, fed one at a time, they decide what track decides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from debristrack.errors import InputError
from debristrack.pipeline import stare
from debristrack.pipeline.loop import run_method
from debristrack.watch.methods import live_method


def gaussian(shape, x, y, flux, fwhm=2.5):
    s = fwhm / 2.3548
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return flux / (2 * np.pi * s * s) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * s * s))


def geo_frames(n, shape=(80, 96), seed=0):
    """Staring-mode frames: two fixed targets, stars drifting 9 px per frame, noise."""
    rng = np.random.default_rng(seed)
    stars = [(rng.uniform(0, 40), rng.uniform(5, 75), rng.uniform(3e3, 2e4)) for _ in range(12)]
    out = []
    for t in range(n):
        img = np.full(shape, 100.0) + gaussian(shape, 30.3, 40.2, 4e3) + gaussian(shape, 70.6, 20.1, 3e3)
        for x, y, f in stars:
            img += gaussian(shape, x + 9 * t, y, f)
        out.append((img + rng.normal(0, 8, shape)).astype(np.float32))
    return out


def rows(table):
    a = np.column_stack([np.asarray(table[c], float) for c in ("frame", "id", "x", "y", "flux", "score")])
    return a[np.lexsort((a[:, 1], a[:, 0]))]


@pytest.mark.parametrize("n,window", [(11, 4), (12, 4), (3, 5)])
def test_stack_method_fed_live_equals_the_finished_sequence(n, window):
    """Blocks end every `window` frames live; at the finish the last block overlaps, as in track."""
    frames = geo_frames(n)
    config = stare.Config()
    batch = run_method(stare.StackMethod("minstack", config, window=window, n_frames=n), frames)
    live = run_method(stare.StackMethod("minstack", config, window=window, n_frames=None), frames)
    assert len(batch) >= n  # the targets were found: the comparison means something
    assert np.array_equal(rows(live), rows(batch))


def test_too_few_frames_is_refused_at_the_finish(tmp_path):
    method = live_method("target", "motionlist", __import__("debristrack.pipeline.target").pipeline.target.Config(),
                         where=Path(tmp_path))
    with pytest.raises(InputError, match="motionlist needs at least 3 frames"):
        method.finish()


def test_streak_method_returns_a_track_when_it_ends_with_the_rows_of_the_whole_track_rule(tmp_path):
    """A sidereal track the tracker dropped is decided in `step`; together with `finish` the
    rows are those of the whole-sequence rule (every row of the tracks with min_hits rows that
    pass the track filter), computed here from the tracker's own per-frame output."""
    from debristrack.io.sequence import open_sequence
    from debristrack.pipeline import sidereal
    from debristrack.simulate import simulate_dataset
    from debristrack.track.segments import TRACKERS, confirmed_rows

    simulate_dataset(tmp_path, mode="sidereal", sequences=1, seed=12, progress=False,
                     overrides={"size": 256, "frames": 24})
    seq = open_sequence(tmp_path / "sidereal" / "seq0000")
    config = sidereal.Config()
    method = sidereal.make_method(seq, "matched+ocsort", config)
    early, per_frame = [], []
    tracker = TRACKERS["ocsort"](config.tracker)
    detect = method.detect

    def seen(frame, sky=None):  # the detections the method links, in the order it links them
        dets = detect(frame, sky)
        per_frame.append(tracker.update(dets))
        return dets

    method.detect = seen
    for i, frame in enumerate(seq):
        got = method.step(i, frame)
        if got is not None and len(got):
            early.append((i, got))
    rest = method.finish()
    assert len(per_frame) == len(seq)
    assert early and early[0][0] < len(seq) - 1  # a track was written while frames kept coming
    assert all(int(f) < i for i, t in early for f in t["frame"])
    rows = [np.column_stack([np.full(len(r), t), r[:, 5], r[:, :5]]) for t, r in
            enumerate(confirmed_rows(per_frame, config.tracker.min_hits)) if len(r)]
    whole = sidereal.plausible_tracks(sidereal._streak_table(rows), config, n_frames=len(seq))
    from astropy.table import vstack

    got = vstack([t for _, t in early] + [rest])
    key = lambda t: np.column_stack([np.asarray(t[c], float) for c in ("frame", "id", "x1", "y1", "x2", "y2")])
    a, b = key(got), key(whole)
    assert len(a) == len(b) > 0
    assert np.array_equal(a[np.lexsort(a.T[::-1])], b[np.lexsort(b.T[::-1])])


def test_physical_method_writes_each_row_at_its_frame_or_the_next(tmp_path):
    """The default sidereal method is online: live (watch's past-only static sky window), a
    streak continuing a track comes out of the `step` of its frame, a new track's first streak
    out of the next `step` (the first two frames wait for the third, the window's first
    stack). The batch run (`track_sequence`, centred window) finds the same tracks."""
    from astropy.table import vstack

    from debristrack.io.sequence import open_sequence
    from debristrack.pipeline import sidereal
    from debristrack.simulate import simulate_dataset

    simulate_dataset(tmp_path, mode="sidereal", sequences=1, seed=3, progress=False,
                     overrides={"size": 256, "frames": 6, "objects": (2, 2), "leo_prob": 0.0,
                                "speed": (25.0, 40.0), "snr": (20.0, 30.0), "gap_prob": 0.0})
    seq = open_sequence(tmp_path / "sidereal" / "seq0000")
    method = sidereal.make_method(seq, "matched+physical", sidereal.Config(), live=True)
    parts = []
    for i, frame in enumerate(seq):
        rows = method.step(i, frame)
        if rows is not None:
            frames = set(np.asarray(rows["frame"]).tolist())
            assert frames <= ({i - 1, i} if i > 2 else set(range(i + 1)))
            parts.append(rows)
    parts.append(method.finish())
    got = vstack([p for p in parts if len(p)])
    assert len(got) >= 8 and max(np.bincount(np.asarray(got["id"]))) >= 4  # tracks, not only singles
    assert sum(len(p) for p in parts[:-1]) > 0.75 * len(got)  # most rows came while frames kept coming
    whole = sidereal.track_sequence(seq, method="matched+physical")
    long_tracks = lambda t: sorted(n for n in np.bincount(np.asarray(t["id"])) if n >= 4)
    assert long_tracks(got) == long_tracks(whole)
