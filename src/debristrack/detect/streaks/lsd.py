"""The LSD baseline: OpenCV's Line Segment Detector on the ZScaled frame ([SDT] Tab. 2, row LSD).

[SDT] compares against LSD (Grompone von Gioi et al. 2012, their ref. [34]) run on the
8-bit ZScale image of their sec. 3.1.2 (eq. 1-3, k = 2.5). LSD finds the *edges* of
intensity ridges, so a wide streak gives two parallel segments and a truncated streak gives
several pieces; both are joined with :func:`.geometry.merge_collinear`. Short segments (the
rims of stars) and faint ones are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ...io.zscale import zscale
from .background import subtract_background
from .geometry import empty_segments, line_snr, merge_collinear, left_endpoint_first


@dataclass(frozen=True)
class LSDParams:
    """Parameters of :func:`detect_lsd`."""

    RANGES = {  # valid interval of each numeric parameter (config.check_ranges)
        "k": "(0, inf)", "min_length": "[0, inf)", "min_snr": "[0, inf)", "angle_tol": "[0, 90]",
        "dist_tol": "[0, inf)", "max_gap": "[0, inf)"}

    k: float = field(default=2.5, metadata={"help": "ZScale half-width in standard deviations ([SDT] eq. 1)"})
    min_length: float = field(default=12.0, metadata={"help": "shortest segment kept, pixels"})
    min_snr: float = field(default=5.0, metadata={"help": "smallest line SNR kept"})
    angle_tol: float = field(default=3.0, metadata={"help": "merge: largest angle between pieces, degrees"})
    dist_tol: float = field(default=6.0, metadata={"help": "merge: largest offset from the line, pixels (joins the two edges LSD finds along a wide streak)"})
    max_gap: float = field(default=25.0, metadata={"help": "merge: largest gap along the line, pixels"})


def detect_lsd(image: np.ndarray, mask: np.ndarray | None = None, *,
               params: LSDParams | None = None) -> np.ndarray:
    """Find streaks in one frame with OpenCV's LSD.

    Parameters
    ----------
    image : (ny, nx) float frame without NaN (``frame.clean``).
    mask : (ny, nx) bool, True = bad pixel (ignored for the score).
    params : detector parameters (defaults when None).

    Returns
    -------
    (N, 5) float64 ``(x1, y1, x2, y2, score)``: left endpoint first, pixels (0-based, x =
    column, y = row); ``score`` is the line SNR on the background-subtracted frame.
    """
    p = params or LSDParams()
    residual, sigma = subtract_background(image, mask)
    img8 = zscale(image, k=p.k)  # [SDT] eq. 1-3
    lines = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(img8)[0]
    if lines is None or len(lines) == 0:
        return empty_segments()
    # OpenCV's LSD uses pixel corners at integers; shift to our pixel-centre convention.
    segs = np.hstack([lines.reshape(-1, 4).astype(np.float64) - 0.5, np.zeros((len(lines), 1))])
    segs = segs[np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]) >= 0.5 * p.min_length]
    segs = merge_collinear(segs, angle_tol=p.angle_tol, dist_tol=p.dist_tol, max_gap=p.max_gap)
    segs = segs[np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]) >= p.min_length]
    if len(segs) == 0:
        return empty_segments()
    segs[:, 4] = line_snr(residual, sigma, segs)
    return left_endpoint_first(segs[segs[:, 4] >= p.min_snr])
