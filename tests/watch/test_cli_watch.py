"""debristrack watch on simulated sequences: the same tracks as track, kill/restart, Ctrl-C, --report."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from debristrack.cli import main
from debristrack.io.tables import read_table
from debristrack.simulate import simulate_dataset
from debristrack.watch.journal import read_journal

from .livesim import SlowWriter

REPO = Path(__file__).resolve().parents[2]
SIZE = {"stare": 128, "target": 160, "sidereal": 160}


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    out = {}
    for mode in SIZE:
        simulate_dataset(root / mode, mode=mode, sequences=1, seed=3, progress=False,
                         overrides={"size": SIZE[mode], "frames": 10})
        out[mode] = root / mode / mode / "seq0000"
    return out


def frames_of(seq: Path) -> list[Path]:
    return sorted((seq / "frames").glob("*.fits"))


def same_table(a, b) -> bool:
    a, b = a.copy(), b.copy()
    a.sort(["frame", "id"])
    b.sort(["frame", "id"])
    if a.colnames != b.colnames or len(a) != len(b):
        return False
    for c in a.colnames:
        x, y = np.asarray(a[c]), np.asarray(b[c])
        if not (np.array_equal(x, y) if x.dtype.kind in "iUS" else np.array_equal(x, y, equal_nan=True)):
            return False
    return True


# sidereal's matched detector stacks the frames before each one when live (the frames around it
# in track), for its static sky (real-sky front end) and its static-star median: --star-stack 0
# --real-sky false makes both use each frame alone.
# target --block: rows every 4 frames live, the same rows as track --block 4
CASES = [("stare", []), ("target", []), ("target", ["--block", "4"]),
         ("sidereal", ["--star-stack", "0", "--real-sky", "false"])]


@pytest.mark.parametrize("mode,flags", CASES, ids=[" ".join([c[0]] + c[1]) for c in CASES])
def test_watch_while_frames_are_written_equals_track(sequences, tmp_path, mode, flags):
    live = tmp_path / "live"
    writer = SlowWriter(frames_of(sequences[mode]), live, cadence=0.05, half_pause=0.2)
    writer.start()
    out = tmp_path / "out"
    assert main(["watch", str(live), "--mode", mode, "--idle", "1.5", "--settle", "0.05", "-o", str(out)] + flags) == 0
    writer.join()
    assert main(["track", str(live), "--mode", mode, "-o", str(tmp_path / "batch.csv")] + flags) == 0
    batch = read_table(tmp_path / "batch.csv")
    assert len(batch) >= 4  # objects were found: the comparison means something
    assert same_table(read_table(out / "tracks.csv"), batch)
    entries, _ = read_journal(out / "journal.csv")
    assert [e.index for e in entries if e.kind == "frame"] == list(range(10))
    if "--block" in flags:  # the blocks' rows came at their last frames, the rest at the finish
        per_frame = {e.index: e.rows for e in entries if e.kind == "frame"}
        assert {k for k, n in per_frame.items() if n} == {3, 7}
        assert per_frame[3] == per_frame[7] == 4 * len(set(batch["id"]))
    assert sorted(p.name for p in (out / "tdm").iterdir()) == [f"track-{i:04d}.tdm" for i in sorted(set(batch["id"]))]


def _strip_creation(text: str) -> str:
    return re.sub(r"CREATION_DATE\s*=.*\n", "", text)


def _final_files(out: Path) -> dict[str, str]:
    files = {"tracks.csv": (out / "tracks.csv").read_text()}
    for p in sorted((out / "tdm").glob("*.tdm")):
        files[p.name] = _strip_creation(p.read_text())
    entries, _ = read_journal(out / "journal.csv")
    files["journal"] = repr([(e.kind, e.index, e.file, e.rows, e.bytes) for e in entries])
    return files


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "debristrack.cli", "watch", *map(str, args)]


def test_sigkill_at_random_frames_and_restart_give_the_same_final_files(sequences, tmp_path):
    seq = sequences["stare"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    clean = tmp_path / "clean"
    subprocess.run(_cli(seq, "--mode", "stare", "--idle", "0.5", "--settle", "0.02", "-o", clean), env=env,
                   check=True, capture_output=True)
    out = tmp_path / "killed"
    rng = np.random.default_rng(7)
    kills, resumed_from_checkpoint = 0, False
    for _ in range(8):
        proc = subprocess.Popen(_cli(seq, "--mode", "stare", "--idle", "0.5", "--settle", "0.02", "-o", out,
                                     "--checkpoint-every", "2"),
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        target, seen = int(rng.integers(1, 5)), 0
        for line in proc.stdout:
            seen += line.startswith("frame")
            resumed_from_checkpoint |= "checkpoint after frame" in line
            if seen >= target or line.startswith(("finished", "no new frame")):
                break
        if proc.poll() is None and seen >= target:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate()
        entries, _ = read_journal(out / "journal.csv")
        if entries and entries[-1].kind == "finish":
            break
    assert kills >= 2
    assert entries[-1].kind == "finish"
    assert resumed_from_checkpoint
    assert _final_files(out) == _final_files(clean)


def test_ctrl_c_finishes_exits_130_and_report(sequences, tmp_path):
    seq = sequences["target"]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    out = tmp_path / "out"
    proc = subprocess.Popen(_cli(seq, "--mode", "target", "--settle", "0.02", "-o", out, "--report"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if sum(x.startswith("frame") for x in lines) == 10:
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "finished: 10 frame(s)" in rest
    assert len(read_table(out / "tracks.csv")) > 0
    page = (out / "night.html").read_text()
    n_tracks = len(set(read_table(out / "tracks.csv")["id"]))
    assert page.count('<figure class="overlay"') == n_tracks


def test_bad_watch_input_is_one_line(sequences, tmp_path, capsys):
    seq = sequences["stare"]
    assert main(["watch", "--mode", "stare"]) == 2
    assert main(["watch", str(seq), "--mode", "stare", "--idle", "-1"]) == 2
    assert main(["watch", str(frames_of(seq)[0]), "--mode", "stare"]) == 2
    assert main(["watch", str(seq), "--mode", "stare", "--method", "nope"]) == 2
    out = tmp_path / "out"
    assert main(["watch", str(seq), "--mode", "stare", "--idle", "0.3", "--settle", "0.02", "-o", str(out)]) == 0
    assert main(["watch", str(seq), "--mode", "stare", "--method", "medianstack", "--idle", "0.3", "-o",
                 str(out)]) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("debristrack: error")]
    assert len(err) == 5
    assert "other settings" in err[-1]


def test_a_night_without_objects_still_gets_a_tracks_table_and_a_report(tmp_path):
    simulate_dataset(tmp_path / "sim", mode="target", preset="empty", sequences=1, seed=1, progress=False,
                     overrides={"size": 128, "frames": 5})
    seq = tmp_path / "sim" / "target" / "seq0000"
    out = tmp_path / "out"
    assert main(["watch", str(seq), "--mode", "target", "--idle", "0.3", "--settle", "0.02", "-o", str(out),
                 "--report"]) == 0
    assert len(read_table(out / "tracks.csv")) == 0
    page = (out / "night.html").read_text()
    assert "0 track(s)" in page and '<figure class="overlay"' not in page


def test_watch_identifies_ended_tracks_and_writes_iod(tmp_path, shared, capsys):
    """A TLE-driven GEO field (issue 18's simulator): each track ends at the finish, is identified
    as `debristrack identify` does it, and gets its IOD lines; the report shows the names."""
    import json

    tle = str(shared / "data" / "tle" / "geo.txt")
    assert main(["simulate", "--mode", "stare", "--out", str(tmp_path / "sim"), "--tle", tle, "--site", "40,-3,700",
                 "--start-time", "2019-04-10T21:00:00", "--no-progress", "--ra", "168.6", "--dec", "-6.1",
                 "--size", "384", "--snr", "15,40", "--seed", "1"]) == 0
    seq = tmp_path / "sim" / "stare" / "seq0000"
    out = tmp_path / "out"
    assert main(["watch", str(seq), "--mode", "stare", "--idle", "0.3", "--settle", "0.02", "-o", str(out),
                 "--tle", tle, "--station", "9999", "--report"]) == 0
    capsys.readouterr()
    assert main(["identify", str(out / "tracks.csv"), "--tle", tle, "--sequence", str(seq), "--json"]) == 0
    expected = {r["id"]: r["norad"] for r in json.loads(capsys.readouterr().out)["tracks"]}
    import csv

    with open(out / "identified.csv", newline="") as fh:
        got = {int(r["id"]): int(r["norad"]) for r in csv.DictReader(fh)}
    assert got == expected
    assert sum(n > 0 for n in expected.values()) >= 3
    for tid, norad in expected.items():
        iod = (out / "tdm" / f"track-{tid:04d}.iod").read_text().splitlines()
        assert iod and all(line.startswith(f"{norad:05d}") and len(line) <= 80 for line in iod)
    page = (out / "night.html").read_text()
    assert "<th>identified</th><th>UCT</th>" in page
