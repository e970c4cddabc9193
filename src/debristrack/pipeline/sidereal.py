"""Sidereal mode: streaks moving across a star field that stays put ([SDT]).

The classical methods run a streak detector on every frame (``lsd`` or ``matched``,
:mod:`debristrack.detect.streaks`) and a linker: the physical one (``physical``,
:mod:`debristrack.track.physical`: a streak is the motion during its exposure, one-frame
trails kept; :class:`PhysicalMethod`) or a segment tracker (``sort``, ``bytetrack`` or
``ocsort``, :mod:`debristrack.track.segments`; :class:`StreakMethod`); a method is named
``detector+linker``. For ``matched`` each frame first goes through the real-sky front end
(:mod:`debristrack.detect.streaks.trails`: static sky removed in a sequence, impulses and
stripes cleaned, every candidate validated as a trail). ``sdtnet`` runs the network (:mod:`debristrack.sdtnet.infer`) and
its offset tracker (:mod:`debristrack.track.offset`) (:class:`SdtnetMethod`). Both are
driven by the frame loop (:mod:`.loop`) and end with the same track filter
(:func:`plausible_tracks`). The result is a DESIGN.md streak table
``frame,id,x1,y1,x2,y2,score`` (``score`` = line SNR, or the net's score).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from astropy.table import Table, vstack

from ..config import check_ranges
from ..detect.streaks import LSDParams, MatchedParams, detect_lsd, detect_matched, star_mask
from ..detect.streaks.clean import prepare
from ..detect.streaks.geometry import as_segments, lengths
from ..detect.streaks.static_sky import (QUANTUM, Measured, Sky, StaticSky, measure, pack_mask, quantized,
                                         unpack_mask)
from ..detect.streaks.geometry import line_median_snr
from ..detect.streaks.trails import Candidates, FrameFacts, detect_candidates, frame_facts
from ..detect.streaks.validate import ValidatorParams, validated
from ..errors import InputError
from ..io.tables import empty_table, normalize_streaks
from ..sdtnet.options import INPUTS, SdtnetConfig
from ..track.offset import OffsetTracker
from ..track.physical import PhysicalLinker, PhysicalParams, plausible_one_frame_trail, rows_table
from ..track.segments import TRACKERS, TrackerParams
from .loop import run_method

DETECTORS = ("matched", "lsd")
# the first is the default: the best on the real frames of `debristrack bench real` (issue 14)
METHODS: tuple[str, ...] = ("matched+physical",) + tuple(
    f"{d}+{t}" for d in DETECTORS for t in ("ocsort", "bytetrack", "sort")) + ("lsd+physical", "sdtnet")


@dataclass(frozen=True)
class RealSkyConfig:
    """Whether the matched detector gets the real-sky front end (detect/streaks/trails.py)."""

    real_sky: bool = field(default=True, metadata={
        "help": "matched detector: remove the static sky (sequences of 3+ frames), clean impulses and "
                "stripes, validate every candidate as a trail (detect/streaks/trails.py); false = as [SDT]"})


@dataclass(frozen=True)
class FilterConfig:
    """The sidereal track filter (:func:`plausible_tracks`) and the static-star median."""

    RANGES: ClassVar[dict[str, str]] = {"star_stack": "[0, inf)", "min_speed": "[0, inf)",
                                        "max_motion_angle": "[0, 180]"}

    star_stack: int = field(default=9, metadata={
        "help": "matched: frames in the median used to find the static stars (0 = this frame only)"})
    min_speed: float = field(default=1.0, metadata={
        "help": "tracks moving slower than this, pixels per frame, are dropped as static sky"})
    max_motion_angle: float = field(default=20.0, metadata={
        "help": "tracks moving more than this many degrees off their streaks' direction are "
                "dropped (180 = keep all)"})


@dataclass(frozen=True)
class Config:
    """Every parameter of the sidereal mode, one nested config per stage; the flags keep
    their prefixes: ``--matched-*`` (:class:`MatchedParams`), ``--lsd-*`` (:class:`LSDParams`),
    the trackers' without prefix (:class:`TrackerParams`), ``--sdtnet-*``
    (:class:`SdtnetConfig`), the track filter's without prefix (:class:`FilterConfig`),
    ``--real-sky`` (:class:`RealSkyConfig`), the trail validator's ``--trail-*``
    (:class:`ValidatorParams`) and the physical linker's ``--physical-*`` (:class:`PhysicalParams`)."""

    matched: MatchedParams = field(default_factory=MatchedParams, metadata={"prefix": "matched_"})
    lsd: LSDParams = field(default_factory=LSDParams, metadata={"prefix": "lsd_"})
    tracker: TrackerParams = field(default_factory=TrackerParams, metadata={"prefix": ""})
    sdtnet: SdtnetConfig = field(default_factory=SdtnetConfig, metadata={"prefix": "sdtnet_"})
    filter: FilterConfig = field(default_factory=FilterConfig, metadata={"prefix": ""})
    real: RealSkyConfig = field(default_factory=RealSkyConfig, metadata={"prefix": ""})
    trail: ValidatorParams = field(default_factory=ValidatorParams, metadata={"prefix": "trail_"})
    physical: PhysicalParams = field(default_factory=PhysicalParams, metadata={"prefix": "physical_"})

    def validate(self, where: str = "track --mode sidereal") -> None:
        """Raise :class:`InputError` naming the first flag outside its range (README table)."""
        check_ranges(self, where)
        t = self.tracker
        if t.low_score > t.high_score:
            raise InputError(f"{where}: --low-score ({t.low_score}) must not exceed --high-score ({t.high_score})")
        if self.sdtnet.device not in ("auto", "cpu", "cuda"):
            raise InputError(f"{where}: --sdtnet-device must be auto, cpu or cuda, got {self.sdtnet.device!r}")
        if self.sdtnet.input not in INPUTS:
            raise InputError(f"{where}: --sdtnet-input must be {', '.join(INPUTS[:-1])} or {INPUTS[-1]}, "
                             f"got {self.sdtnet.input!r}")


