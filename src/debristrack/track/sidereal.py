"""Sidereal mode: streaks moving across a star field that stays put ([SDT]).

The classical pipeline is a streak detector run on every frame (``lsd`` or ``matched``,
:mod:`debristrack.detect.streaks`) followed by a linker: the physical one (``physical``,
:mod:`debristrack.track.physical`: streak = motion during the exposure, one-frame trails
kept) or a segment tracker (``sort``, ``bytetrack`` or ``ocsort``,
:mod:`debristrack.track.segments`); a method is named ``detector+linker``. For ``matched``
the frame first goes through the real-sky front end (:mod:`debristrack.detect.streaks.trails`:
static sky removed in a sequence, impulses and stripes cleaned, every candidate validated).
The result is a DESIGN.md streak table ``frame,id,x1,y1,x2,y2,score`` (``score`` = line SNR).

Detection and linking are separate functions (:func:`detect_sequence`, :func:`link`) so a
benchmark can detect once and link with every tracker.
"""

from __future__ import annotations

import collections
import dataclasses
import typing
from collections.abc import Callable

import numpy as np
from astropy.table import Table

from ..detect.streaks import LSDParams, MatchedParams, detect_lsd, detect_matched, star_mask
from ..detect.streaks.static_sky import static_sky_residuals
from ..detect.streaks.trails import detect_trails
from ..detect.streaks.validate import ValidatorParams
from ..errors import InputError
from ..io.tables import empty_table, normalize_streaks
from ..sdtnet.options import SdtnetConfig
from .physical import PhysicalParams, link_physical
from .segments import TRACKERS, TrackerParams, track_segments

DETECTORS = ("matched", "lsd")
# the first is the default: the best on the real frames of `debristrack bench real` (issue 14)
METHODS: tuple[str, ...] = ("matched+physical",) + tuple(
    f"{d}+{t}" for d in DETECTORS for t in ("ocsort", "bytetrack", "sort")) + ("lsd+physical", "sdtnet")

_PREFIX = {LSDParams: "lsd_", MatchedParams: "matched_", TrackerParams: "", SdtnetConfig: "sdtnet_",
           ValidatorParams: "trail_", PhysicalParams: "physical_"}


def _config_fields():
    fields = [("real_sky", bool, dataclasses.field(default=True, metadata={
        "help": "matched detector: remove the static sky (sequences of 3+ frames), clean impulses and "
                "stripes, validate every candidate as a trail (detect/streaks/trails.py); False = as [SDT]"})),
              ("star_stack", int, dataclasses.field(default=9, metadata={
        "help": "matched: frames in the median used to find the static stars (0 = this frame only)"})),
              ("min_speed", float, dataclasses.field(default=1.0, metadata={
                  "help": "tracks moving slower than this, pixels per frame, are dropped as static sky"})),
              ("max_motion_angle", float, dataclasses.field(default=20.0, metadata={
                  "help": "tracks moving more than this many degrees off their streaks' direction are "
                          "dropped (180 = keep all)"}))]
    for cls, prefix in _PREFIX.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            fields.append((prefix + f.name, hints[f.name],
                           dataclasses.field(default=f.default, metadata=f.metadata)))
    return fields


Config = dataclasses.make_dataclass("Config", _config_fields())
Config.__module__ = __name__
Config.__doc__ = (
    "Every parameter of the sidereal mode: ``star_stack``, ``min_speed``, ``max_motion_angle``, the LSD detector's (``lsd_*``, "
    ":class:`LSDParams`), the matched-filter detector's (``matched_*``, :class:`MatchedParams`) "
    "the trackers' (:class:`TrackerParams`, no prefix) and SDT-Net's (``sdtnet_*``, :class:`SdtnetConfig`).")


def sub_params(config, cls):
    """The ``cls`` parameters (LSDParams, MatchedParams or TrackerParams) held in ``config``."""
    prefix = _PREFIX[cls]
    return cls(**{f.name: getattr(config, prefix + f.name) for f in dataclasses.fields(cls)})


def parse_method(method: str) -> tuple[str, str]:
    """``"matched+ocsort"`` -> ``("matched", "ocsort")``; InputError on an unknown name."""
    detector, _, tracker = method.partition("+")
    if detector not in DETECTORS or (tracker not in TRACKERS and tracker != "physical"):
        raise InputError(f"unknown sidereal method {method!r}; use one of {', '.join(METHODS)}")
    return detector, tracker


def static_stars(seq, config, mp: MatchedParams) -> np.ndarray | None:
    """Star mask of the whole sequence from the median of ``star_stack`` evenly spaced frames
    (the stars stay on the same pixels in sidereal mode; the streaks move and are not compact)."""
    n = min(int(config.star_stack), len(seq))
    if n < 3:
        return None
    idx = np.unique(np.linspace(0, len(seq) - 1, n).round().astype(int))
    frames = [seq[i] for i in idx]
    median = np.median(np.stack([f.clean for f in frames]), axis=0)
    bad = np.logical_or.reduce([f.mask for f in frames])
    return star_mask(median, bad, mp)


