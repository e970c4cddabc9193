"""Staring mode: GEO targets by min-stacking ([GEO]), with median and mean stacking baselines.

The pipeline, run once per block of ``window`` frames (the stack and the segmentation are
the expensive steps, so they run once per block, not once per frame):

1. stack the block: per-pixel minimum ([GEO] sec. 3), optionally over a local window
   ([GEO] sec. 5), or the median / mean baselines;
2. matched-filter significance, background removal, threshold segmentation, connected
   components, deblending, centroids and the spot-size constraint
   (:mod:`debristrack.detect.segmentation`);
3. single-frame verification ([GEO] sec. 5): on small cut-outs around each candidate, the
   position and brightness are measured in every frame of the block; a candidate is kept
   when it has a point-source shape (hot pixels have none), enough valid frames, enough
   brightness in the frames no star crosses, and there a position consistent with the
   stack's (:func:`verify`);
4. link the blocks' targets into tracks (Hungarian assignment within ``link_radius``); a
   known track is also measured ("forced") in later blocks where its stack significance
   dropped below the threshold; a track found in fewer than ``min_blocks`` disjoint blocks
   is dropped (a GEO target stays put, a coincidence of noise or stars does not); each
   track's per-frame positions are fitted with a straight line (GEO/GSO targets move
   uniformly over minutes), giving one row per frame per target.

The method is :class:`StackMethod`, driven by the frame loop (:mod:`.loop`): frames stream
through a ring of ``window`` frames, no more than one window is ever held (with the
local-window min rule, the window's local maxima as well); the next frame is read, and its
local maximum taken, in the loop's read-ahead thread while the current one is processed.
Steps 2-3 are :mod:`debristrack.detect.verify`, step 4 :mod:`debristrack.track.blocks`.
Pixel convention: 0-based, ``x`` the column, ``y`` the row, centre of the first pixel (0, 0).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from ..config import check_ranges
from ..detect.segmentation import THRESHOLDS
from ..detect.stacking import block_starts, derive_window, local_max
from ..detect.verify import STACK_RULE, detect_stack, verify, with_forced
from ..errors import InputError
from ..io.masks import mask_bad_frame
from ..io.tables import empty_table
from ..track.blocks import BlockTracker, fit_line
from .loop import run_method

METHODS = tuple(STACK_RULE)
# Fewest frames a staring-mode stack can work with: two to remove stars, one to spare.
MIN_FRAMES = 3


def _f(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class Config:
    """Parameters of the staring-mode methods (minstack, medianstack, meanstack)."""

    RANGES = {  # valid interval of each numeric parameter (config.check_ranges)
        "window": "[2, inf)", "default_window": "[2, inf)", "max_window": "[3, inf)",
        "star_footprint": "[0, inf)", "dec": "[-90, 90]", "local_radius": "[0, inf)", "fwhm": "(0, inf)",
        "mesh": "[8, inf)", "threshold": "(0, inf)", "min_area": "[0, inf)", "max_area": "[0, inf)",
        "deblend_dip": "(0, inf)", "min_separation": "[0, inf)", "cutout_radius": "[2, inf)",
        "max_offset": "(0, inf)", "min_consistent": "(0, 1]", "min_sharpness": "[0, 1]",
        "max_sharpness": "[0, 1]", "verify_snr": "[0, inf)", "edge": "[0, inf)", "min_valid": "[1, inf)",
        "link_radius": "(0, inf)", "min_blocks": "[1, inf)", "forced_threshold": "(0, inf)"}

    window: int | None = _f(None, "frames per stack; default: derived from the star drift (plate scale, "
                                  "declination, EXPTIME, cadence in the headers), else --default-window")
    default_window: int = _f(5, "frames per stack when the headers do not give the star drift")
    max_window: int = _f(20, "longest stack the drift rule may choose, frames")
    star_footprint: float = _f(10.0, "diameter of a bright star's spot along the drift, px (for the window rule)")
    dec: float | None = _f(None, "declination of the pointing, deg; default: WCS CRVAL2 or the DEC keyword, else 0")
    local_radius: int = _f(1, "minstack: half-width of the local window of the min rule, px "
                                 "([GEO] sec. 5; 0 = single pixel)")
    fwhm: float = _f(2.5, "PSF FWHM, px (matched filter and centroid window)")
    mesh: int = _f(64, "background mesh, px")
    threshold: float = _f(5.0, "detection threshold on the filtered stack, in units of its noise")
    threshold_mode: str = _f("adaptive", "adaptive (local background and noise maps) or global "
                                         "(one level, [GEO] sec. 3)")
    min_area: int = _f(3, "spot-size constraint: fewest pixels above threshold")
    max_area: int = _f(300, "spot-size constraint: most pixels above threshold after deblending")
    deblend_dip: float = _f(2.0, "split a spot when the significance dips by this much between two maxima")
    min_separation: float = _f(2.0, "least distance between two deblended maxima, px")
    cutout_radius: int = _f(5, "half-width of the verification cut-outs, px")
    max_offset: float = _f(1.5, "verification: largest per-frame offset from the stack position, px")
    min_consistent: float = _f(0.5, "verification: fraction of a block's steady frames (no star crossing) "
                                    "whose position must agree")
    min_sharpness: float = _f(0.2, "verification: least neighbour/peak ratio of a spot (hot pixels are ~0)")
    max_sharpness: float = _f(0.95, "verification: largest neighbour/peak ratio (flat, extended structure is ~1)")
    verify_snr: float = _f(4.5, "verification: least SNR of the mean single-frame flux over a stack's frames")
    edge: int = _f(2, "ignore candidates closer than this to the frame edge, px (clipped cut-outs, steep stray light)")
    min_valid: int = _f(2, "verification: fewest frames with a valid (non-NaN) pixel under a candidate")
    link_radius: float = _f(3.0, "largest distance between a target's positions in two blocks, px")
    min_blocks: int = _f(2, "a target must be found in at least this many disjoint stacks (all of them when fewer)")
    forced_threshold: float = _f(3.0, "a known target is measured in a later stack down to this significance")
    fit_tracks: bool = _f(True, "report per-frame positions from a straight-line fit to each track")

    def validate(self, where: str = "track --mode stare") -> None:
        """Raise :class:`InputError` naming the first flag outside its range (README table)."""
        check_ranges(self, where)
        if self.threshold_mode not in THRESHOLDS:
            raise InputError(f"{where}: --threshold-mode must be one of {', '.join(THRESHOLDS)}, "
                             f"got {self.threshold_mode!r}")
        if self.min_area > self.max_area:
            raise InputError(f"{where}: --min-area ({self.min_area}) must not exceed --max-area ({self.max_area})")
        if self.min_sharpness > self.max_sharpness:
            raise InputError(f"{where}: --min-sharpness ({self.min_sharpness}) must not exceed "
                             f"--max-sharpness ({self.max_sharpness})")


def sequence_window(seq, *, method: str, config: Config) -> int:
    """The stack length for a sequence: ``config.window``, else the drift rule
    (:func:`debristrack.detect.stacking.derive_window` with the sequence's plate scale,
    pointing, exposure and cadence), else ``config.default_window``."""
    if config.window is not None:
        return max(2, int(config.window))
    dec = config.dec if config.dec is not None else (seq.pointing_dec() or 0.0)
    window = derive_window(plate_scale=seq.plate_scale(), dec=dec, exptime=seq.exptime(0),
                           cadence=seq.cadence(), stack=STACK_RULE[method],
                           footprint=config.star_footprint, longest=config.max_window)
    return window if window is not None else config.default_window


class _LocalMaxPool:
    """Local maxima (:func:`local_max`) written into a cycle of ``n`` reused buffers.

    A fresh 64 MB array per 4096x4096 frame costs its page faults every time; the ring of
    ``window`` prepared frames plus the ones being made needs ``window + 2`` buffers.
    """

    def __init__(self, radius: int, n: int):
        self.radius, self.n = radius, n
        self.buffers: list[np.ndarray] = []
        self.k = 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if len(self.buffers) < self.n:
            self.buffers.append(np.empty_like(frame))
        out = self.buffers[self.k % self.n]
        self.k += 1
        return local_max(frame, self.radius, out=out)


class StackMethod:
    """Min/median/mean stacking over blocks of ``window`` frames ([GEO]), the frame loop's
    method for staring mode.

    ``step`` keeps a ring of ``window`` frames; at the end of each block it stacks,
    segments and verifies the block (:mod:`debristrack.detect.verify`) and links the targets
    (:class:`debristrack.track.blocks.BlockTracker`). ``finish`` drops the tracks found in
    fewer than ``min_blocks`` disjoint blocks and fits each track's per-frame positions.
    Rows are decided at ``finish`` (both rules need the whole track).

    Parameters
    ----------
    method : one of :data:`METHODS`. window : frames per stack (clipped to ``n_frames``).
    n_frames : frames in the sequence (the last block ends at the last frame); None for
        frames arriving one at a time: blocks then end every ``window`` frames.
    """

    def __init__(self, method: str, config: Config, *, window: int, n_frames: int | None):
        if method not in METHODS:
            raise InputError(f"unknown stare method {method!r}; use one of {', '.join(METHODS)}")
        self.method, self.config = method, config
        self.window = max(2, int(window) if n_frames is None else min(int(window), n_frames))
        self.n_frames = n_frames
        self.starts = block_starts(n_frames, self.window) if n_frames is not None else None
        self.ends = {s + self.window - 1: s for s in self.starts} if n_frames is not None else {}
        self.ring: deque = deque(maxlen=self.window)
        # The min rule's local maxima are computed with the reading, in the read-ahead thread.
        self.pool = (_LocalMaxPool(config.local_radius, self.window + 2)
                     if method == "minstack" and config.local_radius > 0 else None)
        self.prepared: deque = deque(maxlen=self.window)
        self.work = None
        self.done_until = 0  # frames before this index are reported
        self.tracker = BlockTracker(config.link_radius)
        self.notes: list[str] = []  # bad frames, reported by the command line with the table
        self.last: int | None = None  # index of the last frame stepped

    def __getstate__(self) -> dict:
        # pickled by a watch checkpoint: the scratch stack is made again at the next block
        return {**self.__dict__, "work": None}

    def prepare(self, frame) -> tuple[np.ndarray, np.ndarray | None]:
        """The frame (a sequence frame's ``data``, or an array) as float32 (NaN = no value)
        and, for the local min rule, its local maximum."""
        data = np.asarray(getattr(frame, "data", frame), dtype=np.float32)
        data, why = mask_bad_frame(data)  # a bad frame is all NaN: its block keeps the other frames
        if why:
            self.notes.append(f"{getattr(frame, 'name', 'a frame')} (frame {getattr(frame, 'index', '?')}): "
                              f"bad frame, masked: {why}")
        return data, (self.pool(data) if self.pool is not None else None)

    def _block_first(self, t: int) -> int | None:
        if self.ends:
            return self.ends.get(t)
        return t - self.window + 1 if (t + 1) % self.window == 0 else None

    def step(self, t: int, item) -> None:
        frame, local = item
        self.ring.append(frame)
        if self.pool is not None:
            self.prepared.append(local)
        self.last = t
        first = self._block_first(t)
        if first is not None:
            self._block(first, t)
        return None

    def _block(self, first: int, t: int) -> None:
        """Stack, segment, verify and link the block of frames ``first..t`` (the ring)."""
        config = self.config
        block = list(self.ring)
        window = len(block)
        if self.work is None:
            self.work = np.empty((4,) + block[0].shape, np.float32)
        sources, sig = detect_stack(list(self.prepared) if self.pool is not None else block, method=self.method,
                                    config=config, work=self.work, local_max_done=self.pool is not None)
        sources = with_forced(sources, self.tracker.positions, sig, config=config)
        if len(sources):
            v = verify(block, sources, config=config)
            kept = np.flatnonzero(v.keep)
            tracks = self.tracker.update(np.stack([v.xb[kept], v.yb[kept]], axis=1))
            for track, k in zip(tracks, kept):
                if first >= track.until:  # the overlapping last block confirms nothing new
                    track.blocks += 1
                    track.until = t + 1
                for i in range(max(0, self.done_until - first), window):
                    track.rows.append((first + i, v.x[k, i], v.y[k, i], v.flux[k, i], v.score[k],
                                       bool(v.ok[k, i]), v.xb[k], v.yb[k]))
        self.done_until = t + 1

    def finish(self) -> Table:
        if self.starts is None and self.last is not None:
            # frames that arrived one at a time: now the night's length is known, the blocks
            # are those of the finished sequence, the last one overlapping (block_starts)
            n = self.last + 1
            self.window = min(self.window, n)
            self.starts = block_starts(n, self.window)
            if self.done_until < n:
                self._block(n - self.window, n - 1)
        # [GEO] targets stay put: one seen in a single block of several is a coincidence of
        # noise or of stars, not a target.
        starts = self.starts or []
        disjoint = len(starts) - (1 if len(starts) > 1 and starts[-1] % self.window else 0)
        need = min(self.config.min_blocks, disjoint)
        table = _table([t.rows for t in self.tracker.tracks if t.blocks >= need], fit=self.config.fit_tracks)
        table.meta["notes"] = list(self.notes)
        return table


def _table(track_rows: list[list[tuple]], *, fit: bool) -> Table:
    rows = []
    for tid, tr in enumerate((r for r in track_rows if r), start=1):  # ids from 1, as in every mode
        a = np.array(tr, dtype=float)
        frame, x, y, flux, score, ok, xb, yb = a.T
        ok = ok.astype(bool)
        if fit:
            x, y = fit_line(frame, x, ok), fit_line(frame, y, ok)
        else:
            x, y = np.where(ok, x, xb), np.where(ok, y, yb)
        rows.append(np.stack([frame, np.full_like(frame, tid), x, y, flux, score], axis=1))
    if not rows:
        return empty_table("point", extra=("flux", "score"))
    a = np.concatenate(rows)
    return Table([a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2], a[:, 3], a[:, 4], a[:, 5]],
                 names=("frame", "id", "x", "y", "flux", "score"))


def make_method(seq, method: str, config: Config) -> StackMethod:
    """The :class:`StackMethod` for ``seq`` (its window from the headers, see :func:`sequence_window`)."""
    config.validate()
    seq.require(MIN_FRAMES, f"{method} needs at least {MIN_FRAMES} frames")
    return StackMethod(method, config, window=sequence_window(seq, method=method, config=config), n_frames=len(seq))


def track_sequence(seq, *, method: str = METHODS[0], config: Config | None = None, progress=None) -> Table:
    """Detect and track GEO targets in a staring-mode FITS sequence.

    Parameters
    ----------
    seq : :class:`debristrack.io.sequence.FrameSequence` (or frames with ``data`` and
        ``len``, with the sequence's header methods).
    method : ``"minstack"`` ([GEO]), ``"medianstack"`` or ``"meanstack"`` (baselines).
    config : :class:`Config`; defaults if None.
    progress : None or ``progress(done_frames, total_frames)``.

    Returns
    -------
    Points table ``frame,id,x,y,flux,score`` (frame = index in ``seq``; flux in image units;
    score = peak significance in the stack).

    Raises
    ------
    InputError
        when the sequence has fewer than 3 frames or a parameter is out of range.
    """
    config = config or Config()
    return run_method(make_method(seq, method, config), seq, progress=progress)