def parse_method(method: str) -> tuple[str, str]:
    """``"matched+ocsort"`` -> ``("matched", "ocsort")``; InputError on an unknown name."""
    detector, _, tracker = method.partition("+")
    if detector not in DETECTORS or (tracker not in TRACKERS and tracker != "physical"):
        raise InputError(f"unknown sidereal method {method!r}; use one of {', '.join(METHODS)}")
    return detector, tracker


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


STEADY_TOL = 4.0  # px: least tolerance of unsteady_tracks (the net's endpoints scatter by 1-2 px)
AXIS_LENGTH = 12.0  # px: streaks at least this long have a direction unsteady_tracks compares


def unsteady_tracks(ids: np.ndarray, frames: np.ndarray, segs: np.ndarray, *, tol: float = STEADY_TOL,
                    max_angle: float = 20.0) -> np.ndarray:
    """Rows of tracks that do not move as one object does: debris crosses a sidereal field in
    a straight line at a steady rate, so its streaks are parallel (those of ``AXIS_LENGTH`` px
    or more within ``max_angle`` degrees of each other) and, from 3 streaks on, their centres
    lie on a line (within ``tol`` px plus 3 % of their spread, across it; a streak cut by the
    frame edge moves its centre along the line, not across) and advance along it frame after
    frame (steps back of more than ``tol`` px are not motion). Pieces of noise linked by
    chance within an association radius do none of that.

    ``ids``, ``frames`` (N,), ``segs`` (N, 4) ``x1, y1, x2, y2``; returns (N,) bool."""
    bad = np.zeros(len(ids), bool)
    centres = 0.5 * (segs[:, 0:2] + segs[:, 2:4])
    d = segs[:, 2:4] - segs[:, 0:2]
    long = np.hypot(d[:, 0], d[:, 1]) >= AXIS_LENGTH
    phi = np.arctan2(d[:, 1], d[:, 0])
    for i in np.unique(ids):
        rows = np.flatnonzero(ids == i)
        if len(rows) < 2:
            continue
        a = phi[rows[long[rows]]]
        turn = np.abs(a[:, None] - a[None, :]) % np.pi
        if len(a) > 1 and np.degrees(np.minimum(turn, np.pi - turn)).max() > max_angle:
            bad[rows] = True
            continue
        if len(rows) < 3:
            continue
        rows = rows[np.argsort(frames[rows], kind="stable")]
        c = centres[rows] - centres[rows].mean(axis=0)
        vt = np.linalg.svd(c, full_matrices=False)[2]
        along, across = c @ vt[0], c @ vt[1]
        steps = np.diff(along)
        back = min(steps[steps > 0].sum(), -steps[steps < 0].sum())
        bad[rows] = (np.abs(across).max() > tol + 0.03 * float(np.ptp(along))) or (back > tol)
    return bad


def plausible_tracks(table: Table, config: Config | None = None, *, n_frames: int | None = None) -> Table:
    """The rows of ``table`` (DESIGN.md streak table) whose tracks have at least
    ``config.tracker.min_hits`` rows (at most ``n_frames``, default the frames the table
    spans) and pass :func:`implausible_tracks`: the track filter of every sidereal method."""
    config = config or Config()
    if len(table) == 0:
        return table
    ids, frames = np.asarray(table["id"]), np.asarray(table["frame"])
    n_frames = n_frames if n_frames is not None else int(frames.max() - frames.min() + 1)
    _, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
    keep = counts[inv] >= min(int(config.tracker.min_hits), n_frames)
    segs = np.column_stack([np.asarray(table[c], float) for c in ("x1", "y1", "x2", "y2")])
    keep &= ~implausible_tracks(ids, frames, segs, min_speed=config.filter.min_speed,
                                max_motion_angle=config.filter.max_motion_angle)
    return table[keep]


