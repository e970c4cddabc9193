"""Start-up: ``--help`` and ``--version`` import no command, benchmark, numpy or torch."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from debristrack import cli

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["bench", "--help"]])
def test_help_and_version_import_nothing_heavy(argv):
    code = ("import runpy, sys\n"
            f"sys.argv = ['debristrack'] + {argv!r}\n"
            "try:\n    runpy.run_module('debristrack.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'torch', 'astropy', 'dask')"
            " or m.startswith('debristrack.bench.') or m.startswith('debristrack.pipeline')]\n"
            "print('HEAVY:' + ','.join(heavy))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert [line for line in out.splitlines() if line.startswith("HEAVY:")] == ["HEAVY:"]


def test_lazy_command_help_matches_the_commands_own():
    for name, text in cli.COMMANDS.items():
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"debristrack.commands.{name}").register(sub)
        assert sub.choices[name] is not None
        helps = {a.dest: a.help for a in sub._choices_actions}
        assert helps[name] == text
