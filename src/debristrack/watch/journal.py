"""The watch output folder: an append-only tracks file and a journal that make restarts exact.

::

    OUT/watch.json    what is watched and how (folder, mode, method, config): a restart must match
    OUT/tracks.csv    the tracks table (DESIGN.md "Tables"), rows appended as methods decide them
    OUT/journal.csv   one line per frame processed (and per file skipped, and at the finish)
    OUT/checkpoint.pkl the method's state after some frame (so a restart replays only the frames after it)

Per frame, the new rows are appended to ``tracks.csv`` and synced to disk, then one journal
line is appended and synced; it records the frame's file (name, size, mtime), how many rows
it added and the size of ``tracks.csv`` after them. The journal is the commit: on a restart
``tracks.csv`` is cut back to the size the last whole journal line records (rows of a frame
whose journal line never made it are dropped, and that frame is done again), so a kill at any
moment loses nothing and writes nothing twice.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from astropy.table import Table

from ..errors import InputError
from ..io.atomic import write_json_atomic
from ..io.tables import format_rows, table_columns

JOURNAL_FIELDS = ("kind", "index", "file", "part", "size", "mtime_ns", "time", "rows", "bytes", "latency_s",
                  "note")
STATE = "watch.json"
TRACKS = "tracks.csv"
JOURNAL = "journal.csv"
CHECKPOINT = "checkpoint.pkl"


@dataclass(frozen=True)
class Entry:
    """One journal line. ``kind``: ``frame`` (a processed frame), ``skip`` (a file not
    processed, ``note`` says why) or ``finish`` (the methods' last rows are written)."""

    kind: str
    index: int = -1
    file: str = ""
    part: int = 0
    size: int = 0
    mtime_ns: int = 0
    time: str = ""
    rows: int = 0
    bytes: int = 0
    latency_s: float = float("nan")
    note: str = ""

    def line(self) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(
            [self.kind, self.index, self.file, self.part, self.size, self.mtime_ns, self.time, self.rows,
             self.bytes, f"{self.latency_s:.4f}", self.note])
        return buf.getvalue()

    @classmethod
    def parse(cls, fields: list[str]) -> "Entry":
        k, index, file, part, size, mtime_ns, t, rows, nbytes, latency, note = fields
        if k not in ("frame", "skip", "finish"):
            raise ValueError(k)
        return cls(k, int(index), file, int(part), int(size), int(mtime_ns), t, int(rows), int(nbytes),
                   float(latency), note)


def read_journal(path: Path) -> tuple[list[Entry], int]:
    """The whole lines of a journal and the byte length they take (a torn last line, from
    a kill in the middle of a write, is not counted)."""
    if not path.is_file():
        return [], 0
    raw = path.read_bytes()
    entries: list[Entry] = []
    good = 0
    pos = 0
    for line in raw.splitlines(keepends=True):
        end = pos + len(line)
        if not line.endswith(b"\n"):
            break
        fields = next(csv.reader([line.decode("utf-8", "replace")]))
        if pos == 0 and fields == list(JOURNAL_FIELDS):
            good, pos = end, end
            continue
        try:
            entries.append(Entry.parse(fields))
        except (ValueError, TypeError):
            break  # a damaged line: everything from here is redone
        good, pos = end, end
    return entries, good


def _fsync_append(path: Path, data: bytes) -> int:
    """Append ``data`` and sync it to disk; returns the file's new size."""
    with open(path, "ab") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
        return fh.tell()


class WatchOutput:
    """The output folder of one watch (module docstring), opened for appending.

    ``entries`` are the journal lines of earlier runs (empty on a fresh start);
    ``columns`` is the tracks file's header once written (the first rows' columns: later
    rows are written in those columns, a missing value as NaN or empty text).
    """

    def __init__(self, out: str | os.PathLike, state: dict, *, overwrite: bool = False):
        self.out = Path(out)
        self.tracks_path = self.out / TRACKS
        self.journal_path = self.out / JOURNAL
        self.state_path = self.out / STATE
        if self.out.exists() and not self.out.is_dir():
            raise InputError(f"{self.out}: is a file; the watch output is a folder")
        if overwrite:
            for p in (self.tracks_path, self.journal_path, self.state_path, self.out / CHECKPOINT):
                p.unlink(missing_ok=True)
            tdm = self.out / "tdm"
            if tdm.is_dir():
                for p in tdm.glob("*.tdm"):
                    p.unlink()
        self.out.mkdir(parents=True, exist_ok=True)
        if not os.access(self.out, os.W_OK):
            raise InputError(f"{self.out}: cannot write here")
        self._check_state(state)
        self.entries, good = read_journal(self.journal_path)
        self._resume(good)

    # --------------------------------------------------------------- start / restart
    def _check_state(self, state: dict) -> None:
        if self.state_path.is_file():
            try:
                old = json.loads(self.state_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{self.state_path}: unreadable watch state ({exc}); use --overwrite") from None
            differ = [k for k in state if old.get(k) != state[k]]
            if differ:
                raise InputError(f"{self.out}: was started with other settings ({', '.join(differ)}: "
                                 f"{old.get(differ[0])!r}); resume with the same ones, use another -o, "
                                 "or --overwrite")
            self.state = old
        else:
            if self.tracks_path.exists() or self.journal_path.exists():
                raise InputError(f"{self.out}: holds tracks.csv or journal.csv but no {STATE}; "
                                 "use another -o or --overwrite")
            self.state = dict(state)
            write_json_atomic(self.state_path, self.state)

    def _resume(self, good: int) -> None:
        committed = self.entries[-1].bytes if self.entries else 0
        size = self.tracks_path.stat().st_size if self.tracks_path.exists() else 0
        if size < committed:
            raise InputError(f"{self.tracks_path}: has {size} bytes but {self.journal_path} records {committed}; "
                             "the output was changed by hand: use --overwrite")
        if size > committed:  # rows of a frame whose journal line was not written: redone
            with open(self.tracks_path, "r+b") as fh:
                fh.truncate(committed)
                os.fsync(fh.fileno())
        if self.journal_path.exists() and self.journal_path.stat().st_size > good:
            with open(self.journal_path, "r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())
        if not self.journal_path.exists() or good == 0:
            _fsync_append(self.journal_path, (",".join(JOURNAL_FIELDS) + "\n").encode())
        self.columns: list[str] | None = None
        if committed:
            with open(self.tracks_path, newline="", encoding="utf-8") as fh:
                self.columns = next(csv.reader(fh))
        self.bytes = committed

    # --------------------------------------------------------------- queries
    @property
    def frames(self) -> list[Entry]:
        """The frames processed so far, in order."""
        return [e for e in self.entries if e.kind == "frame"]

    @property
    def finished(self) -> bool:
        return bool(self.entries) and self.entries[-1].kind == "finish"

    def done_files(self) -> set[str]:
        return {e.file for e in self.entries if e.kind in ("frame", "skip")}

    def read_tracks(self) -> Table | None:
        """The tracks written so far (None before the first row)."""
        if not self.bytes:
            return None
        from ..io.tables import read_table

        return read_table(self.tracks_path)

    # --------------------------------------------------------------- writing
    def _append_rows(self, table: Table | None) -> int:
        if table is None or len(table) == 0:
            return 0
        text = io.StringIO()
        if self.columns is None:
            self.columns = table_columns(table)
            csv.writer(text, lineterminator="\n").writerow(self.columns)
        format_rows(table, self.columns, text)
        self.bytes = _fsync_append(self.tracks_path, text.getvalue().encode("utf-8"))
        return len(table)

    def _commit(self, entry: Entry) -> Entry:
        _fsync_append(self.journal_path, entry.line().encode("utf-8"))
        self.entries.append(entry)
        return entry

    def frame(self, table: Table | None, *, index: int, file: str, part: int, size: int, mtime_ns: int,
              time: str, complete_at: float | None = None) -> Entry:
        """Append one frame's rows, then its journal line. ``latency_s`` is measured from
        ``complete_at`` (wall-clock seconds) to the rows being on disk."""
        import time as _time

        n = self._append_rows(table)
        latency = _time.time() - complete_at if complete_at is not None else float("nan")
        return self._commit(Entry("frame", index, file, part, size, mtime_ns, time, n, self.bytes, latency))

    def skip(self, file: str, note: str, *, size: int = 0, mtime_ns: int = 0) -> Entry:
        """Record a file that is not processed (late, unreadable) so a restart skips it too."""
        return self._commit(Entry("skip", -1, file, 0, size, mtime_ns, "", 0, self.bytes, float("nan"), note))

    def finish(self, table: Table | None) -> Entry:
        """Append the methods' last rows and mark the night finished. A night without a row
        still gets its tracks file (the header of the method's empty table)."""
        n = self._append_rows(table)
        if self.columns is None and table is not None:
            self.columns = table_columns(table)
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerow(self.columns)
            self.bytes = _fsync_append(self.tracks_path, text.getvalue().encode("utf-8"))
        return self._commit(Entry("finish", -1, "", 0, 0, 0, "", n, self.bytes))
