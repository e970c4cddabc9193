"""Raw frames as cameras write them: overscan, data sections, frames of slightly different size.

A raw CCD file holds more than sky. The header says which part is which (NOAO/IRAF keywords,
FITS sections ``[x1:x2,y1:y2]``, 1-based and inclusive):

- ``TRIMSEC`` (or ``DATASEC``): the illuminated pixels; everything else is cut away;
- ``BIASSEC``: the overscan, read out with no charge: its level is the bias, subtracted from
  every row (a strip of columns) or column (a strip of rows) before the crop.

Cameras that read a window of the chip often keep the full chip's sections in the header
(NEOSSat writes ``TRIMSEC = [17:1078,1:1020]`` over 708-712 rows; a cut-out of a mosaic keeps
its CCD's ``BIASSEC = [2099:2304,...]`` over 100 columns). So a section is used on an axis only
where it lies inside the image; on an axis where it does not, the image is kept whole there,
and the overscan is used only on an axis where the data section is used too (otherwise we
cannot tell the strip from sky).

A sequence whose frames differ slightly in size (NEOSSat: 708-712 rows) is cropped to the
common area, from the first row and column of each frame's data section, with one note.

Colour-filter-array (one-shot colour) frames, told by ``BAYERPAT`` or ``COLORTYP`` holding a
2 x 2 pattern (``'GRBG'``: Seestar, N.I.N.A., SharpCap), are binned 2 x 2 to luminance: the mean
of each cell, (R + 2G + B) / 4. A star then looks like a star to the detectors, not a
checkerboard; the pixel scale doubles and the WCS, pixel size and binning keywords follow.
Everything here works on in-memory copies: the user's files are never modified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
from astropy.io import fits
from scipy import ndimage

DATA_SECTION_KEYS = ("TRIMSEC", "DATASEC")
CFA_KEYS = ("BAYERPAT", "COLORTYP")
_CFA_PATTERN = re.compile(r"^[RGB]{4}$")
OVERSCAN_KEY = "BIASSEC"
# Frames of one sequence may differ by this fraction of their size (per axis) and still be
# cropped to their common area; larger differences are different cameras or binnings: an error.
COMMON_AREA_TOLERANCE = 0.05
# The overscan level is the median across the strip, smoothed along it over this many rows
# (or columns): one row's median of ~10 pixels is too noisy, the bias drifts slowly.
OVERSCAN_SMOOTH = 9

_SECTION = re.compile(r"^\s*\[\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*\]\s*$")


@dataclass(frozen=True)
class Layout:
    """How a file's pixels become the frame, in 0-based file pixels (half-open ranges).

    ``rows``/``cols``: the part kept. ``overscan``: (rows, cols) of the overscan strip, and
    ``overscan_axis``: 1 when the strip is columns (one bias level per row), 0 when rows.
    ``bin``: 2 for a colour-filter-array frame binned 2 x 2 to luminance, else 1.
    """

    rows: tuple[int, int]
    cols: tuple[int, int]
    overscan: tuple[tuple[int, int], tuple[int, int]] | None = None
    overscan_axis: int = 1
    bin: int = 1

    @property
    def shape(self) -> tuple[int, int]:
        """The frame's shape (after binning)."""
        return (self.rows[1] - self.rows[0]) // self.bin, (self.cols[1] - self.cols[0]) // self.bin

    def is_identity(self, shape: tuple[int, int]) -> bool:
        return self.overscan is None and self.bin == 1 and self.rows == (0, shape[0]) and self.cols == (0, shape[1])


