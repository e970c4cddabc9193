"""The command line: exit codes, one-line errors, dataclass flags."""

import argparse
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from debristrack.cli import main
from debristrack.config import add_dataclass_arguments, dataclass_from_args, replace_checked
from debristrack.errors import InputError


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "debristrack" in capsys.readouterr().out


def test_track_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["track", str(tmp_path / "missing"), "--mode", "stare"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("debristrack: error: ")
    assert main(["track", str(tmp_path)]) == 2  # no --mode
    assert "--mode is required" in capsys.readouterr().err


def test_console_script_bad_input_has_no_traceback(tmp_path):
    (tmp_path / "junk.fits").write_text("not fits")
    proc = subprocess.run([sys.executable, "-m", "debristrack.cli", "track", str(tmp_path), "--mode", "stare"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "junk.fits" in proc.stderr


@dataclass
class _Demo:
    window: int = field(default=5, metadata={"help": "frames in the stack"})
    thresh: float = 3.0
    snr: tuple[float, ...] = (3.0, 50.0)
    name: str | None = None
    verify: bool = True


def test_dataclass_flags_round_trip():
    p = argparse.ArgumentParser()
    add_dataclass_arguments(p, _Demo)
    args = p.parse_args(["--window", "9", "--snr", "5,20", "--verify", "no", "--name", "x"])
    cfg = dataclass_from_args(_Demo, args)
    assert cfg == _Demo(window=9, thresh=3.0, snr=(5.0, 20.0), name="x", verify=False)
    assert "frames in the stack (default: 5)" in p.format_help()
    with pytest.raises(SystemExit):
        p.parse_args(["--window", "many"])
    with pytest.raises(InputError, match="unknown _Demo parameter"):
        replace_checked(_Demo(), nope=1)
