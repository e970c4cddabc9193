"""Parameters shared by the segment trackers (SORT, ByteTrack, OC-SORT)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrackerParams:
    """Association, life-cycle and filter parameters; lengths in pixels, times in frames."""

    RANGES = {  # valid interval of each numeric parameter (config.check_ranges)
        "gate": "(0, inf)", "along_weight_new": "[0, 1]", "iou_weight": "[0, inf)", "width": "(0, inf)",
        "max_age": "[0, inf)", "min_hits": "[1, inf)", "high_score": "[0, inf)", "low_score": "[0, inf)",
        "low_gate": "(0, inf)", "new_track_score": "[0, inf)", "delta_t": "[1, inf)", "inertia": "[0, inf)",
        "meas_std": "(0, inf)", "pos_std": "(0, inf)", "vel_std": "(0, inf)"}

    gate: float = field(default=25.0, metadata={"help": "largest endpoint distance of a match, pixels"})
    along_weight_new: float = field(default=0.1, metadata={
        "help": "weight of the along-streak displacement for a track seen once (no velocity yet)"})
    iou_weight: float = field(default=0.5, metadata={"help": "weight of the thick-line IoU in the association cost"})
    width: float = field(default=5.0, metadata={"help": "thick-line width of the IoU, pixels (2 x FWHM, at least 3)"})
    max_age: int = field(default=3, metadata={"help": "frames a track may go unmatched before it is deleted"})
    min_hits: int = field(default=2, metadata={
        "help": "detections a track needs to be reported, all of its rows then (at most the number of frames)"})
    high_score: float = field(default=10.0, metadata={"help": "ByteTrack: detections at or above this SNR are matched first"})
    low_score: float = field(default=5.0, metadata={"help": "ByteTrack: detections below this SNR are ignored"})
    low_gate: float = field(default=12.0, metadata={"help": "ByteTrack: gate of the second (low-score) stage, pixels"})
    new_track_score: float = field(default=7.0, metadata={"help": "smallest SNR that starts a track"})
    delta_t: int = field(default=3, metadata={"help": "OC-SORT: frames back for the observed motion direction"})
    inertia: float = field(default=0.2, metadata={"help": "OC-SORT: weight of the motion-direction (momentum) cost"})
    meas_std: float = field(default=1.5, metadata={"help": "Kalman: endpoint measurement noise, pixels"})
    pos_std: float = field(default=1.0, metadata={"help": "Kalman: process noise on the endpoints, pixels per frame"})
    vel_std: float = field(default=0.5, metadata={"help": "Kalman: process noise on the velocity, pixels per frame"})