def detect_sequence(seq, detector: str, config=None, *,
                    progress: Callable[[int, int], None] | None = None,
                    rejections: collections.Counter | None = None) -> list[np.ndarray]:
    """Run one streak detector on every frame.

    Parameters
    ----------
    seq : a :class:`debristrack.io.sequence.FrameSequence` (or any sequence of frames with
        ``clean`` and ``mask``, and ``len``).
    detector : ``"matched"`` or ``"lsd"``.
    config : :data:`Config` (defaults when None).
    progress : called as ``progress(done_frames, total_frames)``.
    rejections : a Counter that receives the trail validator's rejection reasons
        (``config.real_sky``, matched detector).

    Returns
    -------
    One ``(N_t, 5)`` array ``(x1, y1, x2, y2, score)`` per frame, pixels.
    """
    config = config or Config()
    if detector == "matched":
        mp = sub_params(config, MatchedParams)
        stars = static_stars(seq, config, mp)

        def run(image, mask, use_stars=True):
            # on a static-sky residual the stars are gone already: masking them would only hide trail
            return detect_matched(image, mask, static_stars=stars if use_stars else None, params=mp)
    elif detector == "lsd":
        lp = sub_params(config, LSDParams)

        def run(image, mask, use_stars=True):
            return detect_lsd(image, mask, params=lp)
    else:
        raise InputError(f"unknown streak detector {detector!r}; use one of {', '.join(DETECTORS)}")
    out = []
    real_sky = config.real_sky and detector == "matched"
    statics = _static_residuals(seq, config) if real_sky else None
    vp = sub_params(config, ValidatorParams)
    for i, frame in enumerate(seq):
        if real_sky:
            segs, reasons = detect_trails(frame.clean, frame.mask,
                                          lambda img, m, st=statics[i] is None: run(img, m, st),
                                          static_residual=statics[i], saturation=_saturation(frame),
                                          default_fwhm=config.matched_fwhm, params=vp)
            if rejections is not None:
                rejections.update(reasons)
            out.append(segs)
        else:
            out.append(run(frame.clean, frame.mask))
        if progress is not None:
            progress(i + 1, len(seq))
    return out


def _saturation(frame) -> float | None:
    level = (getattr(frame, "header", None) or {}).get("SATURATE")
    try:
        return float(level) if level is not None else None
    except (TypeError, ValueError):
        return None


def _static_residuals(seq, config) -> list:
    """Frame minus the median of its neighbours, per frame (None for every frame of a
    sequence under 3 frames): :func:`static_sky_residuals` over ``config.star_stack`` others."""
    n = len(seq)
    starts, _ = frame_times(seq)
    if n < 3 or np.any(np.diff(starts) <= 0):  # not a time series (e.g. the CCDs of one mosaic exposure)
        return [None] * n
    frames = [seq[i] for i in range(n)]
    return static_sky_residuals([f.clean for f in frames], [f.mask for f in frames],
                                window=max(2, int(config.star_stack) - 1))


def implausible_tracks(ids: np.ndarray, frames: np.ndarray, segs: np.ndarray, *, min_speed: float,
                       max_motion_angle: float) -> np.ndarray:
    """Rows of tracks that cannot be debris in sidereal mode.

    The sky is fixed, so a track that does not move (a blended star pair, a galaxy, a
    defect) is dropped: its centre moves less than ``min_speed`` pixels per frame between
    its first and last frame. And a streak is the trail of the object's motion during the
    exposure ([SDT] eq. 4-5 use one angle for both), so a track must move along its own
    streaks: the angle between its overall displacement and the streaks' mean direction
    must stay within ``max_motion_angle`` degrees (180 disables the test). Tracks seen in a
    single frame are kept.

    Parameters
    ----------
    ids, frames : (N,) track ID and frame of each row. segs : (N, 4) ``x1, y1, x2, y2``, px.

    Returns
    -------
    (N,) bool, True on the rows of implausible tracks.
    """
    uid, inv = np.unique(ids, return_inverse=True)
    n = len(uid)
    centres = 0.5 * (segs[:, 0:2] + segs[:, 2:4])
    first_f = np.full(n, np.inf)
    last_f = np.full(n, -np.inf)
    np.minimum.at(first_f, inv, frames)
    np.maximum.at(last_f, inv, frames)
    c_first, c_last = np.zeros((n, 2)), np.zeros((n, 2))
    at_first, at_last = frames == first_f[inv], frames == last_f[inv]
    c_first[inv[at_first]] = centres[at_first]
    c_last[inv[at_last]] = centres[at_last]
    span = last_f - first_f
    move = c_last - c_first
    speed = np.hypot(move[:, 0], move[:, 1]) / np.maximum(span, 1)
    # mean streak axis per track: average of the doubled angles (direction-free)
    phi = 2 * np.arctan2(segs[:, 3] - segs[:, 1], segs[:, 2] - segs[:, 0])
    axis = 0.5 * np.arctan2(np.bincount(inv, np.sin(phi), n), np.bincount(inv, np.cos(phi), n))
    off = np.abs(np.arctan2(move[:, 1], move[:, 0]) - axis) % np.pi
    off = np.degrees(np.minimum(off, np.pi - off))
    bad = (span > 0) & ((speed < min_speed) | (off > max_motion_angle))
    return bad[inv]


