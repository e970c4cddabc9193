"""TLE-driven simulated sequences, identified: a GEO field in stare mode, streaks, a followed GPS satellite."""

import json

import numpy as np
import pytest

from debristrack.astrometry.sky import add_sky_columns
from debristrack.cli import main
from debristrack.io.sequence import open_sequence
from debristrack.io.tables import read_table, write_table

SITE = "40,-3,700"
START = "2019-04-10T21:00:00"


def _simulate(tmp_path, shared, mode, tle, *extra):
    out = tmp_path / "sim"
    tles = ",".join(str(shared / "data" / "tle" / t) for t in tle)
    assert main(["simulate", "--mode", mode, "--out", str(out), "--tle", tles, "--site", SITE, "--start-time", START,
                 "--no-progress", *extra]) == 0
    return out / mode / "seq0000"


def _identify(tmp_path, table_path, seq, shared, tle, capsys):
    capsys.readouterr()
    args = ["identify", str(table_path), "--sequence", str(seq), "--json", "--tracks-out", str(tmp_path / "id.csv"),
            "--tle", *(str(shared / "data" / "tle" / t) for t in tle)]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_geo_field_identifies_every_object(tmp_path, shared, capsys):
    # the Hot Bird cluster at 13 deg E, seen from Spain: several GEO objects within a degree
    seq = _simulate(tmp_path, shared, "stare", ["geo.txt"], "--ra", "168.6", "--dec", "-6.1", "--size", "384",
                    "--unknown", "2", "--snr", "15,40", "--seed", "1")
    gt = read_table(seq / "gt.csv")
    truth = {int(i): int(n) for i, n in zip(gt["id"], gt["norad"])}
    assert sum(n > 0 for n in truth.values()) >= 3 and sum(n == 0 for n in truth.values()) == 2
    # 1. identification of the true tracks: every catalogue object by its NORAD id, the unknowns UCT
    gt_sky = add_sky_columns(gt, open_sequence(seq))
    write_table(gt_sky, tmp_path / "gt-sky.csv")
    doc = _identify(tmp_path, tmp_path / "gt-sky.csv", seq, shared, ["geo.txt"], capsys)
    for r in doc["tracks"]:
        assert r["norad"] == truth[r["id"]], r
        assert (r["status"] == "UCT") == (truth[r["id"]] == 0)
    assert doc["predicted_not_seen"] == []
    # 2. the whole chain: track the frames, identify the tracks
    assert main(["track", str(seq), "--mode", "stare", "-o", str(tmp_path / "tracks.csv")]) == 0
    doc = _identify(tmp_path, tmp_path / "tracks.csv", seq, shared, ["geo.txt"], capsys)
    found = {r["norad"] for r in doc["tracks"] if r["status"] == "ID"}
    missed = {u["norad"] for u in doc["predicted_not_seen"]}
    catalogued = {n for n in truth.values() if n > 0}
    assert found and found <= catalogued and found | missed == catalogued
    assert sum(r["status"] == "UCT" for r in doc["tracks"]) <= 2
    table = read_table(tmp_path / "id.csv")
    assert {"norad", "name"} <= set(table.colnames) and set(table["norad"]) - {0} == found
    # 3. in one go: track --identify writes the same norad,name columns and the unseen list
    assert main(["track", str(seq), "--mode", "stare", "-o", str(tmp_path / "one.csv"), "--identify",
                 "--tle", str(shared / "data" / "tle" / "geo.txt")]) == 0
    one = read_table(tmp_path / "one.csv")
    assert list(one["norad"]) == list(table["norad"]) and list(one["name"]) == list(table["name"])
    unseen = (tmp_path / "one-unseen.csv").read_text().splitlines()[1:]
    assert {int(line.split(",")[0]) for line in unseen} == missed


def test_sidereal_streaks_and_followed_gps_come_out_with_norad(tmp_path, shared, capsys):
    seq = _simulate(tmp_path, shared, "sidereal", ["geo.txt"], "--ra", "168.6", "--dec", "-6.1", "--size", "384",
                    "--frames", "6", "--unknown", "1", "--seed", "2")
    gt = read_table(seq / "gt.csv")
    assert set(gt["norad"]) - {0}
    write_table(add_sky_columns(gt, open_sequence(seq)), tmp_path / "gt-sky.csv")
    doc = _identify(tmp_path, tmp_path / "gt-sky.csv", seq, shared, ["geo.txt"], capsys)
    truth = {int(i): int(n) for i, n in zip(gt["id"], gt["norad"])}
    assert all(r["norad"] == truth[r["id"]] for r in doc["tracks"])
    # GEO streaks in a sidereal field: ~15 arcsec/s, 5 s exposures -> about 50 px long at 1.5"/px
    row = gt[gt["norad"] > 0][0]
    assert np.hypot(row["x2"] - row["x1"], row["y2"] - row["y1"]) == pytest.approx(15.0 * 5 / 1.5, rel=0.15)

    seq = _simulate(tmp_path / "t", shared, "target", ["gps-ops.txt"], "--ra", "100", "--dec", "10", "--size", "256")
    gt = read_table(seq / "gt.csv")
    followed = int(gt["norad"][0])
    assert followed > 0 and np.all(np.hypot(gt["x"] - 127.5, gt["y"] - 127.5) < 10)  # within the following error
    write_table(add_sky_columns(gt, open_sequence(seq)), tmp_path / "gt-t.csv")
    doc = _identify(tmp_path, tmp_path / "gt-t.csv", seq, shared, ["gps-ops.txt"], capsys)
    assert doc["tracks"][0]["norad"] == followed


def test_bench_identify_writes_its_section(tmp_path, shared, capsys):
    out = tmp_path / "B.md"
    assert main(["bench", "identify", "--tle-dir", str(shared / "data" / "tle"), "--sequences", "1",
                 "--catalogue-size", "2500", "--repeats", "1", "--output", str(out)]) == 0
    text = out.read_text()
    assert "<!-- bench:identify -->" in text and "| all |" in text and "2,500 objects" in text
    assert "came out as `ID" in text


def test_identify_errors_are_one_line(tmp_path, shared, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("not a tle\n")
    table = tmp_path / "t.csv"
    table.write_text("frame,id,x,y,time,ra,dec\n0,1,0,0,2019-04-10T21:00:00,10,20\n1,1,0,0,2019-04-10T21:00:05,10.1,20\n")
    assert main(["identify", str(table), "--tle", str(bad), "--site", SITE]) == 2
    assert "bad.txt" in capsys.readouterr().err
    assert main(["identify", str(table), "--tle", str(shared / "data/tle/geo.txt")]) == 2
    assert "site" in capsys.readouterr().err
    assert main(["identify", str(table), "--tle", str(shared / "data/tle/geo.txt"), "--site", SITE,
                 "-o", str(table / "dir.csv")]) == 2  # under a file: a new folder would be made, as for track -o
