"""``debristrack bench solve``: plate solving (astrometry.net) on every real frame.

For each real frame (every file of ``../shared/real/`` and ``../shared/real-dev/``, the first
frame of each sequence folder, each CCD of a mosaic): a copy of the frame is written with its
WCS removed (the pixels and every other keyword kept), solved with
:func:`debristrack.astrometry.solve.solve_sequence` (hints: the header's pointing and plate
scale only), and the solution compared with the frame's own WCS on a 5 x 5 grid of pixels
over the frame: the median and largest separation. Agreement means within 2 arcsec, or the
header's own stated accuracy (``CRDER``/``CSYER``) when larger. Frames without a WCS are
solved too and counted; they have no offset.
"""

from __future__ import annotations

import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from ..astrometry.solve import SolveConfig, compare_wcs, solve_sequence, solver_available
from ..errors import InputError
from ..io.header import number, wcs_kind
from ..io.sequence import is_fits_file, mosaic_ccds, open_sequence, strip_wcs
from .report import section_preamble, update_section

AGREEMENT_ARCSEC = 2.0


def add_arguments(p) -> None:
    p.add_argument("--shared", type=Path, default=Path("../shared"), help="folder holding real/ and real-dev/")
    p.add_argument("--time-limit", type=float, default=30.0, help="seconds per solve (default 30)")
    p.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))


def real_frames(shared: Path) -> list[tuple[str, Path, str | None]]:
    """(label, path, ccd) of every real frame: files, first frames of sequence folders, mosaic CCDs."""
    out = []
    for pool in ("real", "real-dev"):
        root = shared / pool
        if not root.is_dir():
            continue
        files = sorted(p for p in root.rglob("*") if is_fits_file(p))
        seen_folders = set()
        for f in files:
            folder = f.parent
            in_sequence = folder.name.endswith("sequence") or folder.parent.name == "sequences"
            if in_sequence:
                if folder in seen_folders:
                    continue
                seen_folders.add(folder)
            label = f"{pool}/{f.relative_to(root)}"
            for ccd in mosaic_ccds(f) or [None]:
                out.append((label + (f"[{ccd}]" if ccd else ""), f, ccd))
    return out


def stated_accuracy(header: fits.Header) -> float | None:
    """The header's own astrometric accuracy in arcsec (CRDER/CSYER, FITS WCS paper I), or None."""
    terms = [number(header, k) for k in ("CRDER1", "CRDER2", "CSYER1", "CSYER2")]
    terms = [t for t in terms if t is not None]
    return float(np.hypot.reduce(terms) * 3600.0) if terms else None


def bench_frame(path: Path, ccd: str | None, config: SolveConfig, tmp: Path) -> dict:
    """Solve one real frame with its WCS removed; the row of the table."""
    seq = open_sequence(path, ccd=ccd)
    header, shape = seq.raw_header(0), seq.raw_shape(0)
    ref = seq.ref(0)
    with fits.open(ref.path) as hdul:
        data = hdul[ref.hdu].section[ref.plane] if ref.plane is not None else hdul[ref.hdu].data
        data = np.array(data)
    kind = wcs_kind(header)
    original = None
    if kind == "solved":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            original = WCS(header, naxis=2)
    copy = tmp / "frame.fits"
    clean = strip_wcs(header)
    for key in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT",
                "BSCALE", "BZERO", "BLANK", "ZIMAGE"):
        clean.remove(key, ignore_missing=True, remove_all=True)
    fits.PrimaryHDU(data, clean).writeto(copy, overwrite=True)
    t0 = time.monotonic()
    results = solve_sequence(open_sequence(copy), config=config, wcs_dir=tmp, force=True)
    seconds = time.monotonic() - t0
    row = {"wcs": kind, "seconds": seconds, "solved": False, "median": np.nan, "max": np.nan, "shift": None,
           "shifted_median": np.nan, "shifted_max": np.nan, "accuracy": stated_accuracy(header),
           "message": results[0].message if results else "nothing to solve"}
    if results and results[0].sidecar is not None:
        row["solved"] = True
        if original is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                solved = WCS(fits.getheader(results[0].sidecar), naxis=2)
            off, shift, shifted = compare_wcs(original, solved, shape)
            row["median"], row["max"] = float(np.median(off)), float(off.max())
            if np.hypot(*shift) > 0.5:  # more than half a pixel: the header's WCS is offset
                row["shift"] = shift
                row["shifted_median"], row["shifted_max"] = float(np.median(shifted)), float(shifted.max())
    for f in tmp.iterdir():
        f.unlink()
    return row


