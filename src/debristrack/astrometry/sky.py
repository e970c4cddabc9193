"""Pixel to sky: ``time``, ``ra``, ``dec`` columns for a tracks table.

Pixel convention: 0-based, the centre of the first pixel is (0, 0) (astropy ``origin=0``).
Every row gets the times of the exposure it was measured on: ``time`` (mid-exposure, ISO UTC),
``time_start`` and ``time_end`` (the exposure's start and end, :mod:`debristrack.io.times`:
DATE-OBS, DATE-AVG/DATE-END when the header has them, plus ``--time-offset``). Points get
``ra``, ``dec`` (ICRS degrees). Streaks get ``ra1, dec1, ra2, dec2`` for the two endpoints and
``time1``/``time2``: a streak is the object's path over the exposure, so one end was passed at
the exposure's start and the other at its end. Which is which cannot be told from one frame;
the track's motion over the neighbouring frames tells it (:func:`streak_end_times`); for a
streak seen in one frame only, ``time1``/``time2`` are empty.

A WCS can come from each frame's header, or from a file solved elsewhere (astrometry.net's
``.wcs``) applied to the whole sequence. In ``stare`` mode a single solution is propagated to
later frames by the Earth's rotation, see :func:`propagate_stare_wcs`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS

from ..errors import InputError, one_line
from ..io.sequence import FrameSequence
from ..io.tables import table_kind
from ..io.times import exposure_time, start_time
from ..io.wcs import read_wcs

# Earth rotation rate relative to the ICRS: 1.00273781191135448 turns per UT1 day (IERS).
SIDEREAL_DEG_PER_S = 360.0 * 1.00273781191135448 / 86400.0


def load_wcs_file(path: str | Path) -> tuple[WCS, fits.Header]:
    """Read a WCS solved elsewhere: a FITS file or header-only ``.wcs`` file (astrometry.net).

    Raises InputError when the file cannot be read or holds no celestial WCS.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such WCS file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = fits.getheader(path, 0)
    except Exception as exc:  # astropy raises several types for malformed headers
        raise InputError(f"{path}: cannot read a FITS header ({one_line(exc)})") from None
    wcs, why = read_wcs(header)
    if wcs is None:
        raise InputError(f"{path}: " + (f"cannot read the WCS: {why}" if why else "no celestial WCS (CTYPE1/CTYPE2 missing)"))
    return wcs, header