def _streak_table(rows: list[np.ndarray]) -> Table:
    """Table ``frame,id,x1,y1,x2,y2,score`` from per-frame arrays (frame, id, x1, y1, x2, y2, score)."""
    table = empty_table("streak", ("score",))
    data = np.vstack(rows) if rows else np.zeros((0, 7))
    if len(data):
        table = Table([data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), *data[:, 2:].T],
                      names=("frame", "id", "x1", "y1", "x2", "y2", "score"))
    return normalize_streaks(table)


class StreakMethod:
    """A classical streak detector and a segment tracker, the frame loop's method.

    ``step`` detects the frame's streaks and updates the tracker (online, Kalman predict /
    associate / update). A track the tracker has dropped (lost for more than ``max_age``
    frames) gets no more rows, so ``step`` decides it at once: its rows are returned when it
    has ``min_hits`` of them and passes the sidereal track filter, the same test ``finish``
    applies to the tracks still open at the end (:func:`plausible_tracks` judges each track
    on its own rows, so the rows are the same whichever call returns them).

    With ``sky`` (the ``matched`` detector in a sequence, :func:`sky_window`) each frame first
    goes into the streamed static sky (:class:`~debristrack.detect.streaks.static_sky.StaticSky`,
    a bounded window of frames): a frame is detected once its window is complete (``window //
    2`` frames later for a centred window, at once for a past-only one), so ``step`` may
    detect an earlier frame than the one it was given, and ``finish`` detects the frames still
    waiting. The window gives the frame its static-sky residual (real-sky front end) or the
    median its static-star mask comes from (``--real-sky false``). A centred window's work on
    a frame (registration; order statistics and, with the real-sky front end, cleaning of a
    frame's residual) runs in a thread while the frame before is detected (the second core):
    one frame's sky at a time, also where several become decidable at once (a night's first
    window, its end), so the frames come one ``step`` later; a past-only window (live frames)
    works at once.

    Parameters
    ----------
    detector : ``"matched"`` or ``"lsd"``. tracker : ``"sort"``, ``"bytetrack"`` or ``"ocsort"``.
    sky : the static sky window (:func:`sky_window`), or None.
    rejections : a Counter that receives the trail validator's rejection reasons.
    """

    clean_ahead: ClassVar[bool] = True  # the window's thread cleans each residual for detect_soft (_next)

    def __init__(self, detector: str, tracker: str, config: Config, *, sky: StaticSky | None = None,
                 rejections: collections.Counter | None = None):
        if detector not in DETECTORS:
            raise InputError(f"unknown streak detector {detector!r}; use one of {', '.join(DETECTORS)}")
        self.detector, self.config, self.sky, self.rejections = detector, config, sky, rejections
        self.tracker = TRACKERS[tracker](config.tracker) if tracker in TRACKERS else None
        self.frames = 0
        self.open: dict[int, list[np.ndarray]] = {}  # track id -> its rows (frame, id, x1, y1, x2, y2, score)
        self._start = None  # the last frame's start time: a static sky needs them increasing
        self._overlap = sky is not None and sky.after > 0  # the window in a thread (centred windows)
        self._pool = None
        self._window = None  # the window's work on the last frame (a Future of _ready's list)
        self._stacking = None  # past-only windows: the next frame's stack being made (a Future)

    @property
    def real_sky(self) -> bool:
        return bool(self.config.real.real_sky) and self.detector == "matched"

    def detect(self, frame, sky: Sky | None = None) -> np.ndarray:
        """(N, 5) ``x1, y1, x2, y2, score`` of one frame (``clean`` and ``mask``; ``sky``: what
        the static sky window gives for it, :class:`~debristrack.detect.streaks.static_sky.Sky`)."""
        return self.detect_soft(frame, sky)[0]

    def detect_soft(self, frame, sky: Sky | None = None) -> Candidates:
        """:meth:`detect`'s trails, the validator's rejected candidates, which of them are only
        short, and the residual searched (:class:`Candidates`; without the real-sky front end
        only the trails), for the physical linker."""
        p = self.config.matched
        stars = None
        if sky is not None and sky.median is not None:
            stars = star_mask(sky.median, sky.bad, p)
        if not self.real_sky:
            if self.detector == "matched":
                segs = detect_matched(frame.clean, frame.mask, static_stars=stars, params=p)
            else:
                segs = detect_lsd(frame.clean, frame.mask, params=self.config.lsd)
            return Candidates(segs, None, collections.Counter(), None, None, 0.0)
        static = sky.static_residual() if sky is not None else None
        # on a static-sky residual the stars are gone already: masking them would only hide trail
        stars = stars if static is None else None
        image = frame.clean
        if image is None and static is None:  # a held frame without its pixels: the window's copy
            image = sky.own
        # slow objects' streaks are searched down to trail.short_length; under the detector's
        # min_length they only count as short candidates (a track when 3 frames show them moving)
        search = dataclasses.replace(p, min_length=min(p.min_length, self.config.trail.short_length))

        def detector(img, m, rms):
            return detect_matched(img, m, static_stars=stars, params=search, sky_rms=rms)

        found = detect_candidates(
            image, frame.mask, detector,
            static_residual=static, saturation=_saturation(frame), default_fwhm=p.fwhm,
            params=self.config.trail, facts=getattr(frame, "facts", None), cleaned=sky.cleaned if sky else None)
        segs = found.trails
        brief = lengths(segs) < p.min_length if len(segs) else np.zeros(0, bool)
        if brief.any():
            found = found._replace(trails=segs[~brief], rejected=np.vstack([as_segments(found.rejected), segs[brief]]),
                                   short=np.concatenate([found.short, np.ones(int(brief.sum()), bool)]))
            found.reasons["short"] += int(brief.sum())
        if self.rejections is not None:
            self.rejections.update(found.reasons)
        return found

    def prepare(self, frame):
        """The work on ``frame`` that needs no state, in the frame loop's read-ahead thread while
        ``step`` works on the previous frame: the static sky window's (its background and
        sources, :func:`~debristrack.detect.streaks.static_sky.measure`) and, with the real-sky
        front end, what the trail validator needs of the frame itself (:func:`frame_facts`, from
        that same background)."""
        measured = measure(frame.clean, frame.mask) if self.sky is not None else None
        facts = None
        if self.real_sky:
            own = (measured.sub, measured.sigma) if measured is not None else None
            facts = frame_facts(frame.clean, frame.mask, own=own, saturation=_saturation(frame),
                                default_fwhm=self.config.matched.fwhm,
                                objects=measured.objects if measured is not None else None)
            if measured is not None:  # the window has what it needs: the frame's pixels go now
                frame = _Held(None, pack_mask(frame.mask), getattr(frame, "header", None), facts, frame.clean.shape)
        return _Prepared(frame, measured, facts)

    def step(self, index: int, frame) -> Table | None:
        if not self._overlap:
            self._stacked()
            rows = _joined([self._frame(i, f, s) for i, f, s in self._ready(index, frame)])
            if self.sky is not None:
                # a live night: the next frame's stack while this frame's rows are written and the
                # next frame is awaited (StaticSky.prestack), not in that frame's latency
                self._stacking = self._worker().submit(self.sky.prestack)
            return rows
        # only the worker touches the window; it makes one frame's sky while this thread detects
        # the frame before (several frames become decidable at once when a night's first window is
        # full: their skies one at a time, each while the one before is detected)
        rows, ready = [], self._waited()
        while True:
            more = self.sky is not None and self.sky.decidable()
            task = (self._next, False) if more else (self._ready, index, frame, True)
            self._window = self._worker().submit(*task)
            rows += [self._frame(i, f, s) for i, f, s in ready]
            if not more:
                return _joined(rows)
            ready = self._waited()

    def _worker(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1)
        return self._pool

    def _waited(self) -> list[tuple[int, object, Sky | None]]:
        """What the window's work on the last frame made ready (waiting for it to end)."""
        if self._window is None:
            return []
        ready, self._window = self._window.result(), None
        return ready

    def _stacked(self) -> None:
        """Wait for the next stack made ahead (a past-only window): done before the window moves."""
        if self._stacking is not None:
            self._stacking.result()
            self._stacking = None

    def _ready(self, index: int, frame, first: bool = False) -> list[tuple[int, object, Sky | None]]:
        """``(index, frame, sky)`` of the frames whose window is complete now that ``frame``
        came (just ``frame`` without a sky window; ``first``: only the first of them, the others
        from :meth:`_next`)."""
        measured = facts = None
        if isinstance(frame, _Prepared):
            frame, measured, facts = frame.take()
        if self.sky is None:
            if isinstance(frame, _Held) and frame.clean is None:
                # prepared for a window given up since (the read-ahead ran first): its background-subtracted pixels
                frame = dataclasses.replace(frame, clean=measured.sub)
            elif facts is not None and not isinstance(frame, _Held):
                frame = _Held(frame.clean, frame.mask, getattr(frame, "header", None), facts)
            return [(index, frame, None)]
        header = getattr(frame, "header", None)
        start = _exposure(header)[0] if header is not None else None
        if start is not None and self._start is not None and (start - self._start).to_value("s") <= 0:
            # start times that do not increase (the CCDs of one mosaic exposure): no static sky
            waiting = [(i, f if f.clean is not None else dataclasses.replace(f, clean=self.sky.own(pos)), None)
                       for pos, (i, f) in self.sky.pending]
            self.sky = None
            if frame.clean is None:  # its pixels went in the read-ahead: its background-subtracted ones
                frame = dataclasses.replace(frame, clean=measured.sub)
            return waiting + [(index, frame, None)]
        self._start = start if start is not None else self._start
        # only what detection needs, while the window fills: the bad-pixel mask as bits, and the
        # pixels only without the real-sky front end (its frames' facts are measured, the
        # residual comes from the window)
        if not isinstance(frame, _Held):
            frame = _Held(frame.clean if facts is None else None, pack_mask(frame.mask), header, facts,
                          frame.clean.shape)
        if first:
            self.sky.add(frame.clean, frame.mask, (index, frame), measured=measured)
            return self._next(False)
        return [(*s.payload, s) for s in self.sky.push(frame.clean, frame.mask, (index, frame), measured=measured)]

    def _next(self, final: bool) -> list[tuple[int, object, Sky | None]]:
        """The next decidable frame's ``(index, frame, sky)`` (a list of it, empty when none;
        ``final``: at the end of the night), its static-sky residual cleaned for the classical
        detector (:func:`~debristrack.detect.streaks.clean.prepare`) here, in the window's
        thread, while the frame before it is detected (not for a frame too bad to detect: its
        residual is never read)."""
        sky = self.sky.next_sky(final)
        if sky is None:
            return []
        index, frame = sky.payload
        facts = getattr(frame, "facts", None)
        if self.clean_ahead and self.real_sky and not (facts is not None and facts.unusable):
            mask = frame.mask
            sky = sky.cleaned_by(lambda residual: prepare(residual, mask, static=True))
        return [(index, frame, sky)]

    def _drain(self) -> Iterator[tuple[int, object, Sky | None]]:
        """The frames still waiting for their window, at the end of the night: each sky made
        in the worker while the frame before it is detected."""
        ready = self._waited()
        self._stacked()
        while True:
            more = self.sky is not None and self.sky.decidable(final=True)
            if more:
                self._window = self._worker().submit(self._next, True)
            yield from ready
            if not more:
                break
            ready = self._waited()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _frame(self, index: int, frame, sky: Sky | None) -> Table | None:
        """One frame whose window is complete: detect, link; the rows of the tracks that ended."""
        return self.link(index, self.detect(frame, sky))

    def link(self, index: int, detections: np.ndarray) -> Table | None:
        """Frame ``index``'s detections ((N, 5), :meth:`detect`) into the tracker; the rows of
        the tracks that ended (``step`` without the detection, for detections made once and
        linked by several trackers, as ``bench real`` does)."""
        rows = self.tracker.update(detections)  # (K, 6): x1, y1, x2, y2, score, id
        self.frames += 1
        for r in rows:
            self.open.setdefault(int(r[5]), []).append(np.concatenate([[index, r[5]], r[:5]]))
        if self.frames < self.config.tracker.min_hits:
            return None  # min(min_hits, frames of the night) is not known yet
        alive = {t.id for t in self.tracker.tracks}
        return self._decide([i for i in self.open if i not in alive])

    def _decide(self, ids) -> Table:
        """Keep or drop the tracks ``ids`` (no more rows can come for them): their rows that
        pass :func:`plausible_tracks` (``min_hits`` rows, moving along their streaks)."""
        rows = [np.vstack(self.open.pop(i)) for i in ids]
        return plausible_tracks(_streak_table(rows), self.config, n_frames=self.frames)

    def finish(self) -> Table:
        early = [self._frame(i, f, s) for i, f, s in self._drain()]
        return _joined(early + [self._decide(list(self.open))])


