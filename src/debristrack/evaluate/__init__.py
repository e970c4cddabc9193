"""Evaluation: MOT metrics (TrackEval) with streak and point similarity, detection figures.

- :func:`evaluate_tracks` / :func:`track_metrics`: HOTA, CLEAR and Identity of one sequence;
  :func:`evaluate_sequences` and :meth:`MotResult.combine`: many sequences, combined the
  TrackEval way.
- :func:`detection_figures` / :class:`DetectionFigures`: detection rate, false-alarm rate and
  position RMS of point tables ([GEO] sec. 4, [TRK] sec. 5.2).
- :mod:`.similarity`: thick-line IoU and padded-box IoU of segments, point similarity.
"""

from .detection import DetectionFigures, detection_figures, match_points
from .mot import (
    ALPHAS,
    SUMMARY_FIELDS,
    MotConfig,
    MotResult,
    evaluate_data,
    evaluate_sequences,
    evaluate_tracks,
    track_metrics,
    tracking_data,
)
from ..geometry.similarity import (
    box_iou,
    padded_box_iou,
    point_similarity,
    streak_iou,
    thick_width,
)

__all__ = [
    "ALPHAS", "SUMMARY_FIELDS", "DetectionFigures", "MotConfig", "MotResult", "box_iou",
    "detection_figures", "evaluate_data", "evaluate_sequences", "evaluate_tracks", "match_points",
    "padded_box_iou", "point_similarity", "streak_iou", "thick_width", "track_metrics",
    "tracking_data",
]
