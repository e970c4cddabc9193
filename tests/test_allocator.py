"""glibc malloc settings (debristrack.allocator): a freed frame-sized array is reused, not faulted in anew."""

import os
import subprocess
import sys

import pytest

from debristrack import allocator

glibc = pytest.mark.skipif(not allocator.glibc(), reason="glibc's mallopt only")


def _env(**changes) -> dict:
    """This process's environment without its MALLOC_* variables, with ``changes``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(changes)
    return env

# frees and makes again a 64 MB array (a 4096x4096 float32 frame) 20 times; prints the minor
# page faults of the loop. 4 KiB pages (no transparent huge pages), so the count is the pages touched.
LOOP = """
import resource, sys
import numpy as np
from debristrack.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    a = np.ones((4096, 4096), np.float32)
    del a
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _loop(mode: str, **env) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", LOOP, mode], env=_env(NUMPY_MADVISE_HUGEPAGE="0", **env),
                         check=True, capture_output=True, text=True).stdout.split()
    return out[0] == "True", int(out[1])


@glibc
def test_freed_frames_are_reused_not_faulted_again():
    applied, kept = _loop("keep")
    _, default = _loop("default")
    assert applied
    pages = 4096 * 4096 * 4 // 4096
    assert default >= 10 * pages  # glibc's default: a fresh mmap for every array
    assert kept < 3 * pages  # the heap's block, faulted in once, serves every later array
    assert kept < default / 5


@glibc
def test_the_users_own_malloc_settings_win():
    applied, _ = _loop("keep", MALLOC_ARENA_MAX="4")
    assert not applied


WATCH = """
import sys
sys.path.insert(0, {tests!r})
from watch.livesim import BrightestLagged
from debristrack import allocator
from debristrack.watch import watch
assert not allocator._applied
watch({live!r}, {out!r}, make_method=BrightestLagged, mode="test", state={{}}, idle=0.2, settle=0.01, say=print)
print("applied", allocator._applied)
"""


@glibc
def test_live_mode_applies_them(tmp_path):
    (tmp_path / "live").mkdir()
    tests = os.path.dirname(os.path.abspath(__file__))
    code = WATCH.format(tests=tests, live=str(tmp_path / "live"), out=str(tmp_path / "out"))
    out = subprocess.run([sys.executable, "-c", code], env=_env(), check=True, capture_output=True, text=True).stdout
    assert "applied True" in out
