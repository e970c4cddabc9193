"""FITS image sequences, read lazily.

A sequence is any of (DESIGN.md "Sequences on disk"):

- a folder of 2-D FITS files (or a simulated ``<sequence>/`` folder: its ``frames/`` is read);
- one FITS file holding a 3-D cube, frames on the first axis;
- a multi-extension FITS file with one 2-D image per extension.

Opening a sequence reads headers only; pixels are read one frame at a time when a frame is
asked for, so a night of 4096x4096 frames never sits in memory at once. Frames are sorted by
``DATE-OBS`` when every frame has one, else kept in file-name (or plane/extension) order.

Science images are told from auxiliary ones by ``EXTNAME``/``EXTTYPE``: extensions named
MASK, VARIANCE, WEIGHT, ERR, DQ and the like are skipped (LSST/DECam ``calexp`` files keep
image, mask and variance in one file; they are one frame, not three).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from ..errors import InputError
from .masks import bad_pixel_mask, invalid_mask
from .times import exposure_time, mid_time, start_time

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.fz", ".fits.gz", ".fit.gz")
AUX_EXTNAMES = {"MASK", "VARIANCE", "VAR", "WEIGHT", "WHT", "ERR", "ERROR", "SIGMA", "DQ",
                "BPM", "FLAGS", "IVAR", "INVVAR", "UNCERT", "EXPMAP", "CONF"}
# Keywords that describe an HDU's structure and must not be inherited from the primary header.
_STRUCTURAL = {"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "EXTEND", "XTENSION",
               "PCOUNT", "GCOUNT", "BSCALE", "BZERO", "BLANK", "EXTNAME", "EXTVER", "INHERIT",
               "CHECKSUM", "DATASUM", "TFIELDS", "ZIMAGE"}
CADENCE_KEYS = ("CADENCE", "DELTAT", "FRAMETIM", "INTTIME")


def is_fits_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(FITS_SUFFIXES)


@dataclass(frozen=True)
class FrameRef:
    """Where one frame's pixels live: a file, an HDU index, and a plane of a cube (or None)."""

    path: Path
    hdu: int
    plane: int | None
    name: str


@dataclass
class Frame:
    """One frame: pixels (float32, (ny, nx)), its header and time, read on demand.

    ``data`` is the raw image (NaN where the file had NaN or inf). ``mask`` is True on bad
    pixels (non-finite, dead blocks of exact zeros, saturated). ``clean`` replaces the
    invalid pixels (non-finite and dead) with the median of the valid ones, and keeps
    saturated pixels at their value: they are real bright signal, only not linear.
    """

    index: int
    name: str
    data: np.ndarray
    header: fits.Header
    time: Time | None

    @cached_property
    def invalid(self) -> np.ndarray:
        return invalid_mask(self.data)

    @cached_property
    def mask(self) -> np.ndarray:
        level = self.header.get("SATURATE")
        try:
            level = float(level) if level is not None else None
        except (TypeError, ValueError):
            level = None
        return bad_pixel_mask(self.data, saturation=level) | self.invalid

    @cached_property
    def clean(self) -> np.ndarray:
        bad = self.invalid
        if not bad.any():
            return self.data
        good = self.data[~bad]
        fill = np.float32(np.median(good)) if good.size else np.float32(0.0)
        out = self.data.copy()
        out[bad] = fill
        return out


