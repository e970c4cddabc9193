"""watch(): frames taken as they are written, same rows as a batch run, exact restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from debristrack.io.sequence import open_sequence
from debristrack.io.tables import read_table
from debristrack.watch import watch
from debristrack.watch.journal import read_journal

from . import livesim
from .livesim import BrightestLagged, SlowWriter, batch, copy_all, make_frames

STATE = {"folder": "live", "mode": "test", "method": "brightest", "config": {}}
REPO = Path(__file__).resolve().parents[2]


def sorted_rows(table):
    a = np.column_stack([np.asarray(table[c], float) for c in ("frame", "id", "x", "y")])
    return a[np.lexsort((a[:, 1], a[:, 0]))]


def test_writer_thread_at_a_cadence_gives_the_batch_rows(tmp_path):
    sources = make_frames(tmp_path / "src", 8)
    live = tmp_path / "live"
    writer = SlowWriter(sources, live, cadence=0.05, half_pause=0.25)
    lines = []
    writer.start()
    result = watch(live, tmp_path / "out", make_method=BrightestLagged, mode="test", state=STATE, idle=1.5,
                   settle=0.1, say=lines.append)
    writer.join()
    assert result.finished and result.frames == 8
    expected = batch(BrightestLagged(), open_sequence(live))
    got = read_table(tmp_path / "out" / "tracks.csv")
    assert np.array_equal(sorted_rows(got), sorted_rows(expected))
    frame_lines = [x for x in lines if x.startswith("frame")]
    assert len(frame_lines) == 8 and all("latency" in x for x in frame_lines)
    # each frame waited for its second half: latency counts from the file's last write
    entries, _ = read_journal(tmp_path / "out" / "journal.csv")
    lat = [e.latency_s for e in entries if e.kind == "frame"]
    assert all(0 < v < 10 for v in lat)


def test_crash_then_restart_gives_the_same_files(tmp_path):
    sources = make_frames(tmp_path / "live", 9)
    clean = tmp_path / "clean"
    watch(tmp_path / "live", clean, make_method=BrightestLagged, mode="test", state=STATE, idle=0.2,
          settle=0.01, say=lambda s: None)
    crashed = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="crash at frame 5"):
        watch(tmp_path / "live", crashed, make_method=lambda: BrightestLagged(crash_at=5), mode="test",
              state=STATE, idle=0.2, settle=0.01, say=lambda s: None)
    lines = []
    result = watch(tmp_path / "live", crashed, make_method=BrightestLagged, mode="test", state=STATE, idle=0.2,
                   settle=0.01, say=lines.append)
    assert result.replayed == 5 and result.frames == 9
    assert any(x.startswith("resumed") for x in lines)
    assert (crashed / "tracks.csv").read_bytes() == (clean / "tracks.csv").read_bytes()
    a, _ = read_journal(clean / "journal.csv")
    b, _ = read_journal(crashed / "journal.csv")
    assert [(e.kind, e.index, e.file, e.rows, e.bytes) for e in a] == [(e.kind, e.index, e.file, e.rows, e.bytes)
                                                                       for e in b]
    assert len(sources) == 9


def test_stop_finishes_at_a_frame_boundary(tmp_path):
    make_frames(tmp_path / "live", 4)
    stop = threading.Event()
    lines = []

    def say(text):
        lines.append(text)
        if text.startswith("frame     1"):
            stop.set()  # Ctrl-C while frame 1 is reported

    result = watch(tmp_path / "live", tmp_path / "out", make_method=BrightestLagged, mode="test", state=STATE,
                   settle=0.01, stop=stop, say=say)
    assert result.interrupted and result.finished
    table = read_table(tmp_path / "out" / "tracks.csv")
    assert sorted(set(table["frame"])) == list(range(result.frames))  # finish() decided the rest
    entries, _ = read_journal(tmp_path / "out" / "journal.csv")
    assert entries[-1].kind == "finish"
    again = []
    watch(tmp_path / "live", tmp_path / "out", make_method=BrightestLagged, mode="test", state=STATE,
          settle=0.01, idle=0.1, say=again.append)
    assert "finished before" in again[0]


def test_late_frame_is_skipped_and_said(tmp_path):
    paths = make_frames(tmp_path / "src", 4)
    live = tmp_path / "live"
    copy_all([paths[0], paths[2], paths[3]], live)
    lines = []

    class LateWriter(threading.Thread):
        def run(self):
            time.sleep(0.4)
            copy_all([paths[1]], live)  # arrives after frames later in time

    LateWriter().start()
    result = watch(live, tmp_path / "out", make_method=BrightestLagged, mode="test", state=STATE, idle=1.0,
                   settle=0.05, say=lines.append)
    assert result.frames == 3 and result.skipped == 1
    assert any("skipped 000001.fits" in x for x in lines)
    entries, _ = read_journal(tmp_path / "out" / "journal.csv")
    assert [e.file for e in entries if e.kind == "skip"] == ["000001.fits"]


KILLABLE = """
import sys, time
sys.path.insert(0, {tests!r})
from watch.livesim import BrightestLagged
from debristrack.watch import watch

