"""Live mode: each frame through a method as soon as its file is complete.

:func:`watch` drives one method of the frame loop (``step(index, frame)`` -> the rows it can
decide now, ``finish()`` -> the rest) over the frames of a folder as a camera writes them:

1. :class:`~.folder.FolderWatcher` hands out the files that became complete, in time order;
2. each frame goes to ``method.step``; its rows get ``time`` and sky columns (from the frame
   headers, or ``--wcs``) and are appended to ``tracks.csv`` and synced, then the frame's journal
   line (:mod:`.journal`); one line per frame is printed with its latency (file complete ->
   rows on disk);
3. a track with no new row for ``end_after`` frames has ended: its CCSDS TDM is written
   (``tdm/track-NNNN.tdm``, rewritten if rows for it come later);
4. after ``idle`` seconds without a new frame, or when ``stop`` is set (Ctrl-C), ``finish()``
   adds the last rows, every track's TDM is written and the journal is closed.

A restart (after a kill or a crash) replays the journal's frames through a new method to
rebuild its state without writing anything, then goes on with the frames not yet processed.
Memory stays flat: the method keeps its window, this module one row set per open track's end
check and a few headers.
"""

from __future__ import annotations

import pickle
import threading
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
from astropy.table import Table

from ..allocator import keep_freed_memory
from ..astrometry.sky import WcsSource, add_sky_columns, load_wcs_file
from ..errors import InputError
from ..io.sequence import Frame, FrameRef, FrameSequence, open_sequence
from ..io.tables import read_table
from ..io.times import exposure_time, mid_time, start_time
from .folder import Arrival, FolderWatcher, frames_folder
from ..io.atomic import atomic_write
from .journal import CHECKPOINT, WatchOutput


class Method(Protocol):
    """What :func:`watch` drives: one method instance of the frame loop."""

    def step(self, index: int, frame: Frame) -> Table | None: ...

    def finish(self) -> Table | None: ...


@dataclass
class WatchResult:
    """What a watch run did: frames processed in this run and in all, rows, whether it finished."""

    frames: int = 0
    replayed: int = 0
    rows: int = 0
    skipped: int = 0
    finished: bool = False
    interrupted: bool = False
    tdm: list[Path] = field(default_factory=list)


class FrameHeaders:
    """Headers of the frames processed so far, by frame index: the latest ``keep`` held, older
    ones read back from their file when rows for them come late (flat memory)."""

    def __init__(self, keep: int = 256):
        self.keep = keep
        self._where: list[tuple[Path, int]] = []
        self._recent: dict[int, object] = {}

    def add(self, index: int, path: Path, part: int, header=None) -> None:
        """Note frame ``index``; without ``header`` it is read from the file when needed."""
        if index != len(self._where):
            raise ValueError(f"frame {index} added after {len(self._where)} frames")
        self._where.append((path, part))
        if header is not None:
            self._recent[index] = header
            if len(self._recent) > self.keep:
                self._recent.pop(next(iter(self._recent)))

    def __len__(self) -> int:
        return len(self._where)

    def header(self, index: int):
        if index not in self._recent:
            path, part = self._where[index]
            return open_sequence(path).header(part)
        return self._recent[index]

    def sequence(self, indices) -> FrameSequence:
        """A header-only :class:`FrameSequence` of the given frames (in that order)."""
        headers = [self.header(i) for i in indices]
        refs = [FrameRef(self._where[i][0], 0, None, self._where[i][0].name) for i in indices]
        shape = (int(headers[0].get("NAXIS2", 0)), int(headers[0].get("NAXIS1", 0))) if headers else (0, 0)
        return FrameSequence(self._where[indices[0]][0].parent if indices else Path("."), refs, headers, shape,
                             [mid_time(h) for h in headers])


