"""glibc ``malloc`` settings for a stream of big frames (Linux; ``watch`` and SDT-Net on CPU apply them).

A 4096x4096 frame makes a few dozen temporary arrays of 16-64 MB on its way through the
pipeline. glibc serves each allocation over its mmap threshold (at most 32 MB) with a fresh
``mmap`` and hands it back with ``munmap`` when it is freed, so every frame faults in about a
gigabyte of new zeroed pages, and the threads' page faults and unmaps queue on the process's
one memory-map lock. Measured with these settings against glibc's default (2 cores):

- ``track`` of a 20-frame 4096x4096 sidereal night with 4 KiB pages (``NUMPY_MADVISE_HUGEPAGE=0``):
  4.5 million minor page faults, 13.6 s of system time and 39.9 s by default; 0.35 million,
  2.0 s and 29.8 s with :func:`keep_freed_memory`, the same tracks. With transparent huge
  pages (numpy's default), 3 runs each taken in turn: system time 6.9 s -> 3.4 s, wall time x0.94;
- ``bench watch`` (one frame at a time, so nothing hides the faults behind other work),
  median latency, each run alone: target mode 1.14 s -> 0.88 s, sidereal 2.26 s -> 1.26 s;
- ``bench sdtnet --quick --sequences 2`` (torch frees each layer's activations, glibc unmapped
  them): 0.37 -> 0.26 s per 1024x1024 frame, 8.45 -> 5.69 s per tiled 4096x4096 frame, peak
  memory 1.64 -> 1.79 GB (the SDT-Net target is 2 GB).

The classical ``track`` does not apply them: its read-ahead thread hides the faults, ``bench memory``'s
40-frame night costs the same once the static sky window is full (1.14 against 1.12 s per
frame, one run of each), and the one heap's holes raised its peak memory from 1.41 to 1.50 GB
(the target is 1.5 GB).

The settings (``mallopt``, the same as glibc's ``MALLOC_*_`` environment variables):

- no ``mmap`` for big blocks (``M_MMAP_MAX`` 0): they come from the heap, where a freed block
  is reused by the next frame's array of the same size instead of being faulted in again;
- one arena (``M_ARENA_MAX`` 1): the read-ahead and window threads share the main heap, so
  one thread's freed frame serves another thread's next one (separate arenas each grow to a
  frame's worth, which cost 0.15-0.3 GB of peak memory);
- the heap's free top is returned to the system only beyond :data:`TRIM_BYTES`.

Nothing is changed where the user set any ``MALLOC_*`` variable (their choice wins), or on a
C library other than glibc.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

# mallopt's parameter numbers (glibc malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
TRIM_BYTES = 512 * 2**20  # a few frames' worth of free heap top kept for the next frames

_applied = False


def glibc() -> bool:
    """True on Linux with glibc, where ``mallopt`` takes these settings."""
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def keep_freed_memory() -> bool:
    """Apply the module's ``malloc`` settings to this process, once; True when they are in force."""
    global _applied
    if _applied:
        return True
    if not glibc():
        return False
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _applied = all(mallopt(param, value) == 1 for param, value in (
        (M_MMAP_MAX, 0), (M_ARENA_MAX, 1), (M_TRIM_THRESHOLD, TRIM_BYTES)))
    return _applied
