"""``debristrack track SEQUENCE --mode MODE``: detect and track, write the tracks table.

Each observing mode is a module ``debristrack.pipeline.<mode>`` exposing ``Config`` (a
frozen dataclass: every parameter of the mode's methods, with ``validate(where)``),
``METHODS`` (the first is the default) and ``track_sequence(seq, *, method, config,
progress) -> Table``, which runs the mode's method in the frame loop (target mode's also
takes ``workers``: processes that extract the frames of one sequence). The mode's ``Config``
fields become flags, so they are parsed after ``--mode`` is known:
``debristrack track --mode stare --help`` lists them.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ..astrometry.sky import add_sky_columns, load_wcs_file, wcs_source
from ..astrometry.solve import SolveConfig, solve_sequence
from ..config import ArgumentParser, add_dataclass_arguments, dataclass_from_args, finite_float, to_dict
from ..errors import InputError
from ..io.atomic import atomic_write, check_writable
from ..io.provenance import fingerprint, is_current, record, unfinished_reason
from ..io.sequence import ReadOptions, find_sequences, mosaic_ccds, sequence_files
from ..io.tables import write_table
from ..pipeline import MODES, load_mode
from ..parallel import Task, add_parallel_arguments, run_tasks, summarize
from ..progress import progress_bar, say



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
    p.add_argument("--time-offset", type=finite_float, default=0.0, metavar="SECONDS",
                   help="added to every frame time from the headers: the camera's shutter latency when the "
                        "capture program stamps the command time (default 0)")
    p.add_argument("--dark", type=Path, metavar="FILE",
                   help="a dark (or bias) frame, or a folder of them (median-combined), subtracted from every frame")
    p.add_argument("--flat", type=Path, metavar="FILE",
                   help="a flat frame, or a folder of them (median-combined), divided into every frame "
                        "(normalised to its median)")
    p.add_argument("--solve", action="store_true",
                   help="plate-solve frames with no WCS or a pointing-only one first (astrometry.net; "
                        "see debristrack solve), writing sidecar .wcs files")
    p.add_argument("--wcs-dir", type=Path, metavar="DIR",
                   help="where sidecar .wcs files are read and written (default: beside the frames)")
    p.add_argument("--solve-time-limit", type=float, default=SolveConfig.time_limit, metavar="SECONDS",
                   help=f"give up one plate solve after this long (default {SolveConfig.time_limit:g})")
    p.add_argument("--identify", action="store_true",
                   help="identify the tracks against the --tle catalogue (norad,name columns; see identify)")
    from .identify import add_identify_arguments

    add_identify_arguments(p, standalone=False)
    add_parallel_arguments(p)


def read_options(args: argparse.Namespace) -> ReadOptions:
    """How to read the sequences, from the command line."""
    return ReadOptions(time_offset=args.time_offset, dark=args.dark, flat=args.flat, wcs_dir=args.wcs_dir)


def _identify_options(full) -> dict | None:
    if not full.identify:
        if full.tle:
            raise InputError("track: --tle is used with --identify")
        return None
    if not full.tle:
        raise InputError("track --identify needs --tle FILE [FILE...]")
    from ..astrometry.identify import IdentifyConfig

    config = dataclass_from_args(IdentifyConfig, full)
    config.validate()
    return {"tle": full.tle, "site": full.site, "config": config}


def _full_parser(mode_module, mode: str) -> argparse.ArgumentParser:
    p = ArgumentParser(prog=f"debristrack track --mode {mode}", add_help=False,
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
    identify = _identify_options(full)
    if full.wcs is not None:
        load_wcs_file(full.wcs)  # a bad --wcs fails now, not after the tracking

    read = read_options(full)
    solve = SolveConfig(time_limit=full.solve_time_limit) if full.solve else None
    root = Path(full.sequence)
    sequences = find_sequences(root)
    if len(sequences) == 1 and sequences[0] == root:
        base = check_writable(full.output or Path("tracks.csv"), what="tracks table")
        why = unfinished_reason(root)
        if why is not None:
            raise InputError(f"{root}: {why}")
        for ccd, out in ccd_outputs(root, base):
            where = f"{root}[{ccd}]" if ccd else str(root)
            with progress_bar(f"{where} ({method})") as update:
                n_rows, n_ids = track_path(args.mode, root, out, method=method, config=config, wcs_file=full.wcs,
                                           progress=update, read=replace(read, ccd=ccd), solve=solve,
                                           identify=identify, workers=full.workers or 1)
            say(f"{where}: {n_ids} track(s), {n_rows} row(s) -> {out}")
        return 0

    results = check_writable(full.output or root.with_name(root.name + "-tracks"), what="results folder",
                             folder=True)
    todo, unfinished, changed = [], [], 0
    n_all = 0
    for seq_path in sequences:
        why = unfinished_reason(seq_path)
        if why is not None:  # simulate is still writing it, or was stopped: its result would be wrong
            unfinished.append(f"{seq_path.relative_to(root)}: {why}")
            continue
        for ccd, out in ccd_outputs(seq_path, results / seq_path.relative_to(root).with_suffix(".csv")):
            n_all += 1
            kwargs = {"method": method, "config": config, "wcs_file": full.wcs,
                      "read": replace(read, ccd=ccd), "solve": solve, "identify": identify}
            if out.exists() and not full.overwrite:
                if is_current(out, source_of(seq_path, args.mode, **kwargs)):
                    continue  # finished by an earlier run on this same input: resume after it
                changed += 1  # computed from other frames or parameters: redo
            name = str(seq_path.relative_to(root)) + (f"[{ccd}]" if ccd else "")
            todo.append(Task(name, track_path, (args.mode, seq_path, out), kwargs))
    for note in unfinished:
        say(f"skipped {note}")
    skipped = n_all - len(todo)
    say(f"{len(sequences)} sequence(s) under {root}; {skipped} done already"
        + (f", {changed} redone (input or parameters changed)" if changed else "")
        + (f", {len(unfinished)} unfinished skipped" if unfinished else "") + f"; results in {results}")
    with progress_bar(f"track {args.mode} ({method})") as update:
        done = run_tasks(todo, workers=full.workers, scheduler=full.scheduler,
                         progress=lambda d, f, t: update(d, t, f))
    return summarize(done, f"track {args.mode}")


def ccd_outputs(seq_path: Path, out: Path) -> list[tuple[str | None, Path]]:
    """(CCD, output) pairs: one per CCD of a mosaic (``tracks-LBCCHIP1.csv``), else (None, out)."""
    ccds = mosaic_ccds(seq_path)
    if not ccds:
        return [(None, out)]
    return [(ccd, out.with_name(f"{out.stem}-{ccd}{out.suffix}")) for ccd in ccds]


def source_of(seq_path: Path, mode: str, *, method: str, config, wcs_file: Path | None = None,
              read: ReadOptions = ReadOptions(), solve: SolveConfig | None = None,
              identify: dict | None = None) -> dict:
    """What a result of ``seq_path`` is computed from: its frame files and every parameter."""
    files = sequence_files(seq_path, report=False)
    if wcs_file is not None:
        files = files + [Path(wcs_file)]
    return fingerprint(files, mode=mode, method=method, config=to_dict(config),
                       wcs=None if wcs_file is None else str(wcs_file), read=repr(read), solve=repr(solve),
                       identify=None if identify is None else repr(identify))


def track_path(mode: str, seq_path: Path, out: Path, *, method: str, config, wcs_file: Path | None = None,
               progress=None, seq=None, read: ReadOptions = ReadOptions(), solve: SolveConfig | None = None,
               identify: dict | None = None, workers: int = 1) -> tuple[int, int]:
    """Track one sequence and write its table atomically; returns (rows, distinct ids).

    The table gains ``time`` and sky coordinates where the frames (or ``wcs_file``) allow.
    ``read``: how to read it (time offset, dark, flat, CCD of a mosaic, sidecar folder).
    ``solve``: plate-solve the frames without a WCS first (sidecar ``.wcs`` files).
    With ``identify`` (``tle``, ``site``, ``config``) it also gains ``norad,name,designator``
    and ``<out>-unseen.csv`` lists the catalogue objects predicted in the field but not tracked.
    ``workers``: target mode extracts the frames in up to this many processes (one sequence
    given with ``--workers N``; a Dask task keeps 1, the cluster already has a process per core).
    A top-level function of plain arguments, so it runs in a Dask worker as well.
    """
    module = load_mode(mode)
    # before reading: a change during the run shows as a changed input next time
    source = source_of(seq_path, mode, method=method, config=config, wcs_file=wcs_file, read=read, solve=solve,
                       identify=identify)
    seq = seq if seq is not None else read.open(seq_path)
    notes: list[str] = []
    if solve is not None:
        solved = solve_sequence(seq, mode=mode, config=solve, wcs_dir=read.wcs_dir)
        notes += [r.message for r in solved if r.solved_here or r.sidecar is None]
        if any(r.sidecar for r in solved):
            seq = read.open(seq_path)  # read again: the frames now have their sidecars
    shared = {"workers": workers} if mode == "target" else {}  # sep holds the GIL: processes, not threads
    table = module.track_sequence(seq, method=method, config=config, progress=progress, **shared)
    # what reading did to the frames (crops, overscan), solving, and the bad frames the mode masked
    notes = list(seq.notes) + notes + list(table.meta.get("notes", []))
    if len(table) == 0 and table.meta.get("note"):
        where = f"{seq_path}[{seq.ccd}]" if seq.ccd else seq_path
        notes.append(f"{where}: no object found: {table.meta['note']}")
    wcs_for = wcs_source(seq, wcs_file=wcs_file, mode=mode)
    table = add_sky_columns(table, seq, wcs_for=wcs_for, on_missing=notes.append)
    for note in notes:
        say(note)
    if identify is not None:
        from .identify import identify_with_field, unseen_csv

        results, unseen, table = identify_with_field(table, seq, tle=identify["tle"], site_text=identify["site"],
                                                     config=identify["config"], wcs_for=wcs_for)
        n_id = sum(r.status == "ID" for r in results)
        say(f"{seq_path}: {n_id} identified ({', '.join(str(r.norad) for r in results if r.status == 'ID')}), "
            f"{len(results) - n_id} UCT, {len(unseen)} predicted but not seen")
        with atomic_write(out.with_name(out.stem + "-unseen.csv"), "w", encoding="utf-8") as fh:
            fh.write(unseen_csv(unseen))
    write_table(table, out)
    record(out, source)  # after the table: a result without its record is redone
    return len(table), len(set(table["id"])) if len(table) else 0