class FrameSequence:
    """A lazily read, time-ordered sequence of same-shaped 2-D frames.

    Build it with :func:`open_sequence`. ``seq[i]`` and iteration read one frame at a time.
    """

    def __init__(self, path: Path, refs: list[FrameRef], headers: list[fits.Header],
                 shape: tuple[int, int], times: list[Time | None]):
        self.path = path
        self._refs = refs
        self._headers = headers
        self.shape = shape
        self._times = times

    def __len__(self) -> int:
        return len(self._refs)

    def __repr__(self) -> str:
        return f"FrameSequence({str(self.path)!r}, frames={len(self)}, shape={self.shape})"

    @property
    def names(self) -> list[str]:
        return [r.name for r in self._refs]

    @property
    def times(self) -> Time | None:
        """Frame mid-times (UTC) as one Time array, or None when any frame lacks a time."""
        if not self._times or any(t is None for t in self._times):
            return None
        return Time([t.utc.isot for t in self._times], format="isot", scale="utc")

    def header(self, i: int) -> fits.Header:
        return self._headers[i]

    def exptime(self, i: int) -> float | None:
        return exposure_time(self._headers[i])

    def wcs(self, i: int) -> WCS | None:
        """The frame's celestial WCS, or None when the header has none."""
        header = self._headers[i]
        if not str(header.get("CTYPE1", "")).strip():
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            try:
                wcs = WCS(header, naxis=2)
            except Exception:  # astropy raises several types on malformed WCS keywords
                return None
        return wcs if wcs.has_celestial else None

    def plate_scale(self) -> float | None:
        """Plate scale in arcsec/px from the first frame's WCS, else the PIXSCALE keyword.

        The WCS comes first: archives use PIXSCALE for unbinned or nominal scales.
        """
        wcs = self.wcs(0)
        if wcs is not None:
            scales = proj_plane_pixel_scales(wcs.celestial)
            if np.all(np.isfinite(scales)) and np.all(scales > 0):
                return float(np.mean(scales) * 3600.0)
        header = self._headers[0]
        for key in ("PIXSCALE", "PIXSCAL1", "SECPIX"):
            value = header.get(key)
            if isinstance(value, (int, float)) and value > 0:
                return float(value)
        return None

    def cadence(self) -> float | None:
        """Time between exposure starts, s: the median of the positive steps of the frame
        times, or None when the frames have no times (or one frame)."""
        times = self.times
        if times is None or len(times) < 2:
            return None
        steps = np.diff(times.unix)
        steps = steps[steps > 0]
        return float(np.median(steps)) if steps.size else None

    def pointing_dec(self) -> float | None:
        """Declination of the pointing, deg: the first frame's WCS CRVAL, else the CRVAL2,
        DEC, OBJCTDEC or TELDEC keyword; None when none is given."""
        wcs = self.wcs(0)
        if wcs is not None:
            cel = wcs.celestial.wcs
            dec = float(cel.crval[cel.lat])
            if math.isfinite(dec):
                return dec
        header = self._headers[0]
        for key in ("CRVAL2", "DEC", "OBJCTDEC", "TELDEC"):
            value = header.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                return float(value)
        return None

    def require(self, n: int, why: str) -> None:
        """Raise InputError unless the sequence has at least ``n`` frames."""
        if len(self) < n:
            raise InputError(f"{self.path}: {len(self)} frame(s); {why}")

    def __getitem__(self, i: int) -> Frame:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        ref = self._refs[i]
        data = _read_pixels(ref)
        if data.shape != self.shape:
            raise InputError(f"{ref.path}: frame shape {_fmt(data.shape)} differs from {_fmt(self.shape)}")
        return Frame(index=i, name=ref.name, data=data, header=self._headers[i], time=self._times[i])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def _fmt(shape) -> str:
    return "x".join(str(s) for s in shape[::-1]) + " (nx x ny)"


def _read_pixels(ref: FrameRef) -> np.ndarray:
    where = ref.path if ref.hdu == 0 and ref.plane is None else f"{ref.path} ({ref.name})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                data = _load(ref, memmap=True)
            except ValueError:  # scaled integer images (BZERO/BLANK) cannot be memory-mapped
                data = _load(ref, memmap=False)
    except (OSError, TypeError, ValueError, IndexError) as exc:
        raise InputError(f"{where}: cannot read pixels ({exc})") from None
    with np.errstate(invalid="ignore"):
        data[~np.isfinite(data)] = np.nan
    return data


def _load(ref: FrameRef, *, memmap: bool) -> np.ndarray:
    with fits.open(ref.path, memmap=memmap) as hdul:
        hdu = hdul[ref.hdu]
        raw = hdu.section[ref.plane] if ref.plane is not None else hdu.data
        return np.array(raw, dtype=np.float32)


def _check_not_truncated(path: Path, hdul: fits.HDUList) -> None:
    size = path.stat().st_size
    if path.name.lower().endswith((".gz", ".fz")):
        return  # compressed: astropy reports truncation when the pixels are read
    for i, hdu in enumerate(hdul):
        header = hdu.header
        naxis = header.get("NAXIS", 0)
        if not naxis:
            continue
        nbytes = abs(header.get("BITPIX", 8)) // 8 * header.get("GCOUNT", 1) * (
            header.get("PCOUNT", 0) + int(np.prod([header.get(f"NAXIS{k}", 0) for k in range(1, naxis + 1)])))
        info = hdu.fileinfo()
        if info and info["datLoc"] + nbytes > size:
            raise InputError(
                f"{path}: truncated file: HDU {i} needs {info['datLoc'] + nbytes} bytes, the file has {size}")


def _merged_header(primary: fits.Header, ext: fits.Header | None) -> fits.Header:
    if ext is None:
        return primary.copy()
    merged = fits.Header()
    for card in primary.cards:
        if card.keyword not in _STRUCTURAL and card.keyword not in ("COMMENT", "HISTORY", ""):
            merged[card.keyword] = (card.value, card.comment)
    for card in ext.cards:
        if card.keyword not in ("COMMENT", "HISTORY", ""):
            merged[card.keyword] = (card.value, card.comment)
    return merged


