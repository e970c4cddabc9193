"""``debristrack track SEQUENCE --mode MODE``: detect and track, write the tracks table.

Each observing mode is a module ``debristrack.pipeline.<mode>`` exposing ``Config`` (a
frozen dataclass: every parameter of the mode's methods, with ``validate(where)``),
``METHODS`` (the first is the default) and ``track_sequence(seq, *, method, config,
progress) -> Table``, which runs the mode's method in the frame loop. The mode's ``Config``
fields become flags, so they are parsed after ``--mode`` is known:
``debristrack track --mode stare --help`` lists them.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ..astrometry.sky import add_sky_columns, wcs_source
from ..config import add_dataclass_arguments, dataclass_from_args
from ..errors import InputError
from ..io.sequence import find_sequences, open_sequence
from ..io.tables import write_table
from ..parallel import Task, add_parallel_arguments, run_tasks, summarize
from ..progress import progress_bar, say

MODES = ("sidereal", "stare", "target")


def load_mode(mode: str):
    """The pipeline module of an observing mode (:mod:`debristrack.pipeline.<mode>`)."""
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    return importlib.import_module(f"debristrack.pipeline.{mode}")


def register(sub) -> None:
    p = sub.add_parser(
        "track", add_help=False,
        help="detect and track moving objects in a FITS sequence or a dataset",
        description="Detect and track objects in a sequence (folder of FITS, cube, MEF) or in "
                    "every sequence of a dataset root. Mode-specific options: "
                    "debristrack track --mode MODE --help.")
    _common_arguments(p)
    p.set_defaults(run=run, accepts_extra=True, track_parser=p)


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-h", "--help", action="store_true", help="show this help (with --mode: its options)")
    p.add_argument("sequence", nargs="?", metavar="SEQUENCE",
                   help="a folder of FITS frames, a cube or MEF file, or a dataset root")
    p.add_argument("--mode", choices=MODES, help="observing mode (required)")
    p.add_argument("--method", help="method of the mode (default: the mode's first)")
    p.add_argument("-o", "--output", type=Path,
                   help="output CSV for one sequence (default tracks.csv); for a dataset root, "
                        "the results folder (default <root>-tracks/) holding <split>/<sequence>.csv")
    p.add_argument("--overwrite", action="store_true",
                   help="dataset root: redo sequences whose result already exists (default: skip them)")
    p.add_argument("--wcs", type=Path, metavar="FILE",
                   help="a WCS solved elsewhere (e.g. astrometry.net .wcs) for the whole sequence; in stare "
                        "mode propagated to later frames by the Earth's rotation")
    add_parallel_arguments(p)


def _full_parser(mode_module, mode: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"debristrack track --mode {mode}", add_help=False,
                                description=(mode_module.__doc__ or "").strip().split("\n")[0])
    _common_arguments(p)
    add_dataclass_arguments(p, mode_module.Config, title=f"{mode} options (methods: {', '.join(mode_module.METHODS)})")
    return p


def run(args: argparse.Namespace) -> int:
    if args.mode is None:
        if args.help:
            args.track_parser.print_help()
            return 0
        raise InputError("track: --mode is required (sidereal, stare or target)")
    module = load_mode(args.mode)
    parser = _full_parser(module, args.mode)
    if args.help:
        parser.print_help()
        return 0
    full = parser.parse_args(args.command_argv)
    if full.sequence is None:
        raise InputError("track: give a SEQUENCE (folder, cube/MEF file or dataset root)")
    method = full.method or module.METHODS[0]
    if method not in module.METHODS:
        raise InputError(f"unknown method {method!r} for mode {args.mode}; choose one of {', '.join(module.METHODS)}")
    config = dataclass_from_args(module.Config, full)
    config.validate(f"track --mode {args.mode}")  # bad flags: one line and exit 2, before any work

    root = Path(full.sequence)
    sequences = find_sequences(root)
    if len(sequences) == 1 and sequences[0] == root:
        out = full.output or Path("tracks.csv")
        seq = open_sequence(root)
        with progress_bar(f"{root.name} ({method})") as update:
            n_rows, n_ids = track_path(args.mode, root, out, method=method, config=config,
                                       wcs_file=full.wcs, progress=update, seq=seq)
        say(f"{root}: {n_ids} track(s), {n_rows} row(s) -> {out}")
        return 0

    results = full.output or root.with_name(root.name + "-tracks")
    todo = []
    for seq_path in sequences:
        out = results / seq_path.relative_to(root).with_suffix(".csv")
        if out.exists() and not full.overwrite:
            continue  # finished by an earlier run: resume after it
        todo.append(Task(str(seq_path.relative_to(root)), track_path, (args.mode, seq_path, out),
                         {"method": method, "config": config, "wcs_file": full.wcs}))
    skipped = len(sequences) - len(todo)
    say(f"{len(sequences)} sequence(s) under {root}; {skipped} done already; results in {results}")
    with progress_bar(f"track {args.mode} ({method})") as update:
        done = run_tasks(todo, workers=full.workers, scheduler=full.scheduler,
                         progress=lambda d, f, t: update(d, t, f))
    return summarize(done, f"track {args.mode}")


def track_path(mode: str, seq_path: Path, out: Path, *, method: str, config, wcs_file: Path | None = None,
               progress=None, seq=None) -> tuple[int, int]:
    """Track one sequence and write its table atomically; returns (rows, distinct ids).

    The table gains ``time`` and sky coordinates where the frames (or ``wcs_file``) allow.
    A top-level function of plain arguments, so it runs in a Dask worker as well.
    """
    module = load_mode(mode)
    seq = seq if seq is not None else open_sequence(seq_path)
    table = module.track_sequence(seq, method=method, config=config, progress=progress)
    notes: list[str] = []
    if len(table) == 0 and table.meta.get("note"):
        notes.append(f"{seq_path}: no object found: {table.meta['note']}")
    table = add_sky_columns(table, seq, wcs_for=wcs_source(seq, wcs_file=wcs_file, mode=mode),
                            on_missing=notes.append)
    for note in notes:
        say(note)
    write_table(table, out)
    return len(table), len(set(table["id"])) if len(table) else 0
