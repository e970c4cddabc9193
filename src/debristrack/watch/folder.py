"""A folder being written by a camera: which FITS files are complete, in time order.

A file counts as complete when it is a readable FITS file (headers parse, the data the
headers announce are all there) and its size and modification time did not change between
two looks at least ``settle`` seconds apart. A file that is still growing, or whose data are
cut short, is waited for, never read. A file that stays unreadable with an unchanged size
for ``give_up`` seconds is reported once as broken and left alone.

Complete files are handed out sorted by mid-time (DATE-OBS + EXPTIME/2), then file name: the
order ``open_sequence`` gives a finished folder (DESIGN.md "Pixel and time conventions").
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from astropy.time import Time

from ..errors import InputError
from ..io.sequence import FrameSequence, is_fits_file, open_sequence


@dataclass(frozen=True)
class Arrival:
    """A complete file: its path, size and mtime (ns) when it was found complete, the
    sequence it holds (headers read, pixels not), and when it was last written."""

    path: Path
    size: int
    mtime_ns: int
    seq: FrameSequence
    complete_at: float  # wall-clock seconds of the file's last modification

    @property
    def time(self) -> Time | None:
        """Mid-time of the file's first frame, or None without DATE-OBS."""
        times = self.seq.times
        return None if times is None else times[0]

    def sort_key(self):
        t = self.time
        return (0, t.utc.jd1, t.utc.jd2, self.path.name) if t is not None else (1, 0.0, 0.0, self.path.name)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    first_unreadable: float | None = None


def frames_folder(folder: str | os.PathLike) -> Path:
    """The folder that holds the frames: ``folder/frames`` when it exists (a simulated
    sequence), else ``folder`` itself."""
    folder = Path(folder)
    return folder / "frames" if (folder / "frames").is_dir() else folder


class FolderWatcher:
    """Find the FITS files of a folder that became complete since the last :meth:`poll`.

    Parameters
    ----------
    folder : the watched folder (or a simulated ``<sequence>/`` whose ``frames/`` is watched;
        it may appear only after the watch starts).
    settle : seconds a file's size and mtime must stay the same before it is read.
    give_up : seconds a stable file may stay unreadable before it is reported as broken.
    done : file names already processed (a restart): never handed out again.
    """

    def __init__(self, folder: str | os.PathLike, *, settle: float = 0.2, give_up: float = 30.0,
                 done: set[str] | None = None):
        self.folder = Path(folder)
        self.settle = float(settle)
        self.give_up = float(give_up)
        self.done: set[str] = set(done or ())
        self.broken: list[tuple[Path, str]] = []   # (path, reason) reported by the last poll
        self._seen: dict[str, _Seen] = {}
        self._last_look = 0.0

    @property
    def frames_dir(self) -> Path:
        return frames_folder(self.folder)

    def _listing(self) -> list[os.DirEntry]:
        try:
            with os.scandir(self.frames_dir) as it:
                return [e for e in it if not e.name.startswith(".") and is_fits_file(Path(e.path))]
        except FileNotFoundError:
            return []  # not created yet: the camera (or simulate) makes it later
        except NotADirectoryError:
            raise InputError(f"{self.folder}: not a folder; watch needs the folder the frames are written to")

    def poll(self) -> list[Arrival]:
        """The files that are complete now and were not handed out before, in time order.

        Waits (sleeps) so that two looks at a file are at least ``settle`` seconds apart.
        """
        wait = self.settle - (time.monotonic() - self._last_look)
        if wait > 0:
            time.sleep(wait)
        self._last_look = time.monotonic()
        self.broken = []
        ready = []
        for entry in self._listing():
            if entry.name in self.done:
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:  # renamed or removed between listing and stat
                continue
            seen = self._seen.get(entry.name)
            if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
                self._seen[entry.name] = _Seen(st.st_size, st.st_mtime_ns)
                continue  # new or still changing: look again after `settle`
            path = Path(entry.path)
            try:
                seq = open_sequence(path)
            except InputError as exc:
                now = time.monotonic()
                if seen.first_unreadable is None:
                    seen.first_unreadable = now
                elif now - seen.first_unreadable >= self.give_up:
                    self.broken.append((path, str(exc)))
                    self.done.add(entry.name)
                    del self._seen[entry.name]
                continue
            ready.append(Arrival(path, st.st_size, st.st_mtime_ns, seq, complete_at=st.st_mtime_ns / 1e9))
            self.done.add(entry.name)
            del self._seen[entry.name]
        return sorted(ready, key=Arrival.sort_key)
