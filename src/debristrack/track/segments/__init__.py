"""Trackers for streak segments: SORT, ByteTrack and OC-SORT over endpoint Kalman filters.

Each tracker is a class with one ``update(dets)`` method per frame (predict, associate,
update, birth, death in that order); :func:`track_segments` runs one over a sequence.
"""

from __future__ import annotations

import numpy as np

from .assignment import association_cost, endpoint_cost
from .bytetrack import ByteTracker
from .ocsort import OCSortTracker
from .params import TrackerParams
from .sort import SortTracker

TRACKERS = {"sort": SortTracker, "bytetrack": ByteTracker, "ocsort": OCSortTracker}


def track_segments(detections: list[np.ndarray], tracker: str = "ocsort", *,
                   params: TrackerParams | None = None) -> list[np.ndarray]:
    """Link per-frame streak detections into tracks.

    Parameters
    ----------
    detections : one ``(N_t, 5)`` array ``(x1, y1, x2, y2, score)`` per frame, pixels.
    tracker : ``"sort"``, ``"bytetrack"`` or ``"ocsort"``.
    params : tracker parameters (defaults when None).

    Returns
    -------
    One ``(K_t, 6)`` array ``(x1, y1, x2, y2, score, id)`` per frame; IDs start at 1. Only
    tracks with at least ``params.min_hits`` detections (or as many as there are frames, if
    fewer) are returned, with all their rows.
    """
    if tracker not in TRACKERS:
        raise ValueError(f"unknown tracker {tracker!r}; use one of {', '.join(TRACKERS)}")
    params = params or TrackerParams()
    t = TRACKERS[tracker](params)
    return confirmed_rows([t.update(d) for d in detections], params.min_hits)


def confirmed_rows(out: list[np.ndarray], min_hits: int) -> list[np.ndarray]:
    """The rows (per frame, ``(K_t, 6)`` with the id last) of the tracks with at least
    ``min_hits`` detections (at most the number of frames).

    Offline, a track's first detections can wait for its confirmation: every row of the
    tracks with enough detections is kept, and nothing of the others (isolated false alarms).
    """
    need = min(min_hits, len(out))
    ids, counts = np.unique(np.concatenate([o[:, 5] for o in out]) if out else [], return_counts=True)
    confirmed = ids[counts >= need]
    return [o[np.isin(o[:, 5], confirmed)] for o in out]


__all__ = ["TRACKERS", "ByteTracker", "OCSortTracker", "SortTracker", "TrackerParams",
           "association_cost", "confirmed_rows", "endpoint_cost", "track_segments"]
