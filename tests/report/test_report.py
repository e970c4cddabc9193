"""The night report: what it counts, what it finds, and the page as a browser shows it."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from astropy.table import Table

from debristrack.cli import main
from debristrack.io.tables import read_table, write_table
from debristrack.report import build_report, find_night
from debristrack.report.page import identification, track_rows
from debristrack.simulate import simulate_dataset


@pytest.fixture(scope="module")
def stare_night(tmp_path_factory):
    """A simulated staring-mode sequence with its ground truth and its tracks (from the truth,
    one target dropped for three frames: the report must show what the table says)."""
    root = tmp_path_factory.mktemp("night")
    simulate_dataset(root, mode="stare", preset="good", sequences=1, seed=5, progress=False,
                     overrides={"size": 160, "frames": 8})
    seq = root / "stare" / "seq0000"
    gt = read_table(seq / "gt.csv")
    keep = ~((np.asarray(gt["id"]) == 1) & (np.asarray(gt["frame"]) >= 5))
    tracks = gt[keep]
    tracks["score"] = 10.0
    write_table(tracks, root / "tracks.csv")
    return root, seq, tracks


def test_track_rows_counts_and_rates():
    t = Table({"frame": [0, 1, 2, 0, 2], "id": [1, 1, 1, 2, 2], "x": [10.0, 11.0, 12.0, 50.0, np.nan],
               "y": [20.0, 20.0, 20.0, 5.0, np.nan], "flag": ["ok", "ok", "ok", "ok", "faint"]})
    rows = {r["id"]: r for r in track_rows(t)}
    assert rows[1]["detections"] == 3 and rows[1]["missed"] == 0
    assert rows[1]["rate"] == pytest.approx(1.0)           # 2 px over 2 frames
    assert rows[2]["detections"] == 1 and rows[2]["missed"] == 1
    assert np.isnan(rows[2]["rate"])                         # one detection: no rate


def test_identification_columns_give_names_and_uct():
    t = Table({"frame": [0, 0, 1], "id": [1, 2, 1], "x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0],
               "norad": [25544, 0, 25544], "name": ["ISS (ZARYA)", "", "ISS (ZARYA)"]})
    assert identification(t) == {1: "ISS (ZARYA) (25544)", 2: "UCT"}
    assert identification(t[["frame", "id", "x", "y"]]) is None


def test_report_page_in_headless_chromium(stare_night, tmp_path):
    root, seq, tracks = stare_night
    page = tmp_path / "night.html"
    assert main(["report", str(root / "tracks.csv"), "--sequence", str(seq), "-o", str(page)]) == 0
    text = page.read_text()
    n_tracks = len(set(tracks["id"]))
    assert n_tracks >= 2
    assert text.count('<figure class="overlay"') == n_tracks
    assert "http://" not in text and "https://" not in text  # self-contained: nothing fetched
    assert "Against the ground truth" in text                # gt.csv beside the frames was found
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (Debian package chromium)")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(flags + ["--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-ready="1"' in body                          # the load handler ran
    assert 'data-broken="0"' in body                         # every embedded PNG decoded
    assert "data-errors" not in body                         # no script error
    images = int(re.search(r'data-images="(\d+)"', body).group(1))
    assert images >= n_tracks + 3                            # overlays + field + detections + evaluation
    assert len(re.findall(r'<figure class="overlay"[^>]*>\s*<img', dom)) == n_tracks
    shot = tmp_path / "night.png"
    subprocess.run(flags + ["--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
        grey = np.asarray(im.convert("L"))
    assert grey.std() > 20  # pictures drawn, not a blank page


def test_results_folder_of_a_dataset_and_no_frames(stare_night, tmp_path):
    root, seq, tracks = stare_night
    results = tmp_path / "results" / "stare"
    results.mkdir(parents=True)
    write_table(tracks, results / "seq0000.csv")
    entries = find_night(tmp_path / "results", sequence=root)
    assert [e.name for e in entries] == ["stare/seq0000"]
    assert entries[0].frames == root / "stare" / "seq0000" and entries[0].gt == seq / "gt.csv"
    page = tmp_path / "no-frames.html"
    reports = build_report(find_night(tmp_path / "results"), page)
    assert reports[0].cutouts == {} and reports[0].mot is None
    assert "no cut-outs" in page.read_text()


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing.csv")]) == 2
    (tmp_path / "t.csv").write_text("frame,id,x,y\n0,1,1,1\n")
    assert main(["report", str(tmp_path / "t.csv"), "-o", str(tmp_path / "page.png")]) == 2
    assert main(["report", str(tmp_path / "t.csv"), "--sequence", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("debristrack: error: ") for line in err)


def test_summary_counts_identified_and_uct_tracks(tmp_path):
    t = Table({"frame": [0, 1, 0, 1, 0], "id": [1, 1, 2, 2, 3], "x": [1.0, 2.0, 5.0, 6.0, 9.0],
               "y": [1.0, 1.0, 5.0, 5.0, 9.0], "norad": [25544, 25544, 0, 0, 25544],
               "name": ["ISS", "ISS", "", "", "ISS"]})
    write_table(t, tmp_path / "t.csv")
    reports = build_report(find_night(tmp_path / "t.csv"), tmp_path / "p.html")
    s = reports[0].summary
    assert (s["tracks"], s["identified"], s["uct"], s["objects"]) == (3, 2, 1, 2)  # two tracks of one object
    text = (tmp_path / "p.html").read_text()
    assert "<th>identified</th><th>UCT</th>" in text
