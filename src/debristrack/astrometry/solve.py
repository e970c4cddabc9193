"""Plate solving with astrometry.net (``solve-field``), for frames with no WCS or a pointing-only one.

astrometry.net (Lang et al. 2010, AJ 139, 1782) matches quads of stars against index files
built from a catalogue (the Debian packages ``astrometry.net`` and ``astrometry-data-tycho2-*``).
We give it a star list, not the image: stars are found with ``sep`` on the laid-out frame
(:mod:`debristrack.detect.extract`), converted to the *file's* pixel coordinates (undoing the
overscan crop and colour binning), and the solution is written as a sidecar ``.wcs`` file in
the file's coordinates, beside the frame or in ``--wcs-dir``: the user's frames are never
modified, and the reader (:func:`debristrack.io.sequence.open_sequence`) lays the sidecar out
like the pixels.

Solve once per pointing:

- ``sidereal``: stars are fixed, so the median of the frames (up to 15, evenly spread) is
  solved once and every frame gets that solution;
- ``stare``: the first frame is solved, and later frames get the solution turned by the
  Earth's rotation (:func:`debristrack.astrometry.sky.propagate_stare_wcs`);
- ``target`` (and no mode): the telescope follows the object and stars move: each frame.

Hints: the header's pointing (:func:`debristrack.io.header.pointing`; searched within
``search_radius``, default the larger of 1 deg and two field diagonals) and plate scale
(the pointing-only WCS, or ``PIXSCALE`` or ``XPIXSZ``/``FOCALLEN``; +-20 %). Without hints the
search is blind (slower). Each solve is given ``time_limit`` seconds; a failure has one reason.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from ..detect.extract import extract_sources
from ..errors import InputError
from ..io.atomic import write_fits_atomic
from ..io.header import pointing, wcs_kind
from ..io.sequence import FrameSequence, sidecar_path
from .sky import propagate_stare_wcs

SOLVE_FIELD = "solve-field"
MODES = ("sidereal", "stare", "target")
MAX_STACK = 15


@dataclass(frozen=True)
class SolveConfig:
    """Parameters of one plate solve."""

    time_limit: float = 30.0  # seconds per solve (solve-field --cpulimit, and a wall-clock limit)
    max_stars: int = 150  # the brightest sources handed to solve-field
    min_stars: int = 6  # fewer than this: not worth trying
    detect_thresh: float = 5.0  # sep threshold in background RMS: bright stars only (a few hundred suffice)
    scale_tolerance: float = 0.2  # the plate-scale hint is searched within +- this fraction
    search_radius: float | None = None  # degrees around the header's pointing; None: max(1, 2 field diagonals)
    use_hints: bool = True  # False: a blind solve (the bench's check that hints are not needed)
    index_config: str | None = None  # an astrometry.cfg naming the index files (default: solve-field's own)

    def __post_init__(self):
        if self.time_limit <= 0 or self.max_stars < 4 or self.min_stars < 4:
            raise InputError("solve: --time-limit must be > 0 and star counts >= 4")
        if not 0 < self.scale_tolerance < 1:
            raise InputError("solve: scale tolerance must be in (0, 1)")


@dataclass(frozen=True)
class Solution:
    """The outcome of one solve: a celestial WCS header (file pixels) or the reason there is none."""

    header: fits.Header | None
    reason: str
    seconds: float
    n_stars: int

    @property
    def ok(self) -> bool:
        return self.header is not None


def solver_available() -> bool:
    return shutil.which(SOLVE_FIELD) is not None


def star_list(image: np.ndarray, mask: np.ndarray | None, *, config: SolveConfig) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) xy (0-based, frame pixels) and (n,) flux of the brightest compact sources.

    Sources as elongated as a satellite trail (a/b > 3) are left out: they are not stars. (Big
    round ones stay: the brightest stars are saturated and large.)
    """
    src = extract_sources(image, mask=mask, thresh=config.detect_thresh, minarea=5)
    keep = (src.b > 0) & (src.a < 3 * np.maximum(src.b, 1e-3)) & (src.flux > 0)
    src = src.select(keep)
    order = np.argsort(src.flux)[::-1][: config.max_stars]
    return src.xy[order], src.flux[order]


