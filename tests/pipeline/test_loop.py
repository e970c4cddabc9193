"""The one frame loop: order, read-ahead, progress, rows from steps and finish, frames one at a time."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from astropy.table import Table

from debristrack.errors import InputError
from debristrack.pipeline import sidereal, stare
from debristrack.pipeline.loop import feed, read_ahead, run_method
from debristrack.simulate import iter_frames, make_scene


class Recorder:
    """A method that returns one row per even frame at once and the odd ones at the end."""

    def __init__(self):
        self.seen, self.threads, self.later = [], set(), []

    def prepare(self, frame):
        self.threads.add(threading.current_thread().name)
        return frame * 10

    def step(self, index, frame):
        self.seen.append((index, frame))
        if index % 2:
            self.later.append(index)
            return None
        return Table({"frame": [index], "value": [frame]})

    def finish(self):
        return Table({"frame": self.later, "value": [10 * i for i in self.later]})


def test_loop_drives_steps_in_order_and_adds_finish_rows():
    method, calls = Recorder(), []
    table = run_method(method, [0, 1, 2, 3, 4], progress=lambda d, n: calls.append((d, n)))
    assert method.seen == [(i, 10 * i) for i in range(5)]
    assert table["frame"].tolist() == [0, 2, 4, 1, 3]  # decided in the steps first, then at finish
    assert calls == [(i, 5) for i in range(1, 6)]
    assert threading.current_thread().name not in method.threads  # prepare ran in the read-ahead thread


def test_read_ahead_reads_at_most_one_frame_ahead_and_passes_errors_on():
    read = []

    def frames():
        for i in range(4):
            read.append(i)
            yield i

    for i in read_ahead(frames()):
        assert max(read) <= i + 1
    with pytest.raises(InputError, match="bad frame"):
        list(read_ahead(iter([1, 2]), prepare=lambda f: (_ for _ in ()).throw(InputError("bad frame"))))


def test_frames_fed_one_at_a_time_give_the_batch_result(moving_streak_sequence):
    # the same method object, frame after frame as a live folder would deliver them
    config = sidereal.Config()
    batch = sidereal.track_sequence(moving_streak_sequence, method="lsd+ocsort", config=config)
    method = sidereal.make_method(moving_streak_sequence, "lsd+ocsort", config)
    for i, frame in enumerate(moving_streak_sequence):
        feed(method, i, frame)
    live = method.finish()
    assert len(batch) == 5 and np.array_equal(np.asarray(live["x1"]), np.asarray(batch["x1"]))


def test_stacking_holds_one_window_of_frames():
    scene = make_scene("stare", "good", size=96, frames=9)
    frames = [f.data for f in iter_frames(scene, seed=1)]
    method = stare.StackMethod("minstack", stare.Config(), window=3, n_frames=None)  # frames one at a time
    held = []
    for i, frame in enumerate(frames):
        feed(method, i, frame)
        held.append((len(method.ring), len(method.prepared)))
    method.finish()
    assert max(h for h, _ in held) == 3 and max(p for _, p in held) == 3
    assert method.starts == [0, 3, 6]  # three blocks, as track makes of 9 frames
