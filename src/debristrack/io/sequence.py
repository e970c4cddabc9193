"""FITS image sequences, read lazily.

A sequence is any of (DESIGN.md "Sequences on disk"):

- a folder of 2-D FITS files (or a simulated ``<sequence>/`` folder: its ``frames/`` is read);
- one FITS file holding a 3-D cube, frames on the first axis;
- a multi-extension FITS file with one 2-D image per extension.

Opening a sequence reads headers only; pixels are read one frame at a time when a frame is
asked for, so a night of 4096x4096 frames never sits in memory at once. Frames are sorted by
``DATE-OBS`` when every frame has one, else kept in file-name (or plane/extension) order.

Raw frames are laid out as their headers say (:mod:`debristrack.io.raw`): overscan
(``BIASSEC``) subtracted, cropped to ``TRIMSEC``/``DATASEC``, colour-filter-array frames
(``BAYERPAT``) binned 2 x 2 to luminance, and frames of slightly different sizes cropped to
their common area, with one note each in ``FrameSequence.notes``.

Science images are told from auxiliary ones by ``EXTNAME``/``EXTTYPE``: extensions named
MASK, VARIANCE, WEIGHT, ERR, DQ and the like are skipped (LSST/DECam ``calexp`` files keep
image, mask and variance in one file; they are one frame, not three).
"""

from __future__ import annotations

import gzip
import math
import os
import warnings
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from ..errors import InputError, one_line
from ..progress import say
from .calibrate import Calibration, load_calibration
from .header import plate_scale as header_plate_scale
from .header import pointing as header_pointing
from .header import wcs_kind
from .masks import invalid_mask, saturation_mask
from .raw import Layout, apply_layout, cfa_pattern, common_area, layout_header, plan_layout
from .times import end_time, exposure_time, mid_time, start_time, time_problem
from .wcs import read_wcs

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.fz", ".fits.gz", ".fit.gz")
AUX_EXTNAMES = {"MASK", "VARIANCE", "VAR", "WEIGHT", "WHT", "ERR", "ERROR", "SIGMA", "DQ",
                "BPM", "FLAGS", "IVAR", "INVVAR", "UNCERT", "EXPMAP", "CONF"}
# Keywords that describe an HDU's structure and must not be inherited from the primary header.
_STRUCTURAL = {"SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "EXTEND", "XTENSION",
               "PCOUNT", "GCOUNT", "BSCALE", "BZERO", "BLANK", "EXTNAME", "EXTVER", "INHERIT",
               "CHECKSUM", "DATASUM", "TFIELDS", "ZIMAGE"}
CADENCE_KEYS = ("CADENCE", "DELTAT", "FRAMETIM", "INTTIME")
CCD_NAME_KEYS = ("EXTNAME", "CCDNAME", "DETPOS", "CCDNUM", "IMAGEID")
# A sidecar WCS (``<frame>.wcs``, astrometry.net's convention) replaces these header keywords.
_WCS_KEY_PREFIXES = ("CTYPE", "CRVAL", "CRPIX", "CDELT", "CUNIT", "CROTA", "CD1_", "CD2_", "PC1_", "PC2_", "PV1_",
                     "PV2_", "A_", "B_", "AP_", "BP_")
_WCS_KEYS = {"WCSAXES", "LONPOLE", "LATPOLE", "RADESYS", "RADECSYS", "EQUINOX", "WCSNAME", "IMAGEW", "IMAGEH"}