def parse_section(text) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``'[x1:x2,y1:y2]'`` (FITS, 1-based inclusive) as 0-based half-open ((y0, y1), (x0, x1)).

    Reversed ranges (a flipped readout, ``[2048:1,...]``) are accepted. None when the value is
    not a section (``'UNKNOWN'``, empty, a number).
    """
    if not isinstance(text, str):
        return None
    m = _SECTION.match(text)
    if not m:
        return None
    x1, x2, y1, y2 = (int(g) for g in m.groups())
    if min(x1, x2, y1, y2) < 1:
        return None
    return (min(y1, y2) - 1, max(y1, y2)), (min(x1, x2) - 1, max(x1, x2))


def _inside(rng: tuple[int, int], n: int) -> bool:
    return 0 <= rng[0] < rng[1] <= n


def plan_layout(header: fits.Header, shape: tuple[int, int]) -> Layout:
    """The frame's layout from its header's TRIMSEC/DATASEC and BIASSEC (see module doc)."""
    ny, nx = shape
    data = next((s for s in (parse_section(header.get(k)) for k in DATA_SECTION_KEYS) if s), None)
    rows, cols = (0, ny), (0, nx)
    if data is not None:
        if _inside(data[0], ny):
            rows = data[0]
        if _inside(data[1], nx):
            cols = data[1]
    overscan, axis = None, 1
    bias = parse_section(header.get(OVERSCAN_KEY))
    if bias is not None:
        (b_rows, b_cols) = bias
        # a strip of columns beside the data (cut on x) gives one level per row, and vice versa
        if cols != (0, nx) and _inside(b_cols, nx) and not _overlaps(b_cols, cols):
            overscan = ((b_rows if _inside(b_rows, ny) else (0, ny)), b_cols)
            axis = 1
        elif rows != (0, ny) and _inside(b_rows, ny) and not _overlaps(b_rows, rows):
            overscan = (b_rows, (b_cols if _inside(b_cols, nx) else (0, nx)))
            axis = 0
    return Layout(rows=rows, cols=cols, overscan=overscan, overscan_axis=axis, bin=2 if cfa_pattern(header) else 1)


def cfa_pattern(header: fits.Header) -> str | None:
    """The 2 x 2 colour-filter pattern (``'RGGB'``...) of a raw one-shot-colour frame, or None."""
    for key in CFA_KEYS:
        value = str(header.get(key, "")).strip().upper()
        if _CFA_PATTERN.match(value):
            return value
    return None


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def common_area(layouts: list[Layout], names: list[str]) -> tuple[list[Layout], str | None]:
    """Crop layouts of slightly different sizes to their common size; (layouts, note or None).

    Each frame keeps the first rows and columns of its own data section: frames of one camera
    start their readout at the same corner. Raises ValueError (naming the odd frame) when the
    sizes differ by more than ``COMMON_AREA_TOLERANCE`` on an axis.
    """
    shapes = np.array([lay.shape for lay in layouts])
    lo, hi = shapes.min(axis=0), shapes.max(axis=0)
    if (lo == hi).all():
        return layouts, None
    for axis in (0, 1):
        if hi[axis] - lo[axis] > COMMON_AREA_TOLERANCE * hi[axis]:
            k = int(np.argmax(shapes[:, axis] != shapes[0, axis]))
            raise ValueError(f"{names[k]}: frame shape {_fmt(shapes[k])} differs from {_fmt(shapes[0])} "
                             f"of {names[0]}")
    out = [replace(lay, rows=(lay.rows[0], lay.rows[0] + int(lo[0]) * lay.bin),
                   cols=(lay.cols[0], lay.cols[0] + int(lo[1]) * lay.bin)) for lay in layouts]
    spread = " and ".join(f"{a}-{b} {what}" for a, b, what in ((lo[1], hi[1], "columns"), (lo[0], hi[0], "rows"))
                          if a != b)
    note = f"frames differ in size ({spread}); cropped to their common area, {_fmt(lo)}"
    return out, note


def _fmt(shape) -> str:
    return f"{int(shape[1])}x{int(shape[0])} (nx x ny)"


def overscan_level(data: np.ndarray, layout: Layout) -> np.ndarray | None:
    """The bias level per row (axis 1) or column (axis 0) of the overscan strip, or None."""
    if layout.overscan is None:
        return None
    (r0, r1), (c0, c1) = layout.overscan
    strip = data[r0:r1, c0:c1]
    if not np.isfinite(strip).any():
        return None
    per_line = np.nanmedian(strip, axis=layout.overscan_axis)
    partial = (r0, r1) != (0, data.shape[0]) if layout.overscan_axis == 1 else (c0, c1) != (0, data.shape[1])
    if partial:  # the strip does not run along the whole frame: one level for all lines
        per_line = np.full(data.shape[1 - layout.overscan_axis], np.nanmedian(per_line))
    per_line = np.where(np.isfinite(per_line), per_line, np.nanmedian(per_line))
    return ndimage.median_filter(per_line, size=OVERSCAN_SMOOTH, mode="nearest").astype(np.float32)


def apply_layout(data: np.ndarray, layout: Layout) -> tuple[np.ndarray, float]:
    """Subtract the overscan level, then crop: (the frame's pixels, float32: ``data`` itself
    when the layout keeps it whole as it is (a fresh read: no 64 MB copy of a 4096^2 frame),
    else a new array; the median bias level subtracted, 0 when none)."""
    level = overscan_level(data, layout)
    out = data[layout.rows[0]:layout.rows[1], layout.cols[0]:layout.cols[1]]
    bias = 0.0
    if level is not None:
        if layout.overscan_axis == 1:
            out = out - level[layout.rows[0]:layout.rows[1], None]
        else:
            out = out - level[None, layout.cols[0]:layout.cols[1]]
        bias = float(np.median(level))
    if layout.bin > 1:
        out = bin_image(out, layout.bin)
    if out.base is data and out.shape == data.shape and data.dtype == np.float32:
        return data, bias
    return np.array(out, dtype=np.float32), bias


def bin_image(data: np.ndarray, k: int) -> np.ndarray:
    """Mean of each k x k cell (a trailing odd row or column is dropped); NaN where any is NaN."""
    ny, nx = data.shape[0] // k * k, data.shape[1] // k * k
    return data[:ny, :nx].reshape(ny // k, k, nx // k, k).mean(axis=(1, 3))


def layout_header(header: fits.Header, layout: Layout, shape: tuple[int, int]) -> fits.Header:
    """The header of the laid-out frame (a copy): sizes, WCS reference pixel and sections updated.

    The crop moves the pixel origin by (x0, y0): CRPIX shifts by as much (SIP terms are
    relative to CRPIX, so they hold as they are); IRAF's LTV1/LTV2 record the offset. Binning
    by k maps FITS pixel p to (p - 0.5) / k + 0.5: CRPIX follows, CD/CDELT grow by k, SIP
    coefficients A_p_q scale by k^(p+q-1) (their input and output are both in pixels).
    """
    if layout.is_identity(shape):
        return header
    h = header.copy()
    y0, x0 = layout.rows[0], layout.cols[0]
    h["NAXIS1"], h["NAXIS2"] = layout.shape[1], layout.shape[0]
    for key, off in (("CRPIX1", x0), ("CRPIX2", y0)):
        if isinstance(h.get(key), (int, float)):
            h[key] = float(h[key]) - off
    if not (x0 == y0 == 0 and "LTV1" not in h):
        h["LTV1"] = (float(h.get("LTV1", 0.0)) - x0, "offset to the physical (file) pixels")
        h["LTV2"] = (float(h.get("LTV2", 0.0)) - y0, "offset to the physical (file) pixels")
    for key in (*DATA_SECTION_KEYS, OVERSCAN_KEY):
        h.remove(key, ignore_missing=True)
    if layout.overscan is not None:
        h["OVSCSUB"] = (True, "overscan subtracted (debristrack, in memory)")
    if layout.bin > 1:
        _bin_header(h, layout.bin)
    return h


def _bin_header(h: fits.Header, k: int) -> None:
    for key in ("CRPIX1", "CRPIX2"):
        if isinstance(h.get(key), (int, float)):
            h[key] = (float(h[key]) - 0.5) / k + 0.5
    for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2", "CDELT1", "CDELT2", "XPIXSZ", "YPIXSZ", "PIXSCALE",
                "PIXSCAL1", "PIXSCAL2", "SECPIX", "SCALE"):
        if isinstance(h.get(key), (int, float)) and not isinstance(h.get(key), bool):
            h[key] = float(h[key]) * k
    for key in ("XBINNING", "YBINNING"):
        h[key] = int(h.get(key, 1) or 1) * k
    for poly in ("A", "B", "AP", "BP"):
        for card in list(h.cards):
            m = re.fullmatch(rf"{poly}_(\d+)_(\d+)", card.keyword)
            if m:
                h[card.keyword] = float(card.value) * k ** (int(m.group(1)) + int(m.group(2)) - 1)
    for key in CFA_KEYS + ("XBAYROFF", "YBAYROFF"):
        h.remove(key, ignore_missing=True)
    h["CFABIN"] = (k, "CFA binned k x k to luminance (debristrack)")
