"""Association of predicted track segments with detected segments.

The cost of pairing a track with a detection combines the endpoint distance (order
invariant, since DESIGN.md's left-endpoint rule can swap a near-vertical streak's
endpoints) with the streak similarity of DESIGN.md "Evaluation" (thick-line IoU,
:func:`debristrack.geometry.similarity.streak_iou`). The assignment itself is
:func:`debristrack.geometry.gated_assignment`.
"""

from __future__ import annotations

import numpy as np

from ...geometry.similarity import streak_iou


def endpoint_cost(tracks: np.ndarray, dets: np.ndarray, *, along_weight: np.ndarray | float = 1.0) -> np.ndarray:
    """Mean endpoint distance in pixels, order invariant, with the along-track part weighted.

    A track seen once has no velocity yet, but a streak is the trail of the object's motion
    during the exposure, so it moves along its own line ([SDT] eq. 5 uses one angle for the
    streak and its velocity): for such tracks ``along_weight < 1`` discounts the displacement
    along the track's direction and keeps the full perpendicular offset.

    Parameters
    ----------
    tracks : (N, >=4) predicted segments. dets : (M, >=4) detected segments.
    along_weight : scalar or (N,) weight of the along-track displacement (1 = plain distance).

    Returns
    -------
    (N, M) cost in pixels: the smaller of the two endpoint pairings.
    """
    t = np.asarray(tracks, dtype=np.float64)[:, None, :4]
    d = np.asarray(dets, dtype=np.float64)[None, :, :4]
    u = t[..., 2:4] - t[..., 0:2]
    u = u / np.maximum(np.hypot(u[..., 0], u[..., 1]), 1e-9)[..., None]
    w = np.broadcast_to(np.asarray(along_weight, dtype=np.float64), (t.shape[0],))[:, None]

    def dist(e):  # e: (N, M, 2) displacement; u: (N, 1, 2)
        along = e[..., 0] * u[..., 0] + e[..., 1] * u[..., 1]
        perp = e[..., 0] * u[..., 1] - e[..., 1] * u[..., 0]
        return np.hypot(perp, w * along)

    straight = 0.5 * (dist(d[..., 0:2] - t[..., 0:2]) + dist(d[..., 2:4] - t[..., 2:4]))
    cross = 0.5 * (dist(d[..., 2:4] - t[..., 0:2]) + dist(d[..., 0:2] - t[..., 2:4]))
    return np.minimum(straight, cross)


def association_cost(tracks: np.ndarray, dets: np.ndarray, *, gate: float, width: float,
                     along_weight: np.ndarray | float = 1.0, iou_weight: float = 0.5) -> np.ndarray:
    """Track-to-detection cost: ``endpoint_cost / gate + iou_weight * (1 - IoU)``.

    Pairs whose endpoint cost exceeds ``gate`` pixels get ``inf``. The IoU is DESIGN.md's
    thick-line streak similarity (``width`` pixels), which prefers, among detections within
    the gate, the one that overlaps the prediction; a feasible pair costs at most
    ``1 + iou_weight``.

    Returns (N, M) float64.
    """
    tracks, dets = np.asarray(tracks, dtype=np.float64), np.asarray(dets, dtype=np.float64)
    if len(tracks) == 0 or len(dets) == 0:
        return np.zeros((len(tracks), len(dets)))
    dist = endpoint_cost(tracks, dets, along_weight=along_weight)
    cost = dist / gate + iou_weight * (1.0 - streak_iou(tracks[:, :4], dets[:, :4], width=width))
    return np.where(dist <= gate, cost, np.inf)