def solve_stars(xy: np.ndarray, flux: np.ndarray, width: int, height: int, *, scale: float | None = None,
                radec: tuple[float, float] | None = None, config: SolveConfig = SolveConfig()) -> Solution:
    """Solve a star list: ``xy`` 0-based pixels of an image ``width`` x ``height``; hints optional.

    ``scale`` in arcsec/px, ``radec`` in degrees. Returns a Solution whose header holds the WCS
    (CRPIX at the image centre, SIP order 2) in the same pixel coordinates as ``xy``.
    """
    t0 = time.monotonic()
    n = len(xy)
    if n < config.min_stars:
        return Solution(None, f"could not solve: {n} star(s) found, {config.min_stars} needed", 0.0, n)
    if not solver_available():
        return Solution(None, "could not solve: astrometry.net's solve-field is not installed "
                              "(apt-get install astrometry.net astrometry-data-tycho2-10-19-littleendian)", 0.0, n)
    with tempfile.TemporaryDirectory(prefix="debristrack-solve-") as tmp:
        tmp = Path(tmp)
        cols = [fits.Column(name="X", format="D", array=xy[:, 0] + 1.0),  # FITS pixels are 1-based
                fits.Column(name="Y", format="D", array=xy[:, 1] + 1.0),
                fits.Column(name="FLUX", format="D", array=flux)]
        fits.BinTableHDU.from_columns(cols).writeto(tmp / "stars.xyls")
        cmd = [SOLVE_FIELD, str(tmp / "stars.xyls"), "--width", str(width), "--height", str(height),
               "--x-column", "X", "--y-column", "Y", "--sort-column", "FLUX", "--no-plots", "--overwrite",
               "--no-remove-lines", "--uniformize", "0", "--crpix-center", "--tweak-order", "2",
               "--dir", str(tmp), "--out", "solve", "--cpulimit", str(int(np.ceil(config.time_limit))),
               "--new-fits", "none", "--rdls", "none", "--corr", "none", "--match", "none", "--solved", "none",
               "--index-xyls", "none", "--temp-axy"]
        if config.index_config:
            cmd += ["--config", str(config.index_config)]
        hints = []
        if config.use_hints and scale is not None and scale > 0:
            cmd += ["--scale-units", "arcsecperpix", "--scale-low", f"{scale * (1 - config.scale_tolerance):.6g}",
                    "--scale-high", f"{scale * (1 + config.scale_tolerance):.6g}"]
            hints.append(f"scale {scale:.3g}\"/px +-{config.scale_tolerance:.0%}, field "
                         f"{width * scale / 60:.3g}' x {height * scale / 60:.3g}'")
        if config.use_hints and radec is not None:
            diag = np.hypot(width, height) * (scale or 0.0) / 3600.0
            radius = config.search_radius or max(1.0, 2 * diag)
            cmd += ["--ra", f"{radec[0]:.6f}", "--dec", f"{radec[1]:.6f}", "--radius", f"{radius:.3f}"]
            hints.append(f"within {radius:.2g} deg of the header's pointing")
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=config.time_limit + 2)
        except subprocess.TimeoutExpired:
            run = None
        seconds = time.monotonic() - t0
        wcs_file = tmp / "solve.wcs"
        if run is None or not wcs_file.is_file():
            why = "" if run is None or run.returncode == 0 else f"; solve-field: {_last_line(run.stderr)}"
            hint = f" ({', '.join(hints)})" if hints else " (blind: no pointing or scale in the header)"
            return Solution(None, f"could not solve: no match within {config.time_limit:g} s with {n} stars"
                                  f"{hint}{why}", seconds, n)
        header = fits.getheader(wcs_file)
    return Solution(_wcs_cards(header), "", seconds, n)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:160] if lines else "no output"


