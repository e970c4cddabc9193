"""Frame stacking for staring mode: per-pixel minimum, median or mean over a window of frames.

[GEO] sec. 2-3: a telescope in staring mode turns with the Earth, so stars drift across the
frame at the sidereal rate while a geostationary (GEO) target stays on the same pixels. The
per-pixel minimum over frames in which every star has moved off its own footprint keeps the
target and removes the stars ("min-stacking"); the median and the mean over the same frames
are the baselines [GEO] compares against (Tab. 2-4).

Arrays are float32 ``(T, ny, nx)`` windows, ``T`` frames; pixel coordinates are 0-based with
``x`` the column, ``y`` the row, the centre of the first pixel at (0, 0). NaN marks a pixel
without a value in a frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..geometry import SIDEREAL_RATE

STACKS = ("min", "median", "mean")


def star_drift_rate(plate_scale: float, dec: float = 0.0) -> float:
    """Apparent drift of stars in a staring-mode frame, px/s.

    [GEO] sec. 2, eq. 13: the stars' angular rate in the camera frame is the Earth's rotation
    rate times cos(declination) (15.04 arcsec/s on the equator, 0 at the poles); the paper
    neglects the spread of declinations across the field and projection effects, and so do we.

    Parameters
    ----------
    plate_scale : arcsec per pixel.
    dec : declination of the pointing, degrees.
    """
    return SIDEREAL_RATE * abs(math.cos(math.radians(dec))) / plate_scale


def window_length(step: float, trail: float, footprint: float, *, stack: str = "min",
                  longest: int = 20) -> int:
    """Frames a stack needs so that every star has left each pixel often enough.

    A star's spot, ``footprint`` px across, smeared into a trail of ``trail`` px during the
    exposure and moved by ``step`` px between exposure starts, covers a given pixel in at most
    ``n = floor((trail + footprint) / step) + 1`` consecutive frames. The minimum removes it
    when one frame of the window is star-free: ``n + 1`` frames ([GEO] sec. 3: "after 3-4
    frames ... the current star can completely move to a new position"). The median needs the
    star in fewer than half the frames: ``2 n + 1``; the mean never removes stars and is given
    the median's window (more frames average more noise, the fair comparison).

    Parameters
    ----------
    step : star motion between exposure starts, px (drift rate x cadence).
    trail : star motion during one exposure, px (drift rate x exposure time).
    footprint : diameter of a bright star's spot along the drift, px.
    stack : ``"min"``, ``"median"`` or ``"mean"``.
    longest : upper bound on the result.

    Returns
    -------
    int, at least 3 and at most ``longest``.
    """
    if stack not in STACKS:
        raise ValueError(f"unknown stack {stack!r}; use one of {', '.join(STACKS)}")
    if step <= 0:
        return longest
    covered = math.floor((trail + footprint) / step) + 1
    need = covered + 1 if stack == "min" else 2 * covered + 1
    return int(min(max(need, 3), longest))


def derive_window(*, plate_scale: float | None, dec: float, exptime: float | None,
                  cadence: float | None, stack: str, footprint: float, longest: int) -> int | None:
    """Stack length from the star drift ([GEO] sec. 2-3), or None when the headers cannot tell.

    Parameters
    ----------
    plate_scale : arcsec/px. dec : pointing declination, deg.
    exptime : exposure, s. cadence : time between exposure starts, s.
    stack, footprint, longest : as :func:`window_length`.
    """
    if not plate_scale or (exptime is None and cadence is None):
        return None
    rate = star_drift_rate(plate_scale, dec)
    cadence = cadence if cadence else exptime
    trail = rate * (exptime if exptime is not None else cadence)
    return window_length(rate * cadence, trail, footprint, stack=stack, longest=longest)


def block_starts(n_frames: int, window: int) -> list[int]:
    """First frame of each stacking block: ``0, W, 2W, ...`` and a last block ending at the end.

    Every frame belongs to one block of exactly ``window`` frames (the last block overlaps
    the one before when ``n_frames`` is not a multiple of ``window``), so the stack and the
    expensive segmentation run once per ``window`` frames rather than once per frame.
    """
    window = min(window, n_frames)
    starts = list(range(0, n_frames - window + 1, window))
    if starts[-1] + window < n_frames:
        starts.append(n_frames - window)
    return starts


def local_max(frame: np.ndarray, radius: int, out: np.ndarray | None = None) -> np.ndarray:
    """Grey dilation of one frame by a (2r+1)x(2r+1) square, float32 (ny, nx).

    [GEO] sec. 5 proposes screening "pixel values within a local region" instead of a single
    pixel so that targets that move slightly (GSO drift, turbulence jitter) are not lost; the
    min over frames of the local maximum keeps a target that stays within ``radius`` px of a
    pixel in every frame. NaN pixels are ignored; a pixel whose whole neighbourhood is NaN
    stays NaN. ``out``: optional float32 (ny, nx) buffer for the result. With
    ``radius <= 0`` the frame itself is returned.
    """
    if radius <= 0:
        return frame
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    if not np.isnan(np.min(frame)):  # a read-only pass: NaN propagates through min
        return cv2.dilate(frame, kernel, dst=out, borderType=cv2.BORDER_REPLICATE)
    nan = np.isnan(frame)
    # OpenCV's max is undefined on NaN: dilate with -inf in the holes instead.
    out = cv2.dilate(np.where(nan, np.float32(-np.inf), frame), kernel, dst=out, borderType=cv2.BORDER_REPLICATE)
    out[np.isneginf(out)] = np.nan
    return out


def stack_frames(frames, *, stack: str = "min", local_radius: int = 0, min_valid: int = 2,
                 out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
    """Per-pixel minimum, median or mean over a window of frames, ignoring NaN.

    ``"min"`` folds the frames one at a time with ``np.fmin`` (one read of each frame, no
    copy of the window: the memory-bandwidth bound of ``np.minimum.reduce``), optionally over
    the local maximum of each frame (:func:`local_max`, [GEO] sec. 5). NaN is ignored; a pixel
    valid in a single frame keeps that frame's value, so the caller checks how many frames
    back a detection (the staring-mode verification does). ``"median"`` and ``"mean"`` (the [GEO]
    baselines, single-pixel rule) reduce the stacked window; pixels with NaN in some frame are
    redone with the NaN-ignoring reduction and become NaN with fewer than ``min_valid`` values.

    Parameters
    ----------
    frames : float32 (T, ny, nx) array, or a sequence of T float32 (ny, nx) arrays.
    stack : ``"min"``, ``"median"`` or ``"mean"``.
    local_radius : half-width of the local window of the min rule, px (0 = single pixel).
    min_valid : fewest finite frames a median or mean pixel needs.
    out : optional float32 (ny, nx) to write into.
    scratch : optional float32 (ny, nx) buffer for the local maxima (min with a local window).

    Returns
    -------
    float32 (ny, nx).
    """
    if stack == "min":
        if local_radius > 0:
            out = local_max(frames[0], local_radius, out=out)
        elif out is None:
            out = np.array(frames[0], dtype=np.float32)
        else:
            np.copyto(out, frames[0])
        for frame in frames[1:]:
            np.fmin(out, local_max(frame, local_radius, out=scratch), out=out)
        return out
    if stack not in STACKS:
        raise ValueError(f"unknown stack {stack!r}; use one of {', '.join(STACKS)}")
    window = frames if isinstance(frames, np.ndarray) else np.stack(frames)
    if stack == "mean":
        result = np.mean(window, axis=0, dtype=np.float32, out=out)
    else:
        result = np.median(window, axis=0, out=out)
    bad = np.flatnonzero(np.isnan(result))
    if bad.size:
        flat = window.reshape(window.shape[0], -1)[:, bad]
        valid = np.count_nonzero(~np.isnan(flat), axis=0)
        fix = valid >= min_valid
        values = np.full(bad.size, np.nan, np.float32)
        if fix.any():
            reduce = np.nanmedian if stack == "median" else np.nanmean
            values[fix] = reduce(flat[:, fix], axis=0)
        result.reshape(-1)[bad] = values
    return result