class SkyColumns:
    """Adds ``time`` and sky columns to a batch of rows, as ``track`` does for a whole table
    (:func:`~debristrack.astrometry.sky.add_sky_columns`), from the frames' headers or one WCS
    file (propagated by the Earth's rotation in stare mode)."""

    def __init__(self, headers: FrameHeaders, *, mode: str, wcs_file: Path | None = None, say=None):
        self.headers = headers
        self.mode = mode
        self.external = load_wcs_file(wcs_file) if wcs_file is not None else None
        self._notes: set[str] = set()
        self._say = say
        self.last: dict[int, tuple] = {}  # streak track id -> its last written (frame, x1, y1, x2, y2)

    def restore(self, table: Table | None) -> None:
        """The last written streak of each track, from the tracks written before a restart."""
        if table is None or len(table) == 0 or "x1" not in table.colnames:
            return
        for r in table:
            tid = int(r["id"])
            if tid not in self.last or int(r["frame"]) >= self.last[tid][0]:
                self.last[tid] = (int(r["frame"]), *(float(r[c]) for c in ("x1", "y1", "x2", "y2")))

    def _with_context(self, table: Table) -> tuple[Table, np.ndarray]:
        """``table`` plus, for a streak track with rows of one frame only here, its last written
        row (a live method writes a continuing track one row per frame): which end of a streak
        was passed first follows from the track's motion (time1/time2, as ``track`` has them).
        Returns the table and the mask of its own rows."""
        if "x1" not in table.colnames or "id" not in table.colnames:
            return table, np.ones(len(table), bool)
        ids, frames = np.asarray(table["id"]), np.asarray(table["frame"])
        extra = []
        for tid in np.unique(ids):
            here = ids == tid
            prev = self.last.get(int(tid))
            if prev is not None and len(np.unique(frames[here])) == 1 and prev[0] < frames[here][0]:
                row = table[np.flatnonzero(here)[0]]
                extra.append({**{c: row[c] for c in table.colnames}, "frame": prev[0],
                              **dict(zip(("x1", "y1", "x2", "y2"), prev[1:]))})
        for r in table:
            tid = int(r["id"])
            if tid not in self.last or int(r["frame"]) >= self.last[tid][0]:
                self.last[tid] = (int(r["frame"]), *(float(r[c]) for c in ("x1", "y1", "x2", "y2")))
        if not extra:
            return table, np.ones(len(table), bool)
        out = table.copy()
        for e in extra:
            out.add_row([e[c] for c in table.colnames])
        return out, np.arange(len(out)) < len(table)

    def _note(self, text: str) -> None:
        key = text.split(": ", 1)[-1]
        if key not in self._notes and self._say is not None:
            self._notes.add(key)
            self._say(text)

    def __call__(self, table: Table | None) -> Table | None:
        if table is None or len(table) == 0:
            return table
        table, own = self._with_context(table)
        frames = np.asarray(table["frame"], dtype=int)
        used = [int(f) for f in np.unique(frames)]
        seq = self.headers.sequence(used)
        sub = table.copy()
        position = {f: k for k, f in enumerate(used)}
        sub["frame"] = np.array([position[int(f)] for f in frames], dtype=np.int64)
        wcs_for = None
        if self.external is not None:
            wcs, header = self.external
            when = None
            if self.mode == "stare":
                start = start_time(header)
                if start is not None:
                    from astropy.time import TimeDelta

                    when = start + TimeDelta((exposure_time(header) or 0.0) / 2, format="sec")
                else:
                    when = mid_time(self.headers.header(0))  # the night's first frame, as track does
            wcs_for = WcsSource(seq, external=wcs, external_time=when, stare=self.mode == "stare")
        out = add_sky_columns(sub, seq, wcs_for=wcs_for, on_missing=self._note)
        out["frame"] = table["frame"]
        return out[own]


