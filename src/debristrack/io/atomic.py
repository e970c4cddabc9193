"""Atomic file output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and a killed job leaves either the old file or the
new one, never a torn one (``os.replace`` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from ..errors import InputError


_UMASK = os.umask(0)  # read once at import: os.umask can only be read by setting it
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file for writing; on success rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs follow the umask
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=_json_default)
        fh.write("\n")


def write_fits_atomic(path: str | os.PathLike, hdul) -> None:
    """Write an ``astropy.io.fits.HDUList`` (or single HDU) atomically."""
    with atomic_write(path, "wb") as fh:
        hdul.writeto(fh)


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")


def check_writable(path: str | os.PathLike, *, what: str = "output", suffixes: tuple[str, ...] | None = None,
                   folder: bool = False) -> Path:
    """Raise :class:`InputError` now, before the work, when ``path`` cannot be written later.

    ``path`` is an output file (or with ``folder=True`` an output folder): it must not be a
    folder (a file), must end in one of ``suffixes`` when given, and its nearest existing
    parent folder must take a new file (tried for real: permission bits say nothing for root
    or on a read-only mount). Returns ``path`` as a Path.
    """
    path = Path(path)
    if suffixes and not folder and path.suffix.lower() not in suffixes:
        raise InputError(f"{path}: {what} must end in {', '.join(suffixes)}")
    if folder and path.exists() and not path.is_dir():
        raise InputError(f"{path}: {what} must be a folder, and this is a file")
    if not folder and path.is_dir():
        raise InputError(f"{path}: {what} is a folder; give a file name")
    probe = path if folder else path.parent
    probe = probe.absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{path}: cannot write the {what}: {probe} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=probe, prefix=".debristrack-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the {what} in {probe} ({exc.strerror or exc})") from None
    return path