@dataclass
class _Prepared:
    """A frame and its :meth:`StreakMethod.prepare` work, handed over once (:meth:`take`): the
    frame loop keeps a reference to what it passed to ``step`` for as long as the step runs,
    which must not keep the frame's pixels alive while earlier frames are detected."""

    frame: object
    measured: Measured | None
    facts: FrameFacts | None

    def take(self) -> tuple[object, Measured | None, FrameFacts | None]:
        out = (self.frame, self.measured, self.facts)
        self.frame = self.measured = self.facts = None
        return out


@dataclass(frozen=True)
class _Held:
    """What detection needs of a frame (not its raw data): ``clean`` (None while it waits in
    the static sky window with the real-sky front end), the bad-pixel mask (as bits,
    :func:`pack_mask`, while it waits in the window), header, :class:`FrameFacts` and shape."""

    clean: np.ndarray | None
    packed: tuple | np.ndarray | None
    header: object
    facts: FrameFacts | None = None
    shape: tuple[int, int] | None = None

    @property
    def mask(self) -> np.ndarray | None:
        return self.packed if not isinstance(self.packed, tuple) else unpack_mask(self.packed)


def _joined(parts) -> Table | None:
    """The parts' rows as one table (None when no part; the last empty one keeps the columns)."""
    given = [p for p in parts if p is not None]
    full = [p for p in given if len(p)]
    if not full:
        return given[-1] if given else None
    return full[0] if len(full) == 1 else vstack(full, metadata_conflicts="silent")