def _scan_file(path: Path) -> list[tuple[FrameRef, fits.Header, tuple[int, int]]]:
    """Frames held by one file: (reference, merged header, (ny, nx)) for each."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=True) as hdul:
                hdul.readall()
                _check_not_truncated(path, hdul)
                return _frames_in(path, hdul)
    except InputError:
        raise
    except (OSError, TypeError, ValueError, IndexError, KeyError) as exc:
        msg = str(exc).split(". ")[0].rstrip(".")
        raise InputError(f"{path}: not a readable FITS file ({msg})") from None


def _frames_in(path: Path, hdul: fits.HDUList):
    primary = hdul[0].header
    images = []
    for i, hdu in enumerate(hdul):
        if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
            continue
        shape = tuple(int(s) for s in (hdu.shape or ()))
        if len(shape) < 2 or 0 in shape:
            continue
        name = str(hdu.header.get("EXTNAME", hdu.header.get("EXTTYPE", ""))).strip().upper()
        kind = str(hdu.header.get("EXTTYPE", "")).strip().upper()
        if name in AUX_EXTNAMES or kind in AUX_EXTNAMES:
            continue
        images.append((i, hdu, shape))
    if not images:
        raise InputError(f"{path}: no image HDU (only empty or table HDUs)")
    out = []
    multi = len(images) > 1
    for i, hdu, shape in images:
        header = _merged_header(primary, hdu.header if i > 0 else None)
        if len(shape) == 2:
            label = f"{path.name}[{i}]" if multi or i > 0 else path.name
            out.append((FrameRef(path, i, None, label), header, shape))
        elif len(shape) == 3:
            out.extend(_cube_planes(path, i, header, shape))
        else:
            raise InputError(f"{path}: HDU {i} has {len(shape)} axes; expected a 2-D image or a 3-D cube")
    return out


def _cube_planes(path: Path, hdu_index: int, header: fits.Header, shape):
    """One frame per plane of a cube; plane k starts at DATE-OBS + k x cadence when known."""
    start = start_time(header)
    exptime = exposure_time(header)
    cadence = next((float(header[k]) for k in CADENCE_KEYS if isinstance(header.get(k), (int, float))), None)
    if cadence is None and exptime:
        cadence = None  # frames could have gaps: without a cadence keyword we do not guess
    planes = []
    for k in range(shape[0]):
        h = header.copy()
        for key in ("NAXIS3", "CTYPE3", "CRVAL3", "CRPIX3", "CDELT3", "CUNIT3"):
            h.remove(key, ignore_missing=True)
        h["NAXIS"] = 2
        if k > 0:
            h.remove("DATE-OBS", ignore_missing=True)
            h.remove("MJD-OBS", ignore_missing=True)
            if start is not None and cadence is not None:
                h["DATE-OBS"] = (start + TimeDelta(k * cadence, format="sec")).utc.isot
        planes.append((FrameRef(path, hdu_index, k, f"{path.name}[{hdu_index}][{k}]"), h, shape[1:]))
    return planes


def _files_in(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if is_fits_file(p)), key=lambda p: p.name)


def open_sequence(path: str | os.PathLike) -> FrameSequence:
    """Open a sequence: a folder of FITS frames, a ``<sequence>/frames/`` folder, a cube or a MEF.

    Raises
    ------
    InputError
        naming the file for: a missing path, an empty folder, a non-FITS or truncated file, a
        file with no image HDU, frames of different shapes.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        folder = path / "frames" if (path / "frames").is_dir() else path
        files = _files_in(folder)
        if not files:
            raise InputError(f"{folder}: no FITS files in this folder (looked for {', '.join(FITS_SUFFIXES)})")
    else:
        files = [path]
    entries = []
    for f in files:
        entries.extend(_scan_file(f))
    shape = entries[0][2]
    for ref, _, s in entries:
        if s != shape:
            raise InputError(f"{ref.path}: frame shape {_fmt(s)} differs from {_fmt(shape)} of {entries[0][0].path}")
    times = [mid_time(h) for _, h, _ in entries]
    if all(t is not None for t in times):
        order = sorted(range(len(entries)), key=lambda k: (times[k].utc.jd1, times[k].utc.jd2, k))
        entries = [entries[k] for k in order]
        times = [times[k] for k in order]
    refs = [e[0] for e in entries]
    headers = [e[1] for e in entries]
    return FrameSequence(path, refs, headers, shape, times)


def find_sequences(root: str | os.PathLike) -> list[Path]:
    """Every sequence under ``root``, sorted.

    ``root`` itself is returned when it is a sequence (a FITS file, a folder of FITS files, or
    a folder with ``frames/``); otherwise every folder below it that has a ``frames/`` folder.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: no such file or folder")
    if root.is_file() or (root / "frames").is_dir() or _files_in(root):
        return [root]
    found = sorted(p.parent for p in root.rglob("frames") if p.is_dir())
    if not found:
        raise InputError(f"{root}: no FITS sequence here (no FITS files, no <sequence>/frames/ folders)")
    return found
