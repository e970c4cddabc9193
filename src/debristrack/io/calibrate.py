"""Dark and flat calibration frames (``track --dark FILE --flat FILE``), applied on reading.

Each is a FITS file or a folder of them (combined by the median, pixel by pixel), read through
the same reader as the sequence, so overscan, data section and colour-filter binning are
applied to it as to the frames and the shapes agree. A frame becomes
``(frame - dark) / (flat / median(flat))``. The dark should match the frames' exposure and
temperature (a bias frame does for short exposures); a dark whose exposure differs by more
than 1% from the first frame's is used as it is, with a note (scaling a dark needs it
bias-free, which a raw dark is not). Flat pixels below 5% of the median are set invalid (NaN):
dividing by them would only amplify noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

FLAT_FLOOR = 0.05


@dataclass(frozen=True)
class Calibration:
    """A master dark (or None) and a normalised master flat (or None), in the frames' shape."""

    dark: np.ndarray | None = None
    flat: np.ndarray | None = None

    def apply(self, data: np.ndarray) -> np.ndarray:
        out = data
        if self.dark is not None:
            out = out - self.dark
        if self.flat is not None:
            out = out / self.flat
        return out.astype(np.float32)


def master(path: str | Path, shape: tuple[int, int], what: str, *, read) -> tuple[np.ndarray, float | None]:
    """The median of the frames at ``path`` (a file or folder, opened with ``read``: the sequence
    reader, passed in so that this module does not import it), and their exposure; checks the shape."""
    seq = read(path)
    if seq.shape != shape:
        raise InputError(f"{path}: {what} frame shape {seq.shape[1]}x{seq.shape[0]} (nx x ny) differs from the "
                         f"sequence's {shape[1]}x{shape[0]} (after overscan, crop and binning)")
    stack = np.stack([f.data for f in seq])
    return np.nanmedian(stack, axis=0).astype(np.float32), seq.exptime(0)


def load_calibration(shape: tuple[int, int], *, read, dark=None, flat=None, exptime: float | None = None,
                     notes: list[str] | None = None) -> Calibration | None:
    """The calibration for frames of ``shape``, or None when neither file is given; ``read(path)``
    opens a dark or flat (file or folder) as a sequence (:func:`debristrack.io.sequence.open_sequence`)."""
    if dark is None and flat is None:
        return None
    dark_img = flat_img = None
    if dark is not None:
        dark_img, dark_exp = master(dark, shape, "dark", read=read)
        if notes is not None and exptime and dark_exp is not None and abs(dark_exp - exptime) > 0.01 * exptime:
            notes.append(f"{dark}: dark exposure {dark_exp:g} s differs from the frames' {exptime:g} s; "
                         "subtracted unscaled")
    if flat is not None:
        flat_img, _ = master(flat, shape, "flat", read=read)
        level = np.nanmedian(flat_img)
        if not np.isfinite(level) or level <= 0:
            raise InputError(f"{flat}: flat frame has no positive signal (median {level:g})")
        flat_img = flat_img / level
        flat_img[~(flat_img >= FLAT_FLOOR)] = np.nan
    return Calibration(dark=dark_img, flat=flat_img)