@dataclass
class Identifier:
    """Identification of ended tracks against a TLE catalogue (:mod:`debristrack.astrometry.identify`,
    issue 18): ``OUT/identified.csv`` (one line per track, ``debristrack identify``'s columns,
    rewritten whole) and, with a COSPAR ``station``, the track's IOD lines ``tdm/track-NNNN.iod``."""

    tle: list[Path]
    site_text: str | None = None
    station: str | None = None
    results: dict = field(default_factory=dict)
    _catalogue: object = None
    _site: object = None

    def start(self, out: Path) -> None:
        """Read the catalogue (before the night: a bad TLE file is said at once)."""
        from ..astrometry.catalogue import load_catalogue
        from ..astrometry.ephemeris import Site

        self.path = out / "identified.csv"
        self._catalogue = load_catalogue(self.tle)
        self._site = Site.parse(self.site_text) if self.site_text else None

    def _site_of(self, first_header):
        from ..astrometry.ephemeris import Site

        if self._site is None:
            self._site = Site.from_header(first_header)
            if self._site is None:
                raise InputError("watch --tle: the frames have no OBSGEO-B/L/H (or LATITUDE/LONGITUD) headers; "
                                 "give --site lat,lon,height")
        return self._site

    def identify(self, rows: Table, tid: int, iod_path: Path, first_header) -> str:
        """Identify one track's rows; returns its label (name or UCT)."""
        from ..astrometry.identify import annotate, identify_table
        from ..astrometry.iod import write_observer_formats
        from ..astrometry.identify import results_csv

        found = identify_table(rows, self._catalogue, self._site_of(first_header))
        if not found:
            return ""
        self.results[tid] = found[0]
        with atomic_write(self.path, "w", encoding="utf-8") as fh:
            fh.write(results_csv([self.results[k] for k in sorted(self.results)]))
        if self.station:
            list(write_observer_formats(annotate(rows, found), station=self.station, iod=iod_path))
        return found[0].name if found[0].status == "ID" else "UCT"


class TrackEnds:
    """Which tracks have ended (no new row for ``end_after`` frames) and their TDM files."""

    def __init__(self, out: Path, *, end_after: int, say=None, identifier: Identifier | None = None):
        self.identifier = identifier
        self.first_header = None  # () -> the night's first frame header (the site for identification)
        self.folder = out / "tdm"
        self.end_after = max(1, int(end_after))
        self.last: dict[int, int] = {}       # open track id -> last frame with a row
        self.closed: set[int] = set()
        self._say = say
        self._no_sky = False

    def restore(self, table: Table | None) -> None:
        """Rebuild the state from the tracks written before a restart. Every track counts as
        open: the ended ones get their TDM written again (the same rows), so a TDM cut short by
        the kill is made whole."""
        if table is None or len(table) == 0:
            return
        for tid, f in zip(np.asarray(table["id"]), np.asarray(table["frame"])):
            self.last[int(tid)] = max(int(f), self.last.get(int(tid), -1))

    @staticmethod
    def name(tid: int) -> str:
        return f"track-{tid:04d}.tdm"

    def update(self, rows: Table | None, index: int) -> list[int]:
        """Note new rows; returns the ids whose TDM must be (re)written now."""
        if rows is not None and len(rows):
            for tid, f in zip(np.asarray(rows["id"]), np.asarray(rows["frame"])):
                tid = int(tid)
                self.last[tid] = max(int(f), self.last.get(tid, -1))
                self.closed.discard(tid)  # rows came after its TDM: written again when it ends
        return sorted(t for t, f in self.last.items() if t not in self.closed and index - f >= self.end_after)

    def still_open(self) -> list[int]:
        return sorted(t for t in self.last if t not in self.closed)

    def write(self, tracks_path: Path, ids: list[int]) -> list[Path]:
        """Write the TDM of each id from the tracks file; a table without sky columns is
        said once and skipped."""
        from ..astrometry.export import write_tdm

        if not ids or self._no_sky or not tracks_path.is_file():
            self.closed.update(ids)
            return []
        table = read_table(tracks_path)
        written = []
        for tid in ids:
            self.closed.add(tid)
            rows = table[np.asarray(table["id"]) == tid]
            try:
                write_tdm(rows, self.folder / self.name(tid), object_prefix="OBJECT")
            except InputError as exc:
                if "column" in str(exc):
                    self._no_sky = True
                    if self._say:
                        self._say(f"no TDM files: {exc}")
                    return written
                continue  # a track with no sky position (all its frames without WCS)
            written.append(self.folder / self.name(tid))
            if self.identifier is not None:
                label = self.identifier.identify(rows, tid, self.folder / self.name(tid).replace(".tdm", ".iod"),
                                                 self.first_header())
                if self._say and label:
                    self._say(f"track {tid}: {label}")
        return written


