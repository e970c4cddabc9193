"""The real-sky front end of a streak detector: what a frame goes through around it.

:func:`detect_trails` runs one detector on one frame as a user's frame needs it:

0. a frame mostly saturated or dead is skipped;
1. the static sky is removed when the caller has it (:mod:`.static_sky`, in a sequence);
2. impulses, skewed noise and stripes are cleaned (:func:`.clean.prepare`);
3. the detector runs on that residual;
4. every candidate is judged by the trail validator (:func:`.validate.validated`) against
   the frame's own PSF and saturated stars, parallel duplicates of wide trails are removed,
   and straight pieces of one curved trail are rejected (:func:`.validate.curved_chains`).

The rejection reasons are returned, so a benchmark can count them, and
:func:`detect_candidates` also returns the rejected candidates themselves: the physical
linker (:mod:`debristrack.track.physical`) accepts one where a moving object's track
predicts it (a trail's piece cut by the frame edge, crossed by another trail, or faint).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from .clean import prepare, robust_sigma
from .geometry import as_segments, empty_segments
from .validate import ValidatorParams, curved_chains, validated


def detect_trails(image: np.ndarray, mask: np.ndarray | None, detector: Callable[[np.ndarray, np.ndarray | None], np.ndarray],
                  **kw) -> tuple[np.ndarray, Counter]:
    """Validated trails of one frame and the rejection reasons (:func:`detect_candidates`
    without the rejected candidates)."""
    kept, _, counts = detect_candidates(image, mask, detector, **kw)
    return kept, counts


def detect_candidates(image: np.ndarray, mask: np.ndarray | None,
                      detector: Callable[[np.ndarray, np.ndarray | None], np.ndarray],
                      *, static_residual: np.ndarray | None = None, saturation: float | None = None,
                      default_fwhm: float = 2.5, params: ValidatorParams | None = None,
                      max_bad: float = 0.5) -> tuple[np.ndarray, np.ndarray, Counter]:
    """Validated trails of one frame, the candidates the validator rejected, and the reasons.

    Parameters
    ----------
    image : (ny, nx) the frame (``frame.clean``). mask : its bad pixels.
    detector : ``detector(residual, mask) -> (N, 5)`` segments (e.g. :func:`.matched.detect_matched`).
    static_residual : the frame minus its static sky (:func:`.static_sky.static_sky_residuals`),
        or None for a single frame.
    saturation : saturation level (header SATURATE), None = a plateau at the frame maximum.
    default_fwhm : PSF FWHM when the frame has too few stars to measure it.
    max_bad : a frame with more than this fraction of bad (saturated, dead) pixels gives no
        trail (reason ``unusable_frame``: the sky of a NEOSSat sequence climbs to saturation).

    Returns
    -------
    (M, 5) trails ``x1, y1, x2, y2, score``, (K, 5) rejected candidates (for a linker that
    accepts them only where a moving object's physics predicts them) and a Counter of the
    rejection reasons.
    """
    # a saturated or dead frame: nothing in it can be measured (at the frame maximum = saturated, even
    # where the plateau is most of the frame and the bad-pixel mask does not call it one)
    bad = np.asarray(image) >= np.max(image) if mask is None else mask | (np.asarray(image) >= np.max(image))
    if bad.mean() > max_bad:
        return empty_segments(), empty_segments(), Counter({"unusable_frame": 1})
    prepared, _ = prepare(image if static_residual is None else static_residual, mask)
    segs = detector(prepared, mask)
    if len(segs) == 0:
        return empty_segments(), empty_segments(), Counter()
    kept, verdicts = validated(image, mask, segs, saturation=saturation, default_fwhm=default_fwhm, params=params,
                               residual=(prepared, robust_sigma(prepared[::2, ::2])))
    counts = verdicts.counts()
    rejected = as_segments(segs)[~verdicts.keep]
    bent = curved_chains(kept)
    if bent.any():
        counts["curved"] += int(bent.sum())
        rejected = np.vstack([rejected, kept[bent]])
        kept = kept[~bent]
    return kept, rejected, counts
