"""``debristrack track``: parameters checked at the boundary, dataset roots, and ``demo``."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from debristrack.cli import main
from debristrack.config import flag_fields
from debristrack.io.tables import read_table
from debristrack.pipeline import sidereal, stare, target
from debristrack.simulate.dataset import simulate_dataset

README = Path(__file__).resolve().parents[2] / "README.md"
CONFIGS = {"sidereal": sidereal.Config(), "stare": stare.Config(), "target": target.Config()}


@pytest.mark.parametrize("mode, flag, value, spec, got", [
    ("sidereal", "--matched-n-angles", "0", "[1, inf)", "0"),
    ("sidereal", "--matched-fwhm", "-2", "(0, inf)", "-2.0"),
    ("sidereal", "--matched-fwhm", "0", "(0, inf)", "0.0"),
    ("sidereal", "--gate", "nan", "(0, inf)", "nan"),
    ("sidereal", "--max-age", "-1", "[0, inf)", "-1"),
    ("sidereal", "--sdtnet-score-threshold", "1.5", "[0, 1]", "1.5"),
    ("sidereal", "--max-motion-angle", "200", "[0, 180]", "200.0"),
    ("stare", "--threshold", "-3", "(0, inf)", "-3.0"),
    ("stare", "--window", "1", "[2, inf)", "1"),
    ("target", "--k-max-px", "0", "(0, inf)", "0.0"),
    ("target", "--min-fraction", "2", "[0, 1]", "2.0"),
])
def test_bad_flag_exits_2_with_one_line_naming_flag_and_range(tmp_path, capsys, mode, flag, value, spec, got):
    # checked before any sequence is read: the path need not exist
    assert main(["track", str(tmp_path / "nowhere"), "--mode", mode, flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"debristrack: error: track --mode {mode}: {flag} must be in {spec}, got {got}"]


def test_every_numeric_parameter_has_a_range_and_the_readme_lists_it():
    text = README.read_text()
    rows = {(mode, flag): spec for flag, spec, mode in
            re.findall(r"^\| `(--[a-z0-9-]+)` \| ([^|]+?) \| (\w+) \|", text, flags=re.M)}
    for mode, config in CONFIGS.items():
        for flag, value, spec, owner in flag_fields(config):
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            numeric |= isinstance(value, tuple) or (value is None and flag not in ("--sdtnet-weights",))
            if numeric:
                assert spec is not None, f"{mode} {flag} has no range"
            if spec is not None:
                assert rows.get((mode, flag), "").replace("`", "") == spec, f"README range of {mode} {flag}"


def _dataset(root: Path) -> Path:
    simulate_dataset(root, mode="target", preset="single", sequences=2, seed=4, progress=False,
                     overrides={"size": 96, "frames": 4})
    return root


def test_dataset_root_layout_resume_and_overwrite(tmp_path, capsys):
    root = _dataset(tmp_path / "data")
    assert main(["track", str(root), "--mode", "target", "--workers", "1"]) == 0
    results = tmp_path / "data-tracks"
    outs = sorted(p.relative_to(results).as_posix() for p in results.rglob("*.csv"))
    assert outs == ["target/seq0000.csv", "target/seq0001.csv"]  # <root>-tracks/<split>/<sequence>.csv
    for p in results.rglob("*.csv"):
        read_table(p)
    capsys.readouterr()
    # a rerun resumes: the finished sequences are skipped, their files left alone
    stamp = (results / "target/seq0000.csv").stat().st_mtime_ns
    (results / "target/seq0001.csv").unlink()
    assert main(["track", str(root), "--mode", "target", "--workers", "1"]) == 0
    assert "2 sequence(s) under" in capsys.readouterr().err and (results / "target/seq0001.csv").exists()
    assert (results / "target/seq0000.csv").stat().st_mtime_ns == stamp
    assert main(["track", str(root), "--mode", "target", "--workers", "1"]) == 0
    assert "2 done already" in capsys.readouterr().err
    # --overwrite redoes them
    assert main(["track", str(root), "--mode", "target", "--workers", "1", "--overwrite"]) == 0
    assert "0 done already" in capsys.readouterr().err
    assert (results / "target/seq0000.csv").stat().st_mtime_ns != stamp


def test_demo_simulates_tracks_and_scores_every_mode(tmp_path, capsys, monkeypatch):
    from debristrack.commands import demo

    # the demo's own scenes at 128 px, 5 frames: the same commands, a few seconds
    monkeypatch.setattr(demo, "simulate_dataset",
                        functools.partial(simulate_dataset, overrides={"size": 128, "frames": 5}, progress=False))
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["mode", "method", "frames"]
    assert [line.split()[:2] for line in out[1:4]] == [["sidereal", "matched+physical"], ["stare", "minstack"],
                                                       ["target", "motionlist"]]
    for mode in ("sidereal", "stare", "target"):
        assert len(read_table(tmp_path / "demo-tracks" / mode / "seq0000.csv")) > 0


def test_one_target_sequence_passes_workers_to_the_frame_extraction(tmp_path, monkeypatch):
    root = _dataset(tmp_path / "data")
    seen = []
    real = target.track_sequence

    def recording(seq, **kwargs):
        seen.append(kwargs.get("workers"))
        return real(seq, **kwargs)

    monkeypatch.setattr(target, "track_sequence", recording)
    seq = root / "target" / "seq0000"
    assert main(["track", str(seq), "--mode", "target", "--workers", "2", "-o", str(tmp_path / "a.csv")]) == 0
    assert main(["track", str(seq), "--mode", "target", "-o", str(tmp_path / "b.csv")]) == 0
    assert seen == [2, 1]  # one sequence: helpers only when asked for
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
