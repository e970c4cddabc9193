"""The per-sequence runner: same results in-process and on a 2-worker local Dask cluster."""

import json

import pytest

from debristrack.io.atomic import write_json_atomic
from debristrack.io.sequence import open_sequence
from debristrack.parallel import Task, run_tasks, summarize


def _tasks(tmp_path, sub):
    tasks = [Task(f"seq{i}", write_json_atomic, (tmp_path / sub / f"seq{i}.json", {"i": i, "sq": i * i}))
             for i in range(4)]
    # a task that raises must not stop the others
    tasks.insert(2, Task("broken", open_sequence, (tmp_path / "does-not-exist",)))
    return tasks


def test_in_process_and_two_workers_agree(tmp_path, capsys):
    seen = []
    serial = run_tasks(_tasks(tmp_path, "a"), workers=1, progress=lambda d, f, t: seen.append((d, f, t)))
    dask = run_tasks(_tasks(tmp_path, "b"), workers=2)
    assert [r.name for r in serial] == [r.name for r in dask]
    assert [r.ok for r in serial] == [r.ok for r in dask] == [True, True, False, True, True]
    assert "does-not-exist: no such file" in serial[2].error and "no such file" in dask[2].error
    for i in range(4):
        a = (tmp_path / "a" / f"seq{i}.json").read_bytes()
        assert a == (tmp_path / "b" / f"seq{i}.json").read_bytes()
        assert json.loads(a)["sq"] == i * i
    assert seen[-1] == (5, 1, 5)
    assert summarize(serial, "test") == 2
    assert "failed: broken" in capsys.readouterr().err


def test_bad_worker_count():
    from debristrack.errors import InputError

    with pytest.raises(InputError, match="at least 1"):
        run_tasks([], workers=0)


def _digests(root):
    import hashlib

    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "dataset.json"}


def test_simulate_same_bytes_with_two_workers_and_resume(tmp_path):
    from debristrack.simulate.dataset import simulate_dataset

    opts = dict(mode="stare", sequences=3, seed=5, overrides={"frames": 3, "size": 128}, progress=False)
    simulate_dataset(tmp_path / "one", workers=1, **opts)
    simulate_dataset(tmp_path / "two", workers=2, **opts)
    assert _digests(tmp_path / "one") == _digests(tmp_path / "two")
    # a killed run: one sequence half written (no meta.json), one finished sequence kept as is
    (tmp_path / "two" / "stare" / "seq0001" / "meta.json").unlink()
    finished = (tmp_path / "two" / "stare" / "seq0000" / "meta.json").stat().st_mtime_ns
    simulate_dataset(tmp_path / "two", workers=2, **opts)
    assert (tmp_path / "two" / "stare" / "seq0000" / "meta.json").stat().st_mtime_ns == finished
    assert _digests(tmp_path / "one") == _digests(tmp_path / "two")


def test_evaluate_dataset_same_with_two_workers(tmp_path, capsys):
    import shutil

    from debristrack.cli import main
    from debristrack.simulate.dataset import simulate_dataset

    simulate_dataset(tmp_path / "d", mode="target", sequences=3, seed=1,
                     overrides={"frames": 3, "size": 96}, progress=False)
    for i in range(3):
        (tmp_path / "r" / "target").mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "d" / "target" / f"seq{i:04d}" / "gt.csv", tmp_path / "r" / "target" / f"seq{i:04d}.csv")
    (tmp_path / "r" / "target" / "seq0002.csv").write_text("frame,id,x,y\n-1,1,2,3\n")  # a broken result
    outs = []
    for workers in ("1", "2"):
        code = main(["evaluate", str(tmp_path / "d"), str(tmp_path / "r"), "--json", "--workers", workers])
        assert code == 2  # one sequence failed, the others were scored
        captured = capsys.readouterr()
        assert "failed: target/seq0002" in captured.err and "negative frame" in captured.err
        outs.append(json.loads(captured.out))
    assert outs[0] == outs[1]
    assert outs[0]["combined"]["HOTA"] == pytest.approx(1.0)
