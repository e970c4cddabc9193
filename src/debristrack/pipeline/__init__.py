"""The pipeline: one frame loop (:mod:`.loop`) driving one method object.

Each observing mode (:mod:`.sidereal`, :mod:`.stare`, :mod:`.target`) holds its config, its
method names, its method classes and ``track_sequence``; every caller (``debristrack track``,
the benchmarks, the demo, ``watch``) runs a method through :func:`.loop.run_method` (or
:func:`.loop.feed` for frames arriving one at a time).
"""

from __future__ import annotations

import importlib

from ..errors import InputError

MODES = ("sidereal", "stare", "target")


def load_mode(mode: str):
    """The pipeline module of an observing mode (:mod:`debristrack.pipeline.<mode>`), imported
    only when asked for (``debristrack --help`` stays light)."""
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return importlib.import_module(f"debristrack.pipeline.{mode}")
