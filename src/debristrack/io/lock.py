"""An exclusive lock on a dataset root, so that two writers never interleave their files."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from ..errors import InputError

LOCK_NAME = ".debristrack.lock"


@contextlib.contextmanager
def dataset_lock(root: str | os.PathLike, *, what: str = "simulate") -> Iterator[Path]:
    """Hold ``<root>/.debristrack.lock`` (``flock``) for the duration; InputError if another process holds it.

    The kernel drops the lock when the holder exits, killed or not, so a stale lock file
    never blocks a later run.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fh = open(path, "a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{path}: another debristrack {what} is writing this dataset; "
                             "wait for it to finish (or use another --out)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield path
    finally:
        fh.close()  # closing releases the lock