@dataclass(frozen=True)
class FrameRef:
    """Where one frame's pixels live: a file, an HDU index, and a plane of a cube (or None);
    ``ccd``: the CCD's name when the HDU is one CCD of a mosaic exposure."""

    path: Path
    hdu: int
    plane: int | None
    name: str
    ccd: str | None = None


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
        # io.masks.bad_pixel_mask, reusing the invalid pixels already found for ``clean``
        return saturation_mask(self.data, level=level) | self.invalid

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
                 shape: tuple[int, int], times: list[Time | None], *,
                 layouts: list[Layout] | None = None, notes: list[str] | None = None, time_offset: float = 0.0,
                 calibration: Calibration | None = None, raw: list | None = None, ccd: str | None = None):
        self.path = path
        self.ccd = ccd  # the CCD of a mosaic this sequence is made of, or None
        self.calibration = calibration
        self._raw = raw  # (header, shape) of each frame as in its file (with its sidecar WCS)
        self.time_offset = time_offset  # seconds added to every header time (shutter latency)
        self._refs = refs
        self._headers = headers
        self.shape = shape
        self._times = times
        self._wcs_problems: dict[int, str | None] = {}
        self._layouts = layouts
        self.notes = notes or []  # one line each: what was done to the frames on reading

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

    def frame_path(self, i: int) -> Path:
        """The file that holds frame ``i``."""
        return self._refs[i].path

    def frame_time(self, i: int) -> Time | None:
        """Frame ``i``'s mid-time (UTC), or None when its header gives none (see :meth:`time_problem`)."""
        return self._times[i]

    def time_problem(self, i: int) -> str | None:
        """Why frame ``i`` has no time ("DATE-OBS='...' is not ..."), None when it has one."""
        return time_problem(self._headers[i])

    def start_time(self, i: int) -> Time | None:
        """Start of frame ``i``'s exposure (UTC, with the time offset), or None."""
        return start_time(self._headers[i], self.time_offset)

    def end_time(self, i: int) -> Time | None:
        """End of frame ``i``'s exposure (UTC, with the time offset), or None."""
        return end_time(self._headers[i], self.time_offset)

    def header(self, i: int) -> fits.Header:
        return self._headers[i]

    def ref(self, i: int) -> FrameRef:
        return self._refs[i]

    def layout(self, i: int) -> Layout:
        """How frame ``i``'s file pixels became the frame (crop, overscan, binning)."""
        return self._layouts[i] if self._layouts is not None else Layout((0, self.shape[0]), (0, self.shape[1]))

    def raw_header(self, i: int) -> fits.Header:
        """Frame ``i``'s header as in its file (with a sidecar WCS), before the layout."""
        return self._raw[i][0] if self._raw is not None else self._headers[i]

    def raw_shape(self, i: int) -> tuple[int, int]:
        """Frame ``i``'s (ny, nx) in its file, before the layout."""
        return self._raw[i][1] if self._raw is not None else self.shape

    def exptime(self, i: int) -> float | None:
        return exposure_time(self._headers[i])

    def wcs(self, i: int) -> WCS | None:
        """The frame's celestial WCS, or None when the header has none or one that cannot be read.

        Why a WCS could not be read is kept in :meth:`wcs_problem`.
        """
        wcs, self._wcs_problems[i] = read_wcs(self._headers[i])
        return wcs

    def wcs_problem(self, i: int) -> str | None:
        """Why frame ``i``'s WCS keywords could not be read ("CUNIT1 ..."), None if they could or are absent."""
        if i not in self._wcs_problems:
            self.wcs(i)
        return self._wcs_problems[i]

    def plate_scale(self) -> float | None:
        """Plate scale in arcsec/px from the first frame's WCS, else the header's scale keywords
        or pixel size over focal length (:func:`debristrack.io.header.plate_scale`).

        The WCS comes first: archives use PIXSCALE for unbinned or nominal scales.
        """
        wcs = self.wcs(0)
        if wcs is not None:
            scales = proj_plane_pixel_scales(wcs.celestial)
            if np.all(np.isfinite(scales)) and np.all(scales > 0):
                return float(np.mean(scales) * 3600.0)
        return header_plate_scale(self._headers[0])

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
        """Declination of the pointing, deg: the first frame's WCS CRVAL, else CRVAL2, else the
        header's pointing (:func:`debristrack.io.header.pointing`: OBJCTDEC, DEC, TELDEC as numbers
        or 'd m s' text); None when none is given."""
        wcs = self.wcs(0)
        if wcs is not None:
            cel = wcs.celestial.wcs
            dec = float(cel.crval[cel.lat])
            if math.isfinite(dec):
                return dec
        header = self._headers[0]
        value = header.get("CRVAL2")
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        where = header_pointing(header)
        return None if where is None else where[1]

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
        header = self._headers[i]
        if self._layouts is not None:
            layout = self._layouts[i]
            if layout.rows[1] > data.shape[0] or layout.cols[1] > data.shape[1]:
                raise InputError(f"{ref.path}: frame shape {_fmt(data.shape)} is not what its header says")
            data, bias = apply_layout(data, layout)
            if bias and isinstance(header.get("SATURATE"), (int, float)):
                header = header.copy()
                header["SATURATE"] = float(header["SATURATE"]) - bias  # the level is in raw ADU
        if data.shape != self.shape:
            raise InputError(f"{ref.path}: frame shape {_fmt(data.shape)} differs from {_fmt(self.shape)}")
        if self.calibration is not None:
            data = self.calibration.apply(data)
        return Frame(index=i, name=ref.name, data=data, header=header, time=self._times[i])

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
    except (OSError, TypeError, ValueError, IndexError, EOFError, zlib.error) as exc:
        raise InputError(f"{where}: cannot read pixels ({one_line(exc)})") from None
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