class PhysicalMethod(StreakMethod):
    """A classical streak detector and the physical linker (:class:`PhysicalLinker`), the frame
    loop's method, online: ``step`` detects the frame's trails (and, with the real-sky front
    end, keeps the validator's rejected candidates for the linker) and returns the rows the
    linker decides now: a streak continuing a track at once, a new track's first streak one
    frame later; ``finish`` the last frame's new tracks. Exposure start and time come from
    ``times`` (:func:`frame_times`, the whole sequence known beforehand, as ``track`` has it)
    or else from each frame's own header (``watch``), relative to the first frame. One-frame
    trails are reported as ``single`` tracks."""

    def __init__(self, detector: str, config: Config, *, times: tuple[np.ndarray, np.ndarray] | None = None,
                 shape=None, **kw):
        super().__init__(detector, "physical", config, **kw)
        self.times, self.shape = times, shape
        self.linker: PhysicalLinker | None = None
        self.t0 = None  # the first frame's (start time, EXPTIME) from its header, for frames without ``times``
        self.out: list[np.ndarray] | None = None  # each frame's trails, kept only when asked (bench real)
        # the last frames' residuals in steps of 1 / QUANTUM of their noise (int16): where a track
        # predicts a streak the linker looks (this frame, and the one before a new track's first)
        self.seen: collections.deque = collections.deque(maxlen=3)

    def _exposure(self, index: int, frame) -> tuple[float, float]:
        start, exptime = _exposure(getattr(frame, "header", None))
        if self.t0 is None:  # the first frame: the origin of the times (as frame_times has it)
            self.t0 = (start, exptime)
        if self.times is not None and index < len(self.times[0]):
            return float(self.times[0][index]), float(self.times[1][index])
        if start is None or exptime is None or exptime <= 0 or self.t0[0] is None:
            return float(index), 1.0  # no times: a streak's rate is per frame, as [SDT] eq. 5
        return float((start - self.t0[0]).to_value("s")), float(exptime)

    def _frame(self, index: int, frame, sky) -> Table:
        """One frame whose static sky window is complete: detect, link; the rows decided now."""
        if self.linker is None:
            self.shape = self.shape or getattr(frame, "shape", None) or frame.clean.shape
            self.linker = PhysicalLinker(self.shape, self.config.physical)
        found = self.detect_soft(frame, sky)
        if self.out is not None:
            self.out.append(found.trails)
        if found.residual is not None and found.sigma > 0:
            self.seen.append((index, quantized(found.residual, found.sigma / QUANTUM)))
        start, exptime = self._exposure(index, frame)
        return rows_table(self.linker.step(index, found.trails, start, exptime, found.rejected, found.short,
                                           probe=self._probe))

    def _probe(self, index: int, segs: np.ndarray) -> np.ndarray | None:
        """Robust SNRs along ``segs`` in frame ``index``'s residual, None when it is not held."""
        q = next((q for k, q in self.seen if k == index), None)
        return None if q is None else line_median_snr(q, segs) / QUANTUM

    def finish(self) -> Table:
        early = [self._frame(i, f, s) for i, f, s in self._drain()]
        return _joined(early + [rows_table(self.linker.finish() if self.linker is not None else [])])