def _wcs_cards(header: fits.Header) -> fits.Header:
    """The WCS of a solve-field ``.wcs`` file as clean cards (TAN-SIP, CD matrix as PC+CDELT)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        out = WCS(header).to_header(relax=True)
    out["WCSNAME"] = ("astrometry.net", "solved by debristrack solve (solve-field)")
    for key in ("IMAGEW", "IMAGEH"):
        if key in header:
            out[key] = header[key]
    return out


# ---- sequences ----

@dataclass(frozen=True)
class FrameResult:
    """What solving did for one frame: its sidecar (or None) and a one-line outcome."""

    index: int
    name: str
    sidecar: Path | None
    message: str
    seconds: float
    solved_here: bool  # True for the frame (or stack) that was solved; False for a copied/propagated WCS


def frames_to_solve(seq: FrameSequence, *, force: bool = False) -> list[int]:
    """Frames with no WCS or a pointing-only one (every frame with ``force``)."""
    return [i for i in range(len(seq)) if force or wcs_kind(seq.raw_header(i)) != "solved"]


def check_writable(seq: FrameSequence, wcs_dir: Path | None, frames: list[int]) -> None:
    """Raise InputError before any work when a sidecar cannot be written."""
    folders = {sidecar_path(seq.ref(i), wcs_dir).parent for i in frames}
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".debristrack-write-test-"):
                pass
        except OSError:
            raise InputError(f"{folder}: cannot write the .wcs sidecar files here; give --wcs-dir DIR") from None


def solve_sequence(seq: FrameSequence, *, mode: str | None = None, config: SolveConfig = SolveConfig(),
                   wcs_dir: Path | None = None, force: bool = False, progress=None) -> list[FrameResult]:
    """Solve the frames that need it (see module doc) and write their sidecar ``.wcs`` files."""
    if mode is not None and mode not in MODES:
        raise InputError(f"solve: unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    todo = frames_to_solve(seq, force=force)
    if not todo:
        return []
    if mode == "stare" and len(todo) > 1 and seq.times is None:
        raise InputError(f"{seq.path}: stare-mode WCS propagation needs DATE-OBS in the frames")
    check_writable(seq, wcs_dir, todo)
    results: list[FrameResult] = []
    if mode == "sidereal":
        pick = [todo[k] for k in np.unique(np.linspace(0, len(todo) - 1, min(len(todo), MAX_STACK)).astype(int))]
        stack = np.nanmedian(np.stack([seq[i].clean for i in pick]), axis=0)
        sol = _solve_frame(seq, todo[0], stack, config)
        label = f"median of {len(pick)} frame(s)"
        for k, i in enumerate(todo):
            results.append(_write(seq, i, sol, wcs_dir, solved_here=k == 0, label=label))
        if progress:
            progress(len(todo), len(todo))
    elif mode == "stare":
        first = todo[0]
        sol = _solve_frame(seq, first, None, config)
        results.append(_write(seq, first, sol, wcs_dir, solved_here=True))
        for k, i in enumerate(todo[1:], start=2):
            results.append(_write_propagated(seq, first, i, sol, wcs_dir))
            if progress:
                progress(k, len(todo))
    else:
        for k, i in enumerate(todo, start=1):
            results.append(_write(seq, i, _solve_frame(seq, i, None, config), wcs_dir, solved_here=True))
            if progress:
                progress(k, len(todo))
    return results


def _solve_frame(seq: FrameSequence, i: int, image: np.ndarray | None, config: SolveConfig) -> Solution:
    frame = seq[i]
    xy, flux = star_list(frame.clean if image is None else image, frame.invalid if image is None else None,
                         config=config)
    layout = seq.layout(i)
    file_xy = xy * layout.bin + (layout.bin - 1) / 2.0 + np.array([layout.cols[0], layout.rows[0]])
    ny, nx = seq.raw_shape(i)
    scale = seq.plate_scale()
    radec = pointing(seq.raw_header(i))
    return solve_stars(file_xy, flux, nx, ny, scale=None if scale is None else scale / layout.bin,
                       radec=None if radec is None else radec[:2], config=config)


def _write(seq, i, sol: Solution, wcs_dir, *, solved_here: bool, label: str | None = None) -> FrameResult:
    name = seq.names[i]
    if not sol.ok:
        return FrameResult(i, name, None, f"{name}: {sol.reason}", sol.seconds, solved_here)
    path = sidecar_path(seq.ref(i), wcs_dir)
    _write_header(path, sol.header)
    scale = _scale_arcsec(sol.header)
    how = f"solved ({label}, {sol.n_stars} stars)" if label else f"solved ({sol.n_stars} stars)"
    if not solved_here:
        how = f"WCS of the {label or 'solved frame'}"
    return FrameResult(i, name, path, f"{name}: {how} in {sol.seconds:.1f} s, {scale:.3f}\"/px -> {path}",
                       sol.seconds if solved_here else 0.0, solved_here)


def _write_propagated(seq, first: int, i: int, sol: Solution, wcs_dir) -> FrameResult:
    name = seq.names[i]
    if not sol.ok:
        return FrameResult(i, name, None, f"{name}: no solution to propagate ({sol.reason})", 0.0, False)
    times = seq.times
    if times is None:
        raise InputError(f"{seq.path}: stare-mode WCS propagation needs DATE-OBS in the frames")
    t0, t1 = times[first], times[i]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        turned = propagate_stare_wcs(WCS(sol.header), t0, t1)
    header = turned.to_header(relax=True)
    header["WCSNAME"] = ("astrometry.net", "first frame's solution turned with the Earth")
    path = sidecar_path(seq.ref(i), wcs_dir)
    _write_header(path, header)
    return FrameResult(i, name, path, f"{name}: WCS of {seq.names[first]} propagated by "
                                      f"{(t1 - t0).to_value('s'):.0f} s of Earth rotation -> {path}", 0.0, False)


def _write_header(path: Path, header: fits.Header) -> None:
    write_fits_atomic(path, fits.PrimaryHDU(header=header))


def _scale_arcsec(header: fits.Header) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return float(np.mean(proj_plane_pixel_scales(WCS(header).celestial)) * 3600.0)


def compare_wcs(own: WCS, solved: WCS, shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Separations (arcsec) of ``solved`` from ``own`` on a 5 x 5 pixel grid, as given; the
    pixel shift (dx, dy) that best maps the solution onto ``own``; and the separations after it.

    A cut-out whose header kept its parent frame's WCS (CRPIX not moved) disagrees by the
    cut-out's offset; the shift shows it, and the residual after it is the solve's accuracy.
    """
    ny, nx = shape
    gx, gy = (g.ravel() for g in np.meshgrid(np.linspace(0, nx - 1, 5), np.linspace(0, ny - 1, 5)))
    ra, dec = solved.all_pix2world(gx, gy, 0)
    as_given = _separation(own.all_pix2world(gx, gy, 0), (ra, dec))
    px, py = own.all_world2pix(ra, dec, 0)
    shift = np.array([np.median(px - gx), np.median(py - gy)])
    shifted = _separation(own.all_pix2world(gx + shift[0], gy + shift[1], 0), (ra, dec))
    return as_given, shift, shifted


def _separation(a, b) -> np.ndarray:
    r1, d1, r2, d2 = (np.radians(np.asarray(v, float)) for v in (*a, *b))
    c = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(r1 - r2)
    return np.degrees(np.arccos(np.clip(c, -1, 1))) * 3600.0