def save_checkpoint(output: WatchOutput, method) -> bool:
    """Pickle the method's state after the frames the journal holds (atomically); False when
    the method cannot be pickled."""
    frames = output.frames
    try:
        blob = pickle.dumps({"frames": len(frames), "file": frames[-1].file, "method": method},
                            protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return False
    with atomic_write(output.out / CHECKPOINT, "wb") as fh:
        fh.write(blob)
    return True


def load_checkpoint(output: WatchOutput):
    """``(frames, method)`` from this output's checkpoint when it matches the journal, else None.

    The checkpoint is watch's own file in ``OUT`` (a pickle: like any pickle, trust it only as
    far as you trust who can write that folder)."""
    path = output.out / CHECKPOINT
    if not path.is_file():
        return None
    try:
        data = pickle.loads(path.read_bytes())
        n, file, method = int(data["frames"]), data["file"], data["method"]
    except Exception:  # an unreadable checkpoint costs a full replay, nothing else
        return None
    frames = output.frames
    if not 0 < n <= len(frames) or frames[n - 1].file != file:
        return None
    return n, method


def _iso(t) -> str:
    return "" if t is None else t.utc.isot


def watch(folder: str | Path, out: str | Path, *, make_method: Callable[[], Method], mode: str,
          state: dict, idle: float | None = None, settle: float = 0.2, wcs_file: Path | None = None,
          end_after: int = 5, stop: threading.Event | None = None, overwrite: bool = False,
          say: Callable[[str], None] = print, give_up: float = 30.0,
          checkpoint_every: int | None = 25, identifier: Identifier | None = None) -> WatchResult:
    """Watch ``folder`` and track its frames into the output folder ``out`` (module docstring).

    Parameters
    ----------
    make_method : a new method instance (called once per run; a restart replays into it).
    state : what identifies this watch (folder, mode, method, config...); a restart must match.
    idle : finish after this many seconds without a new complete frame (None: never).
    settle : seconds a file must stay unchanged before it is read (also the polling period).
    end_after : frames without a new row after which a track's TDM is written.
    stop : set it (Ctrl-C) to finish at the next frame boundary.
    say : where the per-frame lines and notes go.
    checkpoint_every : pickle the method's state every this many frames (None: never), so that a
        restart replays at most that many frames instead of the whole night.
    identifier : identify each track when it ends (:class:`Identifier`), or None.

    The process's ``malloc`` is set to reuse freed frames (:func:`~debristrack.allocator.keep_freed_memory`):
    a frame at a time, no other work hides its page faults (a quarter to a third of a 4096x4096
    frame's latency).
    """
    keep_freed_memory()
    folder = Path(folder)
    stop = stop or threading.Event()
    output = WatchOutput(out, state, overwrite=overwrite)
    result = WatchResult()
    ends = TrackEnds(output.out, end_after=end_after, say=say, identifier=identifier)
    if output.finished:
        say(f"{output.out}: this watch finished before ({len(output.frames)} frames); nothing to do "
            "(--overwrite starts again)")
        result.finished = True
        result.frames = len(output.frames)
        return result
    headers = FrameHeaders()
    sky = SkyColumns(headers, mode=mode, wcs_file=wcs_file, say=say)
    ends.first_header = lambda: headers.header(0)
    if identifier is not None:
        identifier.start(output.out)
    checkpoint = load_checkpoint(output) if checkpoint_every else None
    start, method = checkpoint if checkpoint is not None else (0, make_method())
    ends.restore(output.read_tracks())
    sky.restore(output.read_tracks())

    last_key = None
    for entry in output.frames:  # replay: rebuild the method's state, write nothing
        path = frames_folder(folder) / entry.file
        last_key = entry.time or last_key
        if entry.index < start:  # in the checkpoint's state already
            headers.add(entry.index, path, entry.part)
            continue
        try:
            st = path.stat()
        except FileNotFoundError:
            raise InputError(f"{path}: processed before the restart but gone now; cannot resume "
                             "(put it back, or --overwrite)") from None
        if (st.st_size, st.st_mtime_ns) != (entry.size, entry.mtime_ns):
            raise InputError(f"{path}: changed since it was processed; cannot resume (--overwrite)")
        seq = open_sequence(path)
        frame = seq[entry.part]
        frame.index = entry.index
        headers.add(entry.index, path, entry.part, seq.header(entry.part))
        rows = method.step(entry.index, frame)
        n = 0 if rows is None else len(rows)
        if n != entry.rows:
            say(f"warning: replaying frame {entry.index} gave {n} row(s), the first run {entry.rows}: "
                "the method is not deterministic")
        result.replayed += 1
    if output.frames:
        via = f"the checkpoint after frame {start - 1}, then " if start else ""
        say(f"resumed {output.out}: {via}{result.replayed} frame(s) replayed, {output.bytes} bytes of tracks kept")

    watcher = FolderWatcher(folder, settle=settle, give_up=give_up, done=output.done_files())
    last_new = _time.monotonic()
    index = len(output.frames)
    while not stop.is_set():
        arrivals = watcher.poll()
        for path, reason in watcher.broken:
            output.skip(path.name, f"unreadable: {reason}")
            result.skipped += 1
            say(f"skipped {path.name}: {reason}")
        for arrival in arrivals:
            if stop.is_set():
                # not processed: forget it, so the restart (or nothing) sees it as new
                continue
            key = _iso(arrival.time)
            if key and last_key and key < last_key:
                output.skip(arrival.path.name, f"late: mid-time {key} before the last frame's {last_key}",
                            size=arrival.size, mtime_ns=arrival.mtime_ns)
                result.skipped += 1
                say(f"skipped {arrival.path.name}: its mid-time {key} is before the last frame's ({last_key}); "
                    "a live method cannot go back")
                continue
            for part in range(len(arrival.seq)):
                index = _process(arrival, part, index, method, headers, sky, output, ends, result, say)
                if checkpoint_every and index % checkpoint_every == 0 and not save_checkpoint(output, method):
                    say("note: this method cannot be checkpointed; a restart replays every frame")
                    checkpoint_every = None
            last_key = key or last_key
            last_new = _time.monotonic()
        if not arrivals and idle is not None and _time.monotonic() - last_new >= idle:
            say(f"no new frame for {idle:g} s: finishing")
            break
    result.interrupted = stop.is_set()
    rows = sky(method.finish())
    output.finish(rows)
    (output.out / CHECKPOINT).unlink(missing_ok=True)  # a finished watch is not resumed
    result.rows += 0 if rows is None else len(rows)
    ends.update(rows, index)
    result.tdm += ends.write(output.tracks_path, ends.still_open())
    result.finished = True
    result.frames = len(output.frames)
    say(f"finished: {result.frames} frame(s), {0 if rows is None else len(rows)} row(s) decided at the end, "
        f"{len(ends.last)} track(s) -> {output.tracks_path}")
    return result


def _process(arrival: Arrival, part: int, index: int, method, headers, sky, output, ends, result, say) -> int:
    started = _time.time()
    frame = arrival.seq[part]
    frame.index = index
    headers.add(index, arrival.path, part, arrival.seq.header(part))
    rows = sky(method.step(index, frame))
    entry = output.frame(rows, index=index, file=arrival.path.name, part=part, size=arrival.size,
                         mtime_ns=arrival.mtime_ns, time=_iso(arrival.seq.times[part] if arrival.seq.times is not None
                                                             else None),
                         complete_at=arrival.complete_at)
    n = entry.rows
    result.rows += n
    result.frames += 1
    ids = sorted({int(i) for i in rows["id"]}) if n else []
    done = ends.update(rows, index)
    result.tdm += ends.write(output.tracks_path, done)
    wait = max(0.0, started - arrival.complete_at)  # settle check, and frames queued before this one
    say(f"frame {index:5d}  {arrival.path.name}  {entry.time or '-'}  +{n} row(s)"
        f"{' (track ' + ','.join(map(str, ids)) + ')' if ids else ''}  latency {entry.latency_s:.2f} s "
        f"(wait {wait:.2f}, work {_time.time() - started:.2f})")
    return index + 1