def plausible_tracks(table: Table, config=None, *, n_frames: int | None = None) -> Table:
    """The rows of ``table`` (DESIGN.md streak table) whose tracks have at least
    ``config.min_hits`` rows (at most ``n_frames``, default the frames the table spans) and
    pass :func:`implausible_tracks`: the track filter of every sidereal method (:func:`link`
    and SDT-Net)."""
    config = config or Config()
    if len(table) == 0:
        return table
    ids, frames = np.asarray(table["id"]), np.asarray(table["frame"])
    n_frames = n_frames if n_frames is not None else int(frames.max() - frames.min() + 1)
    _, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
    keep = counts[inv] >= min(int(config.min_hits), n_frames)
    segs = np.column_stack([np.asarray(table[c], float) for c in ("x1", "y1", "x2", "y2")])
    keep &= ~implausible_tracks(ids, frames, segs, min_speed=config.min_speed,
                                max_motion_angle=config.max_motion_angle)
    return table[keep]


def link(detections: list[np.ndarray], tracker: str, config=None) -> Table:
    """Link per-frame detections with one tracker into a DESIGN.md streak table.

    Tracks that do not move or move across their own streaks are dropped
    (:func:`plausible_tracks`: ``config.min_speed`` and ``config.max_motion_angle``).
    Returns a table ``frame,id,x1,y1,x2,y2,score`` (left endpoint first).
    """
    config = config or Config()
    per_frame = track_segments(detections, tracker, params=sub_params(config, TrackerParams))
    rows = [np.column_stack([np.full(len(r), t), r]) for t, r in enumerate(per_frame) if len(r)]
    table = empty_table("streak", ("score",))
    if not rows:
        return table
    a = np.vstack(rows)  # frame, x1, y1, x2, y2, score, id
    table = Table([a[:, 0].astype(np.int64), a[:, 6].astype(np.int64), a[:, 1], a[:, 2], a[:, 3],
                   a[:, 4], a[:, 5]], names=("frame", "id", "x1", "y1", "x2", "y2", "score"))
    return plausible_tracks(normalize_streaks(table), config, n_frames=len(detections))


def track_sequence(seq, *, method: str = METHODS[0], config=None, progress=None) -> Table:
    """Detect and track streaks in a sidereal sequence.

    Parameters
    ----------
    seq : :class:`debristrack.io.sequence.FrameSequence`.
    method : ``"detector+tracker"`` or ``"sdtnet"``, one of :data:`METHODS`.
    config : :data:`Config` (defaults when None).
    progress : None or ``progress(done_frames, total_frames)``.

    Returns
    -------
    astropy Table ``frame,id,x1,y1,x2,y2,score``, pixels (0-based, x = column, y = row).
    """
    config = config if config is not None else Config()
    if method == "sdtnet":  # [SDT] sec. 4: torch is imported only when the network is asked for
        from ..sdtnet.infer import track_sequence_sdtnet

        seq.require(1, "sdtnet needs at least 1 frame")
        tracks = track_sequence_sdtnet(seq, config=sub_params(config, SdtnetConfig), progress=progress)
        return plausible_tracks(tracks, config, n_frames=len(seq))
    detector, tracker = parse_method(method)
    seq.require(1, f"{method} needs at least 1 frame")
    detections = detect_sequence(seq, detector, config, progress=progress)
    if tracker == "physical":
        starts, exptimes = frame_times(seq)
        return link_physical(detections, starts, exptimes, seq[0].clean.shape, sub_params(config, PhysicalParams))
    return link(detections, tracker, config)


def frame_times(seq) -> tuple[np.ndarray, np.ndarray]:
    """Exposure starts (s since the first, from DATE-OBS and the header adapters) and exposure
    times (s) of every frame; frames without them get start = index x (1 s) and EXPTIME 1 s
    (a streak's rate is then per frame, as [SDT] eq. 5)."""
    from ..io.header import exposure_time
    from ..io.times import start_time

    n = len(seq)
    heads = [seq.header(i) if hasattr(seq, "header") else getattr(seq[i], "header", None) for i in range(n)]
    t0 = [start_time(h) if h is not None else None for h in heads]
    e = [exposure_time(h) if h is not None else None for h in heads]
    if any(t is None for t in t0) or any(x is None or x <= 0 for x in e):
        return np.arange(n, dtype=float), np.full(n, 1.0)
    starts = np.array([(t - t0[0]).to_value("s") for t in t0])
    return starts, np.asarray(e, dtype=float)