def propagate_stare_wcs(wcs: WCS, t0: Time, t1: Time) -> WCS:
    """The WCS of a telescope fixed to the Earth at ``t1``, from its solution at ``t0``.

    A pixel's direction is fixed in the Earth's frame, and the Earth turns about the
    celestial intermediate pole (CIP) by the Earth rotation angle, 15.041 arcsec per second
    of time. In the CIRS frame of date that turn is a pure change of right ascension, so the
    field centre and a point 0.1 deg north of it are taken to CIRS at ``t0``, turned by the
    rotation angle, read back in ICRS at ``t1``; the new WCS has the moved centre as CRVAL
    and its CD matrix turned by the change of position angle. Pixel-space distortions (SIP)
    are kept as they are.

    The error, measured against astropy's alt-az transformation (``debristrack bench
    astrometry``): none at the field centre; at the corners of a 10-degree field, 0.2 arcsec
    after 20 minutes and 0.6 arcsec after an hour (aberration differs across a wide field,
    which one rigid turn cannot follow exactly). Not modelled: the change of
    refraction (none: each pixel keeps its altitude), and mount flexure or thermal drift of a
    real telescope, which are usually larger: re-solve every hour for sub-arcsecond work.
    (Shifting CRVAL1 alone, i.e. turning about the ICRS pole, would be off by about 30
    arcsec after 20 minutes in 2024, from 24 years of precession of the pole.)
    """
    import astropy.units as u
    from astropy.coordinates import CIRS, SkyCoord

    dt = (t1 - t0).to_value("s")
    centre = SkyCoord(wcs.wcs.crval[0] * u.deg, wcs.wcs.crval[1] * u.deg, frame="icrs")
    north = centre.directional_offset_by(0 * u.deg, 0.1 * u.deg)
    points = SkyCoord([centre.ra, north.ra], [centre.dec, north.dec], frame="icrs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IERS table age warnings: the ERA rate needs none of it
        cirs = points.transform_to(CIRS(obstime=t0))
        turned = SkyCoord(cirs.ra + SIDEREAL_DEG_PER_S * dt * u.deg, cirs.dec, frame=CIRS(obstime=t1)).icrs
    dpa = np.radians(turned[0].position_angle(turned[1]).deg - centre.position_angle(north).deg)
    rot = np.array([[np.cos(dpa), np.sin(dpa)], [-np.sin(dpa), np.cos(dpa)]])
    out = wcs.deepcopy()
    cd = wcs.pixel_scale_matrix
    out.wcs.cdelt = [1.0, 1.0]
    out.wcs.pc = rot @ cd
    out.wcs.crval = [turned[0].ra.deg, turned[0].dec.deg]
    out.wcs.set()
    return out


@dataclass
class WcsSource:
    """Where each frame's WCS comes from: the frames' own headers, or one external solution."""

    seq: FrameSequence
    external: WCS | None = None
    external_time: Time | None = None  # the moment the external solution holds (stare mode)
    stare: bool = False
    _cache: dict = field(default_factory=dict, repr=False)

    def __call__(self, i: int) -> WCS | None:
        if self.external is None:
            return self.seq.wcs(i)
        if not self.stare:
            return self.external
        t = _frame_mid_time(self.seq, i)
        if t is None or self.external_time is None:
            raise InputError(f"{self.seq.path}: stare-mode WCS propagation needs DATE-OBS in the frames")
        if i not in self._cache:
            self._cache[i] = propagate_stare_wcs(self.external, self.external_time, t)
        return self._cache[i]


def wcs_source(seq: FrameSequence, *, wcs_file: str | Path | None = None, mode: str | None = None) -> WcsSource:
    """The WCS provider for a sequence; ``wcs_file`` overrides the headers.

    In ``stare`` mode the file's solution is taken to hold at its own DATE-OBS (plus
    EXPTIME/2) when it has one, else at the first frame's mid-time, and is propagated to the
    other frames by :func:`propagate_stare_wcs`.
    """
    if wcs_file is None:
        return WcsSource(seq)
    wcs, header = load_wcs_file(wcs_file)
    when = None
    if mode == "stare":
        start = start_time(header)
        if start is not None:
            when = start + TimeDelta((exposure_time(header) or 0.0) / 2, format="sec")
        else:
            when = _frame_mid_time(seq, 0)
    return WcsSource(seq, external=wcs, external_time=when, stare=mode == "stare")


def _frame_mid_time(seq: FrameSequence, i: int) -> Time | None:
    times = seq.times
    return None if times is None else times[i]


def streak_end_times(table: Table) -> np.ndarray:
    """Per streak row: +1 when endpoint 1 was passed at the exposure's start, -1 when at its end,
    0 when unknown (a track seen in one frame, or rows without an ``id``).

    The object moves the same way within an exposure as between exposures: the track's motion
    is the shift of its streak midpoints from its first to its last frame, and the end that
    lies behind along that motion was passed first.
    """
    out = np.zeros(len(table), int)
    if "id" not in table.colnames:
        return out
    frames = np.asarray(table["frame"], int)
    ids = np.asarray(table["id"])
    p1 = np.column_stack([np.asarray(table["x1"], float), np.asarray(table["y1"], float)])
    p2 = np.column_stack([np.asarray(table["x2"], float), np.asarray(table["y2"], float)])
    mid = (p1 + p2) / 2
    ok = np.isfinite(mid).all(axis=1)
    for track in np.unique(ids):
        rows = np.flatnonzero((ids == track) & ok)
        if len(np.unique(frames[rows])) < 2:
            continue
        first, last = rows[np.argmin(frames[rows])], rows[np.argmax(frames[rows])]
        motion = mid[last] - mid[first]
        along = (p2[rows] - p1[rows]) @ motion
        out[rows] = np.where(along > 0, 1, np.where(along < 0, -1, 0))
    return out


def add_sky_columns(table: Table, seq: FrameSequence, *, wcs_for: Callable[[int], WCS | None] | None = None,
                    on_missing: Callable[[str], None] | None = None) -> Table:
    """Return a copy of ``table`` with time and sky-position columns.

    Parameters
    ----------
    table : points or streaks table of this sequence.
    seq : the sequence the table was measured on (frame times and WCS).
    wcs_for : frame index -> WCS or None; default: each frame's header.
    on_missing : called once with a message when some frames have no WCS or no time (the
        columns are then left out, or NaN for those frames when others have a WCS).
    """
    wcs_for = wcs_for or seq.wcs
    out = table.copy()
    n = len(out)
    frames = np.asarray(out["frame"], dtype=int) if n else np.zeros(0, int)
    if n and (frames.min() < 0 or frames.max() >= len(seq)):
        raise InputError(f"{seq.path}: the table has frame {frames.max()} but the sequence has {len(seq)} frames")
    kind = table_kind(out.colnames)

    # Each frame keeps its own time: one bad DATE-OBS blanks that frame's time, not every frame's.
    mids = [seq.frame_time(i) for i in range(len(seq))]
    untimed = [i for i, t in enumerate(mids) if t is None]
    if untimed and on_missing:
        i = untimed[0]
        more = f" (and {len(untimed) - 1} more frame(s))" if len(untimed) > 1 else ""
        what = "no time column" if len(untimed) == len(seq) else "its time is left empty"
        on_missing(f"{seq.frame_path(i)} ({seq.names[i]}): {seq.time_problem(i)}{more}: {what}")
    if len(untimed) < len(seq):
        mid_s, starts, ends = [""] * len(seq), [""] * len(seq), [""] * len(seq)
        for i, t in enumerate(mids):
            if t is None:
                continue
            start, end = seq.start_time(i), seq.end_time(i)
            if start is None or end is None:  # a frame timed by a cube's cadence only
                half = TimeDelta((seq.exptime(i) or 0.0) / 2, format="sec")
                start, end = t - half, t + half
            mid_s[i], starts[i], ends[i] = t.utc.isot, start.utc.isot, end.utc.isot
        out["time"] = np.array([mid_s[f] for f in frames], dtype="U23") if n else np.zeros(0, "U23")
        out["time_start"] = np.array([starts[f] for f in frames], dtype="U23") if n else np.zeros(0, "U23")
        out["time_end"] = np.array([ends[f] for f in frames], dtype="U23") if n else np.zeros(0, "U23")
        if kind == "streak":
            first = streak_end_times(out) if n else np.zeros(0, int)
            out["time1"] = np.array([("" if k == 0 else starts[f] if k > 0 else ends[f]) for f, k in zip(frames, first)],
                                    dtype="U23") if n else np.zeros(0, "U23")
            out["time2"] = np.array([("" if k == 0 else ends[f] if k > 0 else starts[f]) for f, k in zip(frames, first)],
                                    dtype="U23") if n else np.zeros(0, "U23")

    wcs_list = [wcs_for(i) for i in range(len(seq))]
    missing = [i for i, w in enumerate(wcs_list) if w is None]
    broken = [(i, seq.wcs_problem(i)) for i in missing if seq.wcs_problem(i)]
    if broken and on_missing:  # wrong metadata is named, not reported as missing
        i, why = broken[0]
        on_missing(f"{seq.frame_path(i)} ({seq.names[i]}): WCS cannot be read: {why}"
                   + (f" (and {len(broken) - 1} more frame(s))" if len(broken) > 1 else ""))
    if len(missing) == len(seq):
        if on_missing:
            what = "have no readable WCS" if broken else "have no WCS"
            on_missing(f"{seq.path}: frames {what}: no ra/dec columns (give one with --wcs FILE)")
        return out
    if missing and on_missing:
        on_missing(f"{seq.path}: {len(missing)} frame(s) have no WCS: their ra/dec are NaN")
    pairs = (("x1", "y1", "ra1", "dec1"), ("x2", "y2", "ra2", "dec2")) if kind == "streak" else (("x", "y", "ra", "dec"),)
    for xc, yc, rc, dc in pairs:
        ra = np.full(n, np.nan)
        dec = np.full(n, np.nan)
        x = np.asarray(out[xc], dtype=float)
        y = np.asarray(out[yc], dtype=float)
        for f in np.unique(frames):
            w = wcs_list[f]
            if w is None:
                continue
            rows = frames == f
            ra[rows], dec[rows] = w.all_pix2world(x[rows], y[rows], 0)
        out[rc] = ra
        out[dc] = dec
    return out