def _check_gzip(path: Path) -> None:
    """Read a ``.gz`` file through once so that its CRC-32 and length are checked.

    astropy decompresses only as far as it needs and never reaches the gzip trailer, so a
    corrupt stream would otherwise be read as garbage pixels.
    """
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: corrupt gzip file ({one_line(exc) or type(exc).__name__})") from None


def _scan_file(path: Path) -> list[tuple[FrameRef, fits.Header, tuple[int, int]]]:
    """Frames held by one file: (reference, merged header, (ny, nx)) for each."""
    if path.name.lower().endswith(".gz"):
        _check_gzip(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=True) as hdul:
                hdul.readall()
                _check_not_truncated(path, hdul)
                return _frames_in(path, hdul)
    except InputError:
        raise
    except (OSError, TypeError, ValueError, IndexError, KeyError, EOFError, zlib.error) as exc:
        msg = str(exc).split(". ")[0].rstrip(".")
        raise InputError(f"{path}: not a readable FITS file ({msg})") from None


def _frames_in(path: Path, hdul: fits.HDUList):
    primary = hdul[0].header
    images = []
    one_d = None
    for i, hdu in enumerate(hdul):
        if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
            continue
        shape = tuple(int(s) for s in (hdu.shape or ()))
        if len(shape) == 1 and shape[0] > 0 and one_d is None:
            one_d = (i, shape[0])
        if len(shape) < 2 or 0 in shape:
            continue
        name = str(hdu.header.get("EXTNAME", hdu.header.get("EXTTYPE", ""))).strip().upper()
        kind = str(hdu.header.get("EXTTYPE", "")).strip().upper()
        if name in AUX_EXTNAMES or kind in AUX_EXTNAMES:
            continue
        images.append((i, hdu, shape))
    if not images and one_d is not None:
        raise InputError(f"{path}: HDU {one_d[0]} is a 1-D array of {one_d[1]} values (a spectrum?); "
                         "expected a 2-D image or a 3-D cube")
    if not images:
        raise InputError(f"{path}: no image HDU (only empty or table HDUs)")
    out = []
    multi = len(images) > 1
    headers = [_merged_header(primary, hdu.header if i > 0 else None) for i, hdu, _ in images]
    ccds = _mosaic_names(images, headers)
    for (i, hdu, shape), header, ccd in zip(images, headers, ccds):
        if len(shape) == 2:
            label = f"{path.name}[{ccd}]" if ccd else f"{path.name}[{i}]" if multi or i > 0 else path.name
            out.append((FrameRef(path, i, None, label, ccd), header, shape))
        elif len(shape) == 3:
            out.extend(_cube_planes(path, i, header, shape))
        else:
            raise InputError(f"{path}: HDU {i} has {len(shape)} axes; expected a 2-D image or a 3-D cube")
    return out


def _mosaic_names(images, headers) -> list[str | None]:
    """CCD names when the image HDUs are CCDs of one exposure (2-D, sharing a start time), else Nones.

    A mosaic camera writes one extension per CCD with the exposure's DATE-OBS in each; a
    time series of frames in one file has a different DATE-OBS per extension (or none).
    """
    none = [None] * len(images)
    if len(images) < 2 or any(len(shape) != 2 for _, _, shape in images):
        return none
    starts = [start_time(h) for h in headers]
    if any(t is None for t in starts) or len({t.isot for t in starts}) == len(starts):
        return none
    names = []
    for (i, _, _), h in zip(images, headers):
        name = next((str(h[k]).strip() for k in CCD_NAME_KEYS if str(h.get(k, "")).strip()), f"HDU{i}")
        names.append(name)
    for k, (t, name) in enumerate(zip(starts, names)):  # the same name twice in one exposure: add the HDU
        if sum(1 for t2, n2 in zip(starts, names) if n2 == name and t2.isot == t.isot) > 1:
            names[k] = f"{name}.{images[k][0]}"
    return names


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
        for key in ("DATE-BEG", "DATE-AVG", "DATE-END", "MIDPOINT", "MJD-BEG", "MJD-AVG", "MJD-END"):
            h.remove(key, ignore_missing=True)  # they describe the whole cube, not one plane
        if k > 0:
            h.remove("DATE-OBS", ignore_missing=True)
            h.remove("MJD-OBS", ignore_missing=True)
            if start is not None and cadence is not None:
                h["DATE-OBS"] = (start + TimeDelta(k * cadence, format="sec")).utc.isot
        planes.append((FrameRef(path, hdu_index, k, f"{path.name}[{hdu_index}][{k}]"), h, shape[1:]))
    return planes


