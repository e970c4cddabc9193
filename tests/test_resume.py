"""Issue 16 items 2 and 3: interrupted or colliding runs never leave a wrong result behind.

- a result records what it was computed from and is redone when that changed;
- an unfinished simulated sequence is skipped by ``track`` with a note;
- ``simulate`` holds a lock on the dataset root, writes ``meta.json`` only when every frame is
  on disk, and a rerun repairs a finished sequence that lost frames.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from debristrack.cli import main
from debristrack.errors import InputError
from debristrack.io.lock import dataset_lock
from debristrack.io.provenance import unfinished_reason
from debristrack.simulate.dataset import is_finished, simulate_dataset, simulate_sequence
from debristrack.simulate.scenes import make_scene

SMALL = {"size": 32, "frames": 4, "star_density": 50.0}


def _interrupted(root, index=1, after=2):
    """Sequence ``index`` of ``root/stare`` stopped by Ctrl-C after ``after`` frames."""
    scene = make_scene("stare", **SMALL)

    def stop(i):
        if i + 1 >= after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate_sequence(root / "stare" / f"seq{index:04d}", scene, seed=index, on_frame=stop)


def test_track_skips_unfinished_sequence_and_does_it_after_resume(tmp_path, capsys):
    root = tmp_path / "ds"
    simulate_dataset(root, mode="stare", sequences=1, seed=0, overrides=SMALL, progress=False)
    _interrupted(root)
    seq1 = root / "stare" / "seq0001"
    assert len(list((seq1 / "frames").glob("*.fits"))) == 2 and not (seq1 / "gt.csv").exists()
    assert unfinished_reason(seq1) is not None

    results = tmp_path / "res"
    assert main(["track", str(root), "--mode", "stare", "--workers", "1", "-o", str(results)]) == 0
    err = capsys.readouterr().err
    assert "skipped stare/seq0001: unfinished" in err, err
    assert (results / "stare" / "seq0000.csv").is_file() and not (results / "stare" / "seq0001.csv").exists()

    simulate_dataset(root, mode="stare", sequences=2, seed=0, overrides=SMALL, progress=False)  # resume
    assert is_finished(seq1)
    assert main(["track", str(root), "--mode", "stare", "--workers", "1", "-o", str(results)]) == 0
    err = capsys.readouterr().err
    assert "1 done already" in err and (results / "stare" / "seq0001.csv").is_file(), err


def test_result_is_redone_when_its_frames_or_parameters_changed(tmp_path, capsys):
    root = tmp_path / "ds"
    simulate_dataset(root, mode="stare", sequences=2, seed=0, overrides=SMALL, progress=False)
    results = tmp_path / "res"
    argv = ["track", str(root), "--mode", "stare", "--workers", "1", "-o", str(results)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    assert "2 done already" in capsys.readouterr().err

    frame = root / "stare" / "seq0001" / "frames" / "000000.fits"
    data = fits.getdata(frame)
    fits.writeto(frame, np.zeros_like(data), fits.getheader(frame), overwrite=True)  # input replaced
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 done already, 1 redone (input or parameters changed)" in err, err

    assert main(argv + ["--window", "3"]) == 0  # other parameters: another result
    assert "0 done already, 2 redone" in capsys.readouterr().err


def test_second_simulate_on_a_locked_root_exits_2_naming_the_lock(tmp_path, capsys):
    root = tmp_path / "ds"
    with dataset_lock(root):
        with pytest.raises(InputError, match=r"\.debristrack\.lock: another debristrack simulate"):
            simulate_dataset(root, mode="stare", sequences=1, seed=0, overrides=SMALL, progress=False)
        code = main(["simulate", "--mode", "stare", "--size", "32", "--frames", "2", "--out", str(root),
                     "--no-progress"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and ".debristrack.lock" in err[0]
    assert not (root / "stare").exists()  # nothing was written under the other run
    simulate_dataset(root, mode="stare", sequences=1, seed=0, overrides=SMALL, progress=False)  # lock freed
    assert is_finished(root / "stare" / "seq0000")


def test_meta_json_is_not_written_when_frames_went_missing(tmp_path):
    seq = tmp_path / "seq"
    scene = make_scene("stare", **SMALL)

    def other_writer(i):  # what a second simulate clearing the folder does to the first
        if i == 2:
            (seq / "frames" / "000000.fits").unlink()

    with pytest.raises(InputError, match="3 of 4 frames on disk"):
        simulate_sequence(seq, scene, seed=0, on_frame=other_writer)
    assert not (seq / "meta.json").exists() and unfinished_reason(seq) is not None


def test_rerun_repairs_a_finished_sequence_that_lost_frames(tmp_path):
    root = tmp_path / "ds"
    simulate_dataset(root, mode="stare", sequences=1, seed=0, overrides=SMALL, progress=False)
    frames = root / "stare" / "seq0000" / "frames"
    before = (frames / "000003.fits").read_bytes()
    (frames / "000003.fits").unlink()
    assert "has 3 of the 4 frames" in unfinished_reason(root / "stare" / "seq0000")
    simulate_dataset(root, mode="stare", sequences=1, seed=0, overrides=SMALL, progress=False)
    assert (frames / "000003.fits").read_bytes() == before and is_finished(root / "stare" / "seq0000")


def test_two_simulate_processes_into_one_out_lose_nothing(tmp_path):
    """The issue's race, for real: two processes started together; one waits its turn or is refused."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "debristrack.cli", "simulate", "--mode", "stare", "--size", "32", "--frames", "6",
           "--sequences", "2", "--workers", "1", "--no-progress", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for code, err in results:
        assert code == 0 or (code == 2 and ".debristrack.lock" in err and len(err.strip().splitlines()) == 1), err
    assert any(code == 0 for code, _ in results)
    for i in range(2):
        seq = out / "stare" / f"seq{i:04d}"
        assert is_finished(seq) and len(list((seq / "frames").glob("*.fits"))) == 6