def _saturation(frame) -> float | None:
    level = (getattr(frame, "header", None) or {}).get("SATURATE")
    try:
        return float(level) if level is not None else None
    except (TypeError, ValueError):
        return None


def _exposure(header) -> tuple:
    """(start time, EXPTIME) of one frame from its header (the header adapters), None where missing."""
    from ..io.header import exposure_time
    from ..io.times import start_time

    if header is None:
        return None, None
    return start_time(header), exposure_time(header)


def _relative_times(exposures: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Exposure starts (s since the first) and exposure times (s) from per-frame ``(start,
    EXPTIME)``; when any frame lacks them, start = index x (1 s) and EXPTIME 1 s for all (a
    streak's rate is then per frame, as [SDT] eq. 5)."""
    n = len(exposures)
    t0 = [t for t, _ in exposures]
    e = [x for _, x in exposures]
    if any(t is None for t in t0) or any(x is None or x <= 0 for x in e):
        return np.arange(n, dtype=float), np.full(n, 1.0)
    starts = np.array([(t - t0[0]).to_value("s") for t in t0])
    return starts, np.asarray(e, dtype=float)


def frame_times(seq) -> tuple[np.ndarray, np.ndarray]:
    """Exposure starts (s since the first, from DATE-OBS and the header adapters) and exposure
    times (s) of every frame of ``seq`` (:func:`_relative_times`)."""
    n = len(seq)
    heads = [seq.header(i) if hasattr(seq, "header") else getattr(seq[i], "header", None) for i in range(n)]
    return _relative_times([_exposure(h) for h in heads])


class SdtnetMethod(StreakMethod):
    """SDT-Net ([SDT] sec. 4) and its offset tracker (eq. 13-14 and the streaks' physics,
    :mod:`debristrack.track.offset`), the frame loop's method.

    The net sees, per ``config.sdtnet.input`` (``auto``: what its weights were trained on), the
    frame itself (``frame``: ``clean``, bad pixels replaced) or what the classical detector sees
    (``residual``, with ``sky``: the frame minus its static sky, cleaned by
    :func:`debristrack.detect.streaks.clean.prepare`: stars, hot pixels, nebulae, impulses and
    stripes gone; the frame itself where the window has no residual for it). The static sky
    window is :class:`StreakMethod`'s (a centred window's frame comes ``window // 2`` frames
    later; its work in the second thread). Each frame's streaks are associated with its
    exposure start and EXPTIME from its header (a streak gives its own rate) and
    (``validate``) judged by the classical trail validator, on what the net saw; ``finish``
    keeps the tracks of one or two streaks the validator passes (on frames: most of them; on
    residuals: all) and the longer tracks, which the motion tests judge; drops those that do not
    move as one object (:func:`unsteady_tracks`), applies the sidereal track filter and, with ``singles``,
    keeps the one-frame trails the classical physical linker keeps (flagged ``single``). torch
    is imported here, only when the network is asked for.
    """

    clean_ahead: ClassVar[bool] = False  # _input cleans the residual its own way

    def __init__(self, config: Config, *, sky: StaticSky | None = None):
        from ..sdtnet.infer import SdtnetDetector  # [SDT] sec. 4: torch only for this method

        net = SdtnetDetector(config.sdtnet)
        # auto: what the weights were trained to see (their model config's input)
        self.input = config.sdtnet.input if config.sdtnet.input != "auto" else net.model.config.input
        super().__init__("matched", "sdtnet", config, sky=sky if self.input == "residual" else None)
        self.net = net
        self.offsets = None  # the OffsetTracker (made at the first frame: it needs the shape)
        self.shape = None
        self.rows: list[np.ndarray] = []
        self.exposures: list[tuple] = []  # each frame's (start, EXPTIME) from its header
        self.valid: list[np.ndarray] = []  # per frame, whether each streak passed the trail validator
        self.on_residual: list[bool] = []  # per frame, whether the net saw its static-sky residual

    @property
    def real_sky(self) -> bool:
        return True  # the frame's facts (PSF, saturated cores) in the read-ahead; the window holds no pixels twice

    def _times(self) -> tuple[np.ndarray, np.ndarray]:
        return _relative_times(self.exposures)

    def _input(self, frame, sky: Sky | None) -> tuple[np.ndarray, float | None]:
        """The image the net sees (class docstring) and, when it is the static-sky residual, its
        noise (None for the frame itself: a single frame, or a live night's first two)."""
        static = sky.static_residual() if sky is not None else None
        if static is None:
            return (frame.clean if frame.clean is not None else sky.own), None
        prepared, info = prepare(static, frame.mask)
        return prepared, info["sigma"]

    def _frame(self, index: int, frame, sky: Sky | None) -> None:
        s = self.config.sdtnet
        image, sigma = self._input(frame, sky)
        if self.offsets is None:
            self.shape, self.first = image.shape, index  # frame numbers count from the first frame stepped
            self.offsets = OffsetTracker(radius=s.radius, max_gap=s.max_gap, motion=s.motion, shape=image.shape)
        self.exposures.append(_exposure(getattr(frame, "header", None)))
        facts = getattr(frame, "facts", None)
        dets = self.net.detect(image)
        self.on_residual.append(sigma is not None)
        valid = np.ones(len(dets), bool)
        if s.validate and len(dets):
            # the classical trail validator on the net's streaks (the rejections of a real sky),
            # measured where the net looked
            segs = np.column_stack([dets.left, dets.right, dets.score])
            known = dict(fwhm=facts.fwhm, saturated=facts.saturated) if facts is not None else {}
            measured_on = dict(residual=(image, sigma)) if sigma is not None else {}
            own = frame.clean if frame.clean is not None else image  # (a held frame's pixels: the window's)
            valid = validated(own, frame.mask, segs, saturation=_saturation(frame),
                              default_fwhm=self.config.matched.fwhm, params=self.config.trail,
                              **known, **measured_on)[1].keep
        self.valid.append(valid)
        starts, exptimes = self._times()  # s since the first frame; per frame when a header lacks them
        times = dict(start=float(starts[-1]), exptime=float(exptimes[-1])) if s.physics else {}
        ids = self.offsets.update(index, dets, **times)
        self.rows.append(np.column_stack([np.full(len(dets), index), ids, dets.left, dets.right, dets.score]))

    def finish(self) -> Table:
        for i, f, sky in self._drain():
            self._frame(i, f, sky)
        n = len(self.rows)
        rows = np.vstack(self.rows) if n else np.zeros((0, 7))
        if len(rows):
            # a track of one or two streaks is a trail when most of them look like one to the validator
            # (a halo or bleed column rarely passes); on a static-sky residual, where the validator
            # measures what the net saw with no star left to mislead it, all of them must. From three
            # on, moving along its own streaks at a steady rate is the stronger test, on frames and
            # residuals alike: a short trail's aspect ratio fails the validator, and so do trails of
            # crossing objects that meet end to end (its test for a curved star smear), while the
            # residue of a star does not move
            ids, inv = np.unique(rows[:, 1], return_inverse=True)
            count = np.bincount(inv)
            share = np.bincount(inv, np.concatenate(self.valid).astype(float)) / count
            residual = np.concatenate([np.full(len(r), on) for r, on in zip(self.rows, self.on_residual)])
            on_residual = np.bincount(inv, residual.astype(float), len(ids)) > 0
            passed = np.where(on_residual & (count <= 2), share == 1.0, share >= 0.5)
            rows = rows[(passed | (count >= 3))[inv]]
        table = _streak_table([rows])
        if len(table):
            segs = np.column_stack([np.asarray(table[c], float) for c in ("x1", "y1", "x2", "y2")])
            table = table[~unsteady_tracks(np.asarray(table["id"]), np.asarray(table["frame"]), segs,
                                            max_angle=self.config.filter.max_motion_angle)]
        kept = plausible_tracks(table, self.config, n_frames=n)
        kept["single"] = np.zeros(len(kept), np.int64)
        if not (self.config.sdtnet.singles and len(table)):
            return kept
        ids, counts = np.unique(np.asarray(table["id"]), return_counts=True)
        once = table[np.isin(table["id"], ids[counts == 1]) & ~np.isin(table["id"], kept["id"])]
        starts, exptimes = self._times()
        ok = [plausible_one_frame_trail(np.array([r["x1"], r["y1"], r["x2"], r["y2"]], float),
                                        int(r["frame"]) - self.first, starts, exptimes, self.shape) for r in once]
        once = once[np.asarray(ok, bool)] if len(once) else once
        once["single"] = np.ones(len(once), np.int64)
        out = vstack([kept, once]) if len(once) else kept
        out.sort(["id", "frame"])
        return out


def residual_window(config: Config, *, live: bool = False) -> StaticSky:
    """The static sky window that gives each frame its residual from ``star_stack - 1`` other
    frames (at least 2), centred or past-only (``live``): the real-sky front end's, and what an
    SDT-Net of residual input sees."""
    return StaticSky(max(2, int(config.filter.star_stack) - 1), centred=not live)


def sky_window(config: Config, detector: str, *, live: bool = False) -> StaticSky | None:
    """The static sky window of ``detector`` (:class:`StaticSky`; None when it needs none):
    with the real-sky front end, each frame's residual from ``star_stack - 1`` other frames
    (at least 2); without it, the median of ``star_stack`` frames for the static-star mask
    (none under 3). Centred on each frame, or past-only for live frames (``live``: a
    frame's rows may not wait for later frames, ``watch``)."""
    if detector != "matched":
        return None
    stack = int(config.filter.star_stack)
    if config.real.real_sky:
        return residual_window(config, live=live)
    if stack < 3:
        return None
    return StaticSky(stack - 1, centred=not live, residuals=False, median=True)


def make_method(seq, method: str, config: Config, *, rejections: collections.Counter | None = None,
                live: bool = False):
    """The method object for ``method`` on ``seq``; the ``matched`` detector gets its static
    sky window (:func:`sky_window`; ``live``: past-only, for ``watch``), none when the frames'
    start times do not increase (the CCDs of one mosaic exposure) or a finished sequence has
    fewer than 3 frames."""
    detector, tracker = parse_method(method) if method != "sdtnet" else (None, None)
    seq.require(1, f"{method} needs at least 1 frame")
    times = frame_times(seq)
    # a finished sequence of under 3 frames has no static sky (live, more frames may come)
    stack = (live or len(seq) >= 3) and not np.any(np.diff(times[0]) <= 0)
    if method == "sdtnet":  # for a residual input: the matched detector's static sky window
        residual = config.sdtnet.input != "frame" and stack
        return SdtnetMethod(config, sky=residual_window(config, live=live) if residual else None)
    sky = sky_window(config, detector, live=live) if stack else None
    if tracker == "physical":
        return PhysicalMethod(detector, config, times=times, sky=sky, rejections=rejections)
    return StreakMethod(detector, tracker, config, sky=sky, rejections=rejections)


def track_sequence(seq, *, method: str = METHODS[0], config: Config | None = None, progress=None) -> Table:
    """Detect and track streaks in a sidereal sequence.

    Parameters
    ----------
    seq : :class:`debristrack.io.sequence.FrameSequence` (or frames with ``clean``, ``mask``
        and ``len``).
    method : ``"detector+linker"`` or ``"sdtnet"``, one of :data:`METHODS`.
    config : :class:`Config` (defaults when None).
    progress : None or ``progress(done_frames, total_frames)``.

    Returns
    -------
    astropy Table ``frame,id,x1,y1,x2,y2,score``, pixels (0-based, x = column, y = row).
    """
    config = config if config is not None else Config()
    config.validate()
    return run_method(make_method(seq, method, config), seq, progress=progress)


def with_options(config: Config, **changes) -> Config:
    """``config`` with flag-named changes (``min_hits=1``, ``matched_fwhm=3``...), the way the
    command line names them."""
    from ..config import replace_checked

    where = {}
    for f in dataclasses.fields(config):
        prefix = f.metadata["prefix"]
        for g in dataclasses.fields(getattr(config, f.name)):
            where[prefix + g.name] = (f.name, g.name)
    nested: dict[str, dict] = {}
    for name, value in changes.items():
        if name not in where:
            raise InputError(f"unknown sidereal parameter {name!r}")
        part, inner = where[name]
        nested.setdefault(part, {})[inner] = value
    return replace_checked(config, **nested)