def run(args) -> int:
    if not solver_available():
        raise InputError("bench solve: astrometry.net's solve-field is not installed (see README, plate solving)")
    frames = real_frames(args.shared)
    if not frames:
        raise InputError(f"{args.shared}: no real/ or real-dev/ frames here")
    config = SolveConfig(time_limit=args.time_limit)
    rows = []
    with tempfile.TemporaryDirectory(prefix="debristrack-bench-solve-") as tmp:
        for label, path, ccd in frames:
            try:
                row = bench_frame(path, ccd, config, Path(tmp))
            except InputError as exc:
                row = {"wcs": "?", "seconds": 0.0, "solved": False, "median": np.nan, "max": np.nan, "shift": None,
                       "shifted_median": np.nan, "shifted_max": np.nan, "accuracy": None, "message": str(exc)}
            row["label"] = label
            rows.append(row)
            offset = (f", offset median {row['median']:.2f}\" max {row['max']:.2f}\""
                      if np.isfinite(row["median"]) else "")
            print(f"{label}: {'solved' if row['solved'] else 'not solved'} in {row['seconds']:.1f} s{offset}")
    update_section("solve", _markdown(rows, args), args.output)
    print(f"wrote the solve section of {args.output}")
    return 0


def _fmt(v: float) -> str:
    return f"{v:.2f}" if np.isfinite(v) else "—"


def _markdown(rows: list[dict], args) -> str:
    with_wcs = [r for r in rows if r["wcs"] == "solved"]
    solved = [r for r in rows if r["solved"]]
    tol = lambda r: max(AGREEMENT_ARCSEC, r["accuracy"] or 0.0)  # noqa: E731
    agree = [r for r in with_wcs if r["solved"] and r["median"] <= tol(r)]
    agree_shifted = [r for r in with_wcs if r["solved"] and r["shift"] is not None and r["shifted_median"] <= tol(r)]
    seconds = [r["seconds"] for r in rows]
    out = ["## Plate solving (astrometry.net) on real frames", "",
           section_preamble(f"debristrack bench solve --time-limit {args.time_limit:g}").rstrip(), "",
           f"Index files: {', '.join(_index_files()) or 'none found'}.",
           f"Solved {len(solved)} of {len(rows)} frames ({sum(r['solved'] for r in with_wcs)} of the {len(with_wcs)} "
           f"with a WCS of their own); {len(agree)} agree with their own WCS within {AGREEMENT_ARCSEC:g}\" (median "
           f"grid offset) as given, {len(agree_shifted)} more after a pixel shift; {np.mean(seconds):.1f} s per frame "
           f"on average (time limit {args.time_limit:g} s per solve).", "",
           "Offsets are separations from the frame's own WCS over a 5 x 5 grid of pixels. Where the two differ by a "
           "pixel shift (a cut-out whose header kept its parent frame's reference pixel), the shift is given and "
           "the offsets after it.", "",
           "| frame | own WCS | solved | s | offset median (\") | offset max (\") | outcome |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        msg = r["message"].split(": ", 1)[-1].replace("|", "/")
        msg = re.sub(r" -> \S+$", "", msg)  # the sidecar's temporary path
        if r["shift"] is not None:
            msg += (f"; own WCS off by a ({r['shift'][0]:.1f}, {r['shift'][1]:.1f}) px shift, after which the offset "
                    f"is median {_fmt(r['shifted_median'])}\" max {_fmt(r['shifted_max'])}\"")
        out.append(f"| {r['label']} | {r['wcs']} | {'yes' if r['solved'] else 'no'} | {r['seconds']:.1f} | "
                   f"{_fmt(r['median'])} | {_fmt(r['max'])} | {msg} |")
    return "\n".join(out) + "\n"


def _index_files() -> list[str]:
    folder = Path("/usr/share/astrometry")
    return sorted(p.name.split(".")[0] for p in folder.glob("index-*.fits")) if folder.is_dir() else []

