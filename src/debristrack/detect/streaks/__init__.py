"""Streak detectors for sidereal frames: each maps one frame to an ``(N, 5)`` array of segments.

A segment row is ``(x1, y1, x2, y2, score)`` in pixels (0-based, x = column, y = row, centre
of the first pixel = (0, 0)) with ``(x1, y1)`` the left endpoint (DESIGN.md "Tables");
``score`` is the streak's line signal-to-noise ratio (see :func:`.geometry.line_snr`).
"""

from .geometry import merge_collinear, left_endpoint_first
from .lsd import LSDParams, detect_lsd
from .matched import MatchedParams, detect_matched, star_mask

__all__ = ["LSDParams", "MatchedParams", "detect_lsd", "detect_matched", "merge_collinear", "star_mask",
           "left_endpoint_first"]