def is_fits_file(path: Path) -> bool:
    """A regular file with a FITS name that is not a macOS AppleDouble (``._``) companion."""
    return path.is_file() and path.name.lower().endswith(FITS_SUFFIXES) and not path.name.startswith("._")


def _files_in(folder: Path, *, report: bool = False) -> list[Path]:
    """The FITS files of a folder by name; with ``report``, a note for each FITS-named entry skipped."""
    files = []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if not p.name.lower().endswith(FITS_SUFFIXES):
            continue
        if p.name.startswith("._"):  # macOS AppleDouble: the resource fork copied beside f.fits
            why = "a macOS AppleDouble (._) file, not an image"
        elif p.is_symlink() and not p.exists():
            why = f"a broken symbolic link (to {os.readlink(p)})"
        elif not p.is_file():
            why = "not a regular file"
        else:
            files.append(p)
            continue
        if report:
            say(f"{p}: skipped: {why}")
    return files


def sequence_files(path: str | os.PathLike, *, report: bool = True) -> list[Path]:
    """The FITS files of a sequence (a folder, ``<sequence>/frames/`` or one file), in name order;
    with ``report``, a note for each FITS-named file skipped (AppleDouble, broken link)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if not path.is_dir():
        return [path]
    folder = path / "frames" if (path / "frames").is_dir() else path
    files = _files_in(folder, report=report)
    if not files:
        raise InputError(f"{folder}: no FITS files in this folder (looked for {', '.join(FITS_SUFFIXES)})")
    return files


def _scan_path(path: Path, *, report: bool = True) -> list:
    files = sequence_files(path, report=report)
    entries = []
    for f in files:
        entries.extend(_scan_file(f))
    return entries


def mosaic_ccds(path: str | os.PathLike) -> list[str]:
    """The CCD names when ``path`` holds mosaic exposures (extensions sharing one DATE-OBS), else [].

    Each CCD is its own sequence: ``open_sequence(path, ccd=NAME)``.
    """
    return sorted({ref.ccd for ref, _, _ in _scan_path(Path(path), report=False)} - {None})


def sidecar_path(ref: FrameRef, wcs_dir: str | os.PathLike | None = None) -> Path:
    """Where the sidecar ``.wcs`` of a frame lives: beside its file, or in ``wcs_dir``.

    ``night/f001.fits`` -> ``f001.wcs`` (astrometry.net's name); an extension or a cube plane
    adds its HDU and plane: ``f001.2.wcs``, ``cube.0.17.wcs``.
    """
    name = ref.path.name
    stem = next((name[: -len(suf)] for suf in sorted(FITS_SUFFIXES, key=len, reverse=True)
                 if name.lower().endswith(suf)), ref.path.stem)
    if ref.hdu or ref.plane is not None:
        stem += f".{ref.hdu}" + (f".{ref.plane}" if ref.plane is not None else "")
    return (Path(wcs_dir) if wcs_dir is not None else ref.path.parent) / f"{stem}.wcs"


def strip_wcs(header: fits.Header) -> fits.Header:
    """A copy of ``header`` without its WCS keywords."""
    h = header.copy()
    for key in list(h.keys()):
        if key in _WCS_KEYS or key.startswith(_WCS_KEY_PREFIXES):
            h.remove(key, ignore_missing=True, remove_all=True)
    return h


def _with_sidecar(header: fits.Header, ref: FrameRef, wcs_dir) -> tuple[fits.Header, bool]:
    """The header with its sidecar WCS in place of its own, when a sidecar exists and the
    header's WCS is absent or pointing-only (a solved header WCS is kept)."""
    path = sidecar_path(ref, wcs_dir)
    if not path.is_file() or wcs_kind(header) == "solved":
        return header, False
    try:
        side = fits.getheader(path, 0)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .wcs file ({exc})") from None
    h = strip_wcs(header)
    for card in side.cards:
        if card.keyword in _WCS_KEYS or card.keyword.startswith(_WCS_KEY_PREFIXES):
            h[card.keyword] = (card.value, card.comment)
    return h, True


def open_sequence(path: str | os.PathLike, *, time_offset: float = 0.0, dark: str | os.PathLike | None = None,
                  flat: str | os.PathLike | None = None, ccd: str | None = None,
                  wcs_dir: str | os.PathLike | None = None) -> FrameSequence:
    """Open a sequence: a folder of FITS frames, a ``<sequence>/frames/`` folder, a cube or a MEF.

    ``time_offset`` (seconds) is added to every frame time read from the headers: the shutter
    latency of a camera whose capture program stamps the command time. ``dark``/``flat``: a
    calibration file or folder (:mod:`debristrack.io.calibrate`) applied to every frame.
    ``ccd``: for mosaic exposures (:func:`mosaic_ccds`), the CCD whose frames form the sequence.
    Sidecar ``.wcs`` files (:func:`sidecar_path`, beside the frames or in ``wcs_dir``) give the
    WCS of frames that have none or a pointing-only one.

    Raises
    ------
    InputError
        naming the file for: a missing path, an empty folder, a non-FITS or truncated file, a
        file with no image HDU, frames of different shapes, a mosaic opened without ``ccd``.
    """
    path = Path(path)
    entries = _scan_path(path)
    ccds = sorted({ref.ccd for ref, _, _ in entries} - {None})
    if ccd is not None:
        entries = [e for e in entries if e[0].ccd == ccd]
        if not entries:
            raise InputError(f"{path}: no CCD named {ccd!r} (CCDs: {', '.join(ccds) or 'none, not a mosaic'})")
    elif ccds:
        raise InputError(f"{path}: mosaic exposures of {len(ccds)} CCDs ({', '.join(ccds)}); each CCD is a sequence "
                         "of its own (open_sequence(path, ccd=NAME); debristrack track does each)")
    where = f"{path}[{ccd}]" if ccd else str(path)
    notes = []
    sided = [_with_sidecar(h, ref, wcs_dir) for ref, h, _ in entries]
    entries = [(ref, h, s) for (ref, _, s), (h, _) in zip(entries, sided)]
    if any(used for _, used in sided):
        notes.append(f"{where}: WCS from {sum(used for _, used in sided)} sidecar .wcs file(s)")
    raw = [(h, s) for _, h, s in entries]
    layouts = [plan_layout(h, s) for _, h, s in entries]
    try:
        layouts, note = common_area(layouts, [str(ref.path) for ref, _, _ in entries])
    except ValueError as exc:
        raise InputError(str(exc)) from None
    notes += [f"{where}: {note}"] if note else []
    patterns = sorted({cfa_pattern(h) for _, h, _ in entries} - {None})
    if patterns:
        notes.append(f"{where}: colour-filter-array frames ({', '.join(patterns)}) binned 2x2 to luminance")
    entries = [(ref, layout_header(h, lay, s), lay, r) for (ref, h, s), lay, r in zip(entries, layouts, raw)]
    shape = entries[0][2].shape
    times = [mid_time(e[1], time_offset) for e in entries]
    if all(t is not None for t in times):
        order = sorted(range(len(entries)), key=lambda k: (times[k].utc.jd1, times[k].utc.jd2, k))
        entries = [entries[k] for k in order]
        times = [times[k] for k in order]
    refs = [e[0] for e in entries]
    headers = [e[1] for e in entries]
    calibration = load_calibration(shape, read=open_sequence, dark=dark, flat=flat, exptime=exposure_time(headers[0]),
                                   notes=notes)
    return FrameSequence(path, refs, headers, shape, times, layouts=[e[2] for e in entries], notes=notes,
                         time_offset=time_offset, calibration=calibration, raw=[e[3] for e in entries],
                         ccd=ccd)


@dataclass(frozen=True)
class ReadOptions:
    """How to read a sequence: the keyword arguments of :func:`open_sequence`, as one value."""

    time_offset: float = 0.0
    dark: Path | None = None
    flat: Path | None = None
    ccd: str | None = None
    wcs_dir: Path | None = None

    def open(self, path: str | os.PathLike) -> FrameSequence:
        return open_sequence(path, time_offset=self.time_offset, dark=self.dark, flat=self.flat, ccd=self.ccd,
                             wcs_dir=self.wcs_dir)


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
