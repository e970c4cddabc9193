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


@pytest.fixture()
def star_field_folder(tmp_path):
    """Six 256x256 target-mode frames (crowded stars, a followed object) as FITS files."""
    from astropy.io import fits

    from debristrack.bench.target import _scene

    for sim in iter_frames(_scene(7000, 1.5, 256, 6), seed=4):
        fits.PrimaryHDU(sim.data, sim.header).writeto(tmp_path / f"{sim.index:03d}.fits")
    return tmp_path


class SharedExtract:
    """Target mode's extraction, and who ran it. A helper process leaves ``marker``; this
    process waits for it before its second frame (so that a helper, which spawn starts in a
    second or two, does take frames)."""

    def __init__(self, marker):
        import os

        self.main, self.marker = os.getpid(), marker

    def __call__(self, frame):
        import os
        import time

        from debristrack.pipeline.target import Config, ExtractFrame

        if os.getpid() != self.main:
            self.marker.touch()
        elif not frame.name.startswith("000"):
            for _ in range(300):
                if self.marker.exists():
                    break
                time.sleep(0.1)
        return ExtractFrame(Config())(frame), os.getpid()


def test_frames_shared_with_a_helper_process_give_the_same_sources_in_order(star_field_folder, tmp_path):
    import multiprocessing
    import os

    from debristrack.io.sequence import open_sequence
    from debristrack.pipeline.loop import share_work
    from debristrack.pipeline.target import Config, ExtractFrame

    seq = open_sequence(star_field_folder)
    alone = [ExtractFrame(Config())(frame) for frame in seq]
    shared = list(share_work(seq, SharedExtract(tmp_path / "helper-ran"), 1, after_s=0))  # helper at once
    assert [s[0][0] for s in shared] == seq.names
    for (_, a, _), ((_, b, _), _) in zip(alone, shared):
        assert len(a) > 20 and np.array_equal(a.x, b.x) and np.array_equal(a.flux, b.flux)
    assert {pid for _, pid in shared} - {os.getpid()}  # the helper made some of them
    assert not multiprocessing.active_children()  # and is gone once the frames are done


def test_a_bad_frame_fails_at_its_turn_whoever_read_it(star_field_folder):
    from debristrack.io.sequence import open_sequence
    from debristrack.pipeline.loop import share_work
    from debristrack.pipeline.target import Config, ExtractFrame

    seq = open_sequence(star_field_folder)
    (star_field_folder / "003.fits").write_bytes(b"SIMPLE  =                    T" + b" " * 50)  # cut short
    got = []
    with pytest.raises(InputError, match="003.fits"):
        for name, _, _ in share_work(seq, ExtractFrame(Config()), 1, after_s=0):
            got.append(name)
    assert got == ["000.fits", "001.fits", "002.fits"]


def test_small_frames_start_no_helper(star_field_folder, monkeypatch):
    import multiprocessing

    from debristrack.io.sequence import open_sequence
    from debristrack.pipeline import target

    started = []
    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process",
                        lambda *a, **k: started.append(1), raising=False)
    seq = open_sequence(star_field_folder)
    assert len(target.track_sequence(seq, workers=2)) == len(target.track_sequence(seq, workers=1))
    assert not started  # six 256x256 frames take far less than HELPERS_AFTER_S: all here


class DiesOnHelper:
    """Target mode's extraction; a helper process dies on the first frame it takes, after
    leaving ``marker``; this process waits for the marker (so a helper does take a frame)."""

    def __init__(self, marker):
        import os

        self.main, self.marker = os.getpid(), marker

    def __call__(self, frame):
        import os
        import time

        from debristrack.pipeline.target import Config, ExtractFrame

        if os.getpid() != self.main:
            self.marker.touch()
            os._exit(9)
        for _ in range(300):
            if self.marker.exists() or frame.name.startswith("000"):
                break
            time.sleep(0.1)
        return ExtractFrame(Config())(frame)


def test_a_frame_whose_helper_died_is_done_here(star_field_folder, tmp_path):
    from debristrack.io.sequence import open_sequence
    from debristrack.pipeline.loop import share_work

    seq = open_sequence(star_field_folder)
    marker = tmp_path / "helper-died"
    got = [name for name, _, _ in share_work(seq, DiesOnHelper(marker), 1, after_s=0)]
    assert marker.exists() and got == seq.names
