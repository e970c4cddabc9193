"""Static sky removed before streak detection in a sidereal sequence.

With the telescope tracking the stars, everything fixed on the sky (stars, galaxies,
nebulae, the halos and spikes of bright stars, hot pixels and bias structure of the
detector) sits on the same pixels in every frame, while a satellite's trail is somewhere
else in each. Subtracting from a frame a robust stack (median) of the OTHER frames leaves
only what changed: the trails, cosmic rays and noise. Frames are registered first when the
stars moved by more than ``min_shift`` px (guiding drift): the shift is measured from
the sources matched between the frame and its neighbour (sep positions, median offset),
after a phase correlation has found it to a pixel. Sky levels are removed per frame
(the background of a NEOSSat sequence climbs by a factor of ten), so the stack is of
background-subtracted frames. At least ``2`` other frames are needed; with fewer, the
frame is returned as is and the trail validator alone must tell trails from sky.
"""

from __future__ import annotations

import cv2
import numpy as np
import sep
from scipy import ndimage
from scipy.spatial import cKDTree

from .background import subtract_background


def _sources(residual: np.ndarray, sigma: float, mask: np.ndarray | None, n: int = 300) -> np.ndarray:
    """(M, 2) x, y of the brightest compact sources."""
    sep.set_extract_pixstack(max(300000, residual.size))
    m = None if mask is None else np.ascontiguousarray(mask, dtype=bool)
    try:
        objs = sep.extract(np.ascontiguousarray(residual, dtype=np.float32), 8.0, err=float(sigma), mask=m, minarea=5)
    except Exception:  # pathological frames overflow sep's buffers: no sources to match
        return np.zeros((0, 2))
    objs = objs[(objs["flag"] == 0) & (objs["a"] < 2.0 * objs["b"])]
    objs = objs[np.argsort(-objs["flux"])[:n]]
    return np.column_stack([objs["x"], objs["y"]])


def measure_shift(ref: np.ndarray, img: np.ndarray, *, ref_sigma: float, sigma: float,
                  ref_mask: np.ndarray | None = None, mask: np.ndarray | None = None) -> tuple[float, float, int]:
    """Shift ``(dx, dy)`` (px) that carries ``img``'s stars onto ``ref``'s, and the number of
    matched sources it rests on (0 = no match: shift from the phase correlation alone).

    Both inputs are background-subtracted frames. A phase correlation (OpenCV) finds the
    shift to about a pixel; sources of the two frames within 2 px after that shift are
    matched and the median of their offsets is the shift.
    """
    a = np.clip(ref / max(ref_sigma, 1e-9), -5, 50).astype(np.float32)
    b = np.clip(img / max(sigma, 1e-9), -5, 50).astype(np.float32)
    (px, py), _ = cv2.phaseCorrelate(b, a)
    sa = _sources(ref, ref_sigma, ref_mask)
    sb = _sources(img, sigma, mask)
    if len(sa) < 3 or len(sb) < 3:
        return float(px), float(py), 0
    dist, idx = cKDTree(sa).query(sb + [px, py], distance_upper_bound=2.0)
    ok = np.isfinite(dist)
    if ok.sum() < 3:
        return float(px), float(py), 0
    off = sa[idx[ok]] - sb[ok]
    return float(np.median(off[:, 0])), float(np.median(off[:, 1])), int(ok.sum())


def lower_median(stack: np.ndarray) -> np.ndarray:
    """Per-pixel lower median of a ``(n, ny, nx)`` stack (the ``(n - 1) // 2``-th smallest):
    with an even number of frames a pixel that a moving streak covers in half of them still
    reads the sky (the plain median would average one streak value in)."""
    k = (stack.shape[0] - 1) // 2
    return np.partition(stack, k, axis=0)[k]


def robust_stack(stack: np.ndarray, sigma: float, *, spread: float = 5.0) -> np.ndarray:
    """The static sky of a ``(n, ny, nx)`` stack of other frames: the :func:`lower_median`,
    except where it exceeds the stack's minimum by more than ``spread`` x ``sigma``: there a
    moving streak covers more than half of the other frames (a slow object whose streaks
    overlap from frame to frame) and the minimum is the sky. A static source is bright in
    every frame, so its minimum stays within a few sigma of its median."""
    low = lower_median(stack)
    floor = stack.min(axis=0)
    return np.where(low - floor > spread * sigma, floor, low)


def static_sky_residuals(images: list[np.ndarray], masks: list[np.ndarray | None], *, window: int = 8,
                         min_shift: float = 0.25) -> list[np.ndarray | None]:
    """For every frame, the frame minus the lower median of up to ``window`` other frames (the
    nearest in the sequence), all background-subtracted and registered onto it.

    Parameters
    ----------
    images : the frames (``frame.clean``), (ny, nx) each. masks : their bad-pixel masks.
    window : other frames in each stack. min_shift : shifts below this (px) are not applied.

    Returns
    -------
    One float32 (ny, nx) residual per frame (masked pixels 0), or None for every frame when
    the sequence has fewer than 3 frames.
    """
    n = len(images)
    if n < 3:
        return [None] * n
    subs = [subtract_background(im, m) for im, m in zip(images, masks)]
    # shift of every frame relative to frame 0 (chained through neighbours: drift is slow)
    shifts = [(0.0, 0.0)]
    for k in range(1, n):
        dx, dy, _ = measure_shift(subs[k - 1][0], subs[k][0], ref_sigma=subs[k - 1][1], sigma=subs[k][1],
                                  ref_mask=masks[k - 1], mask=masks[k])
        shifts.append((shifts[-1][0] + dx, shifts[-1][1] + dy))
    out = []
    for i in range(n):
        others = sorted((j for j in range(n) if j != i), key=lambda j: (abs(j - i), j))[:window]
        stack = []
        for j in others:
            dx, dy = shifts[j][0] - shifts[i][0], shifts[j][1] - shifts[i][1]
            img = subs[j][0]
            if np.hypot(dx, dy) > min_shift:  # carry frame j onto frame i's pixels
                img = ndimage.shift(img, (dy, dx), order=1, mode="nearest")
            stack.append(img)
        res = subs[i][0] - robust_stack(np.stack(stack), subs[i][1])
        if masks[i] is not None:
            res[masks[i]] = 0.0
        out.append(res.astype(np.float32))
    return out
