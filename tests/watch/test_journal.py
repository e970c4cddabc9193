"""WatchOutput: append-only rows, the journal as the commit, exact resume after a torn write."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from debristrack.errors import InputError
from debristrack.io.tables import read_table
from debristrack.watch.journal import WatchOutput, read_journal

STATE = {"folder": "/night", "mode": "stare", "method": "minstack", "config": {"window": 5}}


def rows(frame: int, n: int = 2) -> Table:
    return Table([np.full(n, frame, np.int64), np.arange(1, n + 1, dtype=np.int64),
                  np.full(n, 1.5 * frame), np.full(n, 2.25)], names=("frame", "id", "x", "y"))


def add(out: WatchOutput, k: int, n: int = 2):
    return out.frame(rows(k, n) if n else None, index=k, file=f"{k:06d}.fits", part=0, size=100 + k,
                     mtime_ns=10 ** 9 + k, time=f"2025-01-15T18:00:{k:02d}.000")


def test_rows_append_and_journal_commits(tmp_path):
    out = WatchOutput(tmp_path / "w", STATE)
    add(out, 0, 0)          # a frame that decides nothing: a journal line, no tracks file yet
    assert not out.tracks_path.exists()
    add(out, 1)
    add(out, 2)
    out.finish(rows(3, 1))
    table = read_table(out.tracks_path)
    assert list(table["frame"]) == [1, 1, 2, 2, 3]
    entries, _ = read_journal(out.journal_path)
    assert [e.kind for e in entries] == ["frame", "frame", "frame", "finish"]
    assert [e.rows for e in entries] == [0, 2, 2, 1]
    assert entries[-1].bytes == out.tracks_path.stat().st_size


def test_restart_cuts_rows_whose_journal_line_is_missing(tmp_path):
    out = WatchOutput(tmp_path / "w", STATE)
    add(out, 0)
    add(out, 1)
    committed = out.tracks_path.read_bytes()
    # a kill after frame 2's rows reached the disk but before its journal line, mid-row
    with open(out.tracks_path, "ab") as fh:
        fh.write(b"2,1,3.0,2.25\n2,2,3.")
    with open(out.journal_path, "ab") as fh:
        fh.write(b"frame,2,000002.fits,0,102")  # torn journal line
    again = WatchOutput(tmp_path / "w", STATE)
    assert [e.index for e in again.frames] == [0, 1]
    assert again.tracks_path.read_bytes() == committed
    assert again.done_files() == {"000000.fits", "000001.fits"}
    add(again, 2)
    assert list(read_table(again.tracks_path)["frame"]) == [0, 0, 1, 1, 2, 2]
    entries, size = read_journal(again.journal_path)
    assert len(entries) == 3 and size == again.journal_path.stat().st_size


def test_other_settings_refuse_to_resume(tmp_path):
    out = WatchOutput(tmp_path / "w", STATE)
    add(out, 0)
    with pytest.raises(InputError, match="other settings .*method"):
        WatchOutput(tmp_path / "w", dict(STATE, method="medianstack"))
    fresh = WatchOutput(tmp_path / "w", dict(STATE, method="medianstack"), overwrite=True)
    assert fresh.frames == [] and not fresh.tracks_path.exists()


def test_tracks_shorter_than_the_journal_says_is_an_error(tmp_path):
    out = WatchOutput(tmp_path / "w", STATE)
    add(out, 0)
    out.tracks_path.write_bytes(out.tracks_path.read_bytes()[:10])
    with pytest.raises(InputError, match="changed by hand"):
        WatchOutput(tmp_path / "w", STATE)


def test_later_rows_keep_the_first_header(tmp_path):
    out = WatchOutput(tmp_path / "w", STATE)
    add(out, 0)
    extra = rows(1)
    extra["flag"] = ["ok", "faint"]
    out.frame(extra, index=1, file="1.fits", part=0, size=1, mtime_ns=1, time="")
    table = read_table(out.tracks_path)
    assert table.colnames == ["frame", "id", "x", "y"]
    assert len(table) == 4
