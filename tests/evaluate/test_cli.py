"""``debristrack evaluate``: single sequence, dataset root, JSON, plot, bad input (exit 2)."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from debristrack.cli import main

STREAK_GT = "frame,id,x1,y1,x2,y2\n" + "".join(
    f"{t},{k},{10 * k + t},{5 + t},{10 * k + t + 6},{8 + t}\n" for t in range(6) for k in (1, 2))


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(capsys, *argv):
    code = main(["evaluate", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_single_sequence_table_and_json(tmp_path, capsys):
    gt = write(tmp_path / "seq" / "gt.csv", STREAK_GT)
    pred = write(tmp_path / "tracks.csv", STREAK_GT)
    code, out, _ = run(capsys, gt, pred)
    assert code == 0
    header, row = out.strip().splitlines()[1:3]
    assert header.split()[:8] == ["sequence", "HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1"]
    assert row.split()[0] == "seq" and row.split()[1] == "100.00"
    # A sequence folder works as GT too; --json gives every figure and the alpha curves.
    code, out, _ = run(capsys, tmp_path / "seq", pred, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["kind"] == "streak"
    assert doc["combined"]["MOTA"] == 1.0 and doc["sequences"]["seq"]["IDS"] == 0
    assert len(doc["alpha"]) == 19 and len(doc["combined"]["curves"]["HOTA"]) == 19


def test_meta_fwhm_sets_the_width(tmp_path, capsys):
    gt = write(tmp_path / "seq" / "gt.csv", "frame,id,x1,y1,x2,y2\n0,1,0,0,10,0\n")
    pred = write(tmp_path / "p.csv", "frame,id,x1,y1,x2,y2\n0,1,0,0.5,10,0.5\n")
    _, out, _ = run(capsys, gt, pred, "--json")
    assert json.loads(out)["combined"]["MOTP"] == pytest.approx(32.5 / (78 - 32.5))  # width 3
    write(tmp_path / "seq" / "meta.json", json.dumps({"frames": 4, "scene": {"fwhm": 2.5}}))
    _, out, _ = run(capsys, gt, pred, "--json")
    doc = json.loads(out)
    assert doc["combined"]["MOTP"] == pytest.approx(67.5 / (150 - 67.5))  # width 5
    assert doc["combined"]["Frames"] == 4
    _, out, _ = run(capsys, gt, pred, "--json", "--width", "3")
    assert json.loads(out)["combined"]["MOTP"] == pytest.approx(32.5 / (78 - 32.5))


def test_dataset_root_with_missing_result_and_plot(tmp_path, capsys):
    root, res = tmp_path / "data", tmp_path / "res"
    for split, seq in (("test", "seq0000"), ("test", "seq0001"), ("val", "seq0000")):
        write(root / split / seq / "gt.csv", STREAK_GT)
    write(res / "test" / "seq0000.csv", STREAK_GT)
    half = "frame,id,x1,y1,x2,y2\n" + "".join(STREAK_GT.splitlines(keepends=True)[1:7])
    write(res / "val" / "seq0000.csv", half)
    png = tmp_path / "plot.png"
    code, out, err = run(capsys, root, res, "--plot", png)
    assert code == 0
    assert err.count("warning") == 1 and "1 of 3 result files missing" in err
    lines = out.strip().splitlines()
    names = [ln.split()[0] for ln in lines[2:]]
    assert names == ["test/seq0000", "test/seq0001", "val/seq0000", "COMBINED"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, root, res, "--json")
    doc = json.loads(out)
    assert doc["sequences"]["test/seq0001"]["FN"] == 12
    c = doc["combined"]
    # 12 + 0 + 6 matched of 36 true rows: combined from counts, not the mean of MOTAs.
    assert (c["TP"], c["FN"], c["FP"]) == (18, 18, 0)
    assert c["MOTA"] == pytest.approx(18 / 36)


def test_point_tables_get_detection_figures(tmp_path, capsys):
    gt = write(tmp_path / "gt.csv", "frame,id,x,y\n0,1,10,10\n1,1,11,10\n2,1,12,10\n")
    pred = write(tmp_path / "p.csv", "frame,id,x,y,flux\n0,4,10,11,5\n1,4,11,10,5\n1,5,90,90,5\n")
    code, out, _ = run(capsys, gt, pred)
    assert code == 0 and "Detection" in out
    code, out, _ = run(capsys, gt, pred, "--json", "--radius", "2")
    det = json.loads(out)["combined"]["detection"]
    assert det["detection_rate"] == pytest.approx(2 / 3)
    assert det["false_alarm_rate"] == pytest.approx(1 / 3)
    assert det["position_rms"] == pytest.approx(np.sqrt(1 / 2))


@pytest.mark.parametrize("body, message", [
    ("frame,id,x1,y1,x2\n0,1,0,0,5\n", "missing column"),
    ("frame,id,x1,y1,x2,y2\n-1,1,0,0,5,5\n", "line 2: negative frame"),
    ("frame,id,x1,y1,x2,y2\n0,1.5,0,0,5,5\n", "line 2: id must be an integer"),
    ("frame,id,x1,y1,x2,y2\n0,1,0,0,5,5\n0,1,1,1,6,6\n", r"line 3: duplicate \(frame, id\)"),
    ("frame,id,x,y\n0,1,0,0\n", "is a point table but the ground truth"),
])
def test_bad_results_file_exits_2_with_one_line(tmp_path, capsys, body, message):
    gt = write(tmp_path / "gt.csv", STREAK_GT)
    pred = write(tmp_path / "bad.csv", body)
    code, out, err = run(capsys, gt, pred)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "bad.csv" in lines[0]
    assert re.search(message, lines[0])


def test_other_bad_input(tmp_path, capsys):
    gt = write(tmp_path / "gt.csv", STREAK_GT)
    code, _, err = run(capsys, gt, gt, "--kind", "point")
    assert code == 2 and "not a point table" in err
    code, _, err = run(capsys, tmp_path / "nope", gt)
    assert code == 2 and "no such ground-truth" in err
    code, _, err = run(capsys, gt, tmp_path / "missing.csv")
    assert code == 2 and "missing.csv: no such results file" in err
    code, _, err = run(capsys, gt, gt, "--threshold", "1.5")
    assert code == 2 and "threshold must be in" in err
    write(tmp_path / "ds" / "test" / "s1" / "gt.csv", STREAK_GT)
    code, _, err = run(capsys, tmp_path / "ds", gt)
    assert code == 2 and "is a file, but" in err
    code, _, err = run(capsys, gt, tmp_path / "ds")
    assert code == 2 and "is a folder, but" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, tmp_path / "empty", tmp_path / "ds")
    assert code == 2 and "no <split>/<sequence>/gt.csv files" in err


def test_console_script_has_no_traceback(tmp_path):
    gt = write(tmp_path / "gt.csv", STREAK_GT)
    bad = write(tmp_path / "bad.csv", "frame,id,x1,y1,x2,y2\n0,x,0,0,5,5\n")
    proc = subprocess.run([sys.executable, "-m", "debristrack.cli", "evaluate", str(gt), str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "line 2: column id is not a number" in proc.stderr