class Slow(BrightestLagged):
    def step(self, index, frame):
        time.sleep(0.03)
        return super().step(index, frame)

watch({live!r}, {out!r}, make_method=Slow, mode="test", state={state!r}, idle=0.3, settle=0.01,
      say=lambda s: print(s, flush=True))
"""


def test_sigkill_at_random_moments_then_restart_gives_the_same_files(tmp_path):
    make_frames(tmp_path / "live", 20)
    clean = tmp_path / "clean"
    watch(tmp_path / "live", clean, make_method=BrightestLagged, mode="test", state=STATE, idle=0.3,
          settle=0.01, say=lambda s: None)
    out = tmp_path / "killed"
    script = KILLABLE.format(tests=str(REPO / "tests"), live=str(tmp_path / "live"), out=str(out), state=STATE)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    rng = np.random.default_rng(19)
    kills = 0
    for attempt in range(12):
        proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        # let it process a random number of frames (it replays the earlier ones first)
        target = int(rng.integers(1, 8))
        seen = 0
        for line in proc.stdout:
            if line.startswith("frame"):
                seen += 1
            if seen >= target or line.startswith("finished"):
                break
        time.sleep(float(rng.uniform(0, 0.03)))  # somewhere inside the next frame's work or write
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        proc.stdout.close()
        entries, _ = read_journal(out / "journal.csv")
        if entries and entries[-1].kind == "finish":
            break
    assert kills >= 3
    assert entries[-1].kind == "finish"
    assert (out / "tracks.csv").read_bytes() == (clean / "tracks.csv").read_bytes()
    a, _ = read_journal(clean / "journal.csv")
    assert [(e.index, e.file, e.rows, e.bytes) for e in a] == [(e.index, e.file, e.rows, e.bytes) for e in entries]


def test_restart_from_a_checkpoint_replays_only_the_frames_after_it(tmp_path):
    make_frames(tmp_path / "live", 10)
    clean = tmp_path / "clean"
    watch(tmp_path / "live", clean, make_method=BrightestLagged, mode="test", state=STATE, idle=0.2,
          settle=0.01, say=lambda s: None, checkpoint_every=None)
    out = tmp_path / "out"
    livesim.CRASH["at"] = 8
    try:
        with pytest.raises(RuntimeError, match="crash at frame 8"):
            watch(tmp_path / "live", out, make_method=BrightestLagged, mode="test", state=STATE,
                  idle=0.2, settle=0.01, say=lambda s: None, checkpoint_every=3)
    finally:
        livesim.CRASH["at"] = None
    assert (out / "checkpoint.pkl").is_file()
    lines = []
    # a new method would crash again at frame 8: the checkpoint's (after frame 5) is used, and told not to
    result = watch(tmp_path / "live", out, make_method=lambda: BrightestLagged(crash_at=0), mode="test",
                   state=STATE, idle=0.2, settle=0.01, say=lines.append, checkpoint_every=3)
    assert result.replayed == 2 and result.frames == 10  # frames 6 and 7
    assert any("checkpoint after frame 5" in x for x in lines)
    assert (out / "tracks.csv").read_bytes() == (clean / "tracks.csv").read_bytes()
    assert not (out / "checkpoint.pkl").exists()  # finished: nothing to resume
