"""Issue 16 item 8: Ctrl-C during a run on Dask workers prints one line and exits 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from debristrack.simulate.dataset import simulate_dataset
from tests.conftest import REPO


def test_ctrl_c_with_dask_workers_is_one_line(tmp_path):
    root = simulate_dataset(tmp_path / "ds", mode="stare", sequences=40, seed=0, progress=False,
                            overrides={"size": 256, "frames": 8})
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "debristrack.cli", "track", str(root), "--mode", "stare", "--workers", "2",
           "-o", str(tmp_path / "res")]
    # a session of its own: the signal goes to the whole process group, as a terminal's Ctrl-C does
    # and SIGINT at its default: an ignored SIGINT is inherited through exec, and pytest's process can
    # hold one (the full suite on CI did), with which the child never sees the Ctrl-C
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("dask: local cluster"):
            # the signal comes while the run is going: once the first sequence's results are written
            # (39 are still to do, seconds of work: a fixed sleep, and 12 sequences, raced a fast machine)
            deadline = time.monotonic() + 120
            while not any((tmp_path / "res").rglob("*.csv")) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert proc.poll() is None, "the run ended before the signal could be sent"
            os.killpg(proc.pid, signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=120)
    lines += rest.splitlines()
    after = [ln for ln in lines[lines.index(next(ln for ln in lines if ln.startswith("dask:"))) + 1:] if ln.strip()]
    assert proc.returncode == 130, lines
    assert after == ["debristrack: interrupted"], lines  # today: 50-70 lines, 3-4 tracebacks
