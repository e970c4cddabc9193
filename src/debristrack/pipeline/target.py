"""Target-tracking mode: the telescope follows one object; find it (and any companions).

``debristrack track SEQUENCE --mode target`` runs :class:`TargetMethod` in the frame loop
(:mod:`.loop`): ``sep`` centroids per frame (:mod:`debristrack.detect.extract`, [TRK] sec.
4.2), then the [TRK] nearest-movement lists and clustering (:mod:`debristrack.track.motionlist`,
sec. 4.3-4.5). Methods:

- ``motionlist`` (default): [TRK]; finds up to ``max_objects`` followed objects, or none;
- ``nearest``: the naive baseline, the source nearest the frame centre in every frame (where
  an open-loop telescope expects its object).

The result is a points table ``frame,id,x,y,flux,score,flag``: one row per frame for every
object found. ``flag`` is ``"ok"`` where the object was measured; in the other frames ``x``
and ``y`` are NaN and ``flag`` says why: ``"collision"`` (a star covers the predicted
position: a source that does not fit the object model's flux and width, or a footprint),
``"faint"`` (nothing that fits extracted there), ``"lost"`` (``LOST_RUN`` = 3 or more
frames in a row without the object) or ``"outside"`` (predicted off the frame). ``score`` is the fraction of frames in which that object was measured. No object
found gives an empty table, with the reason in ``table.meta["note"]`` when there is one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from ..config import check_ranges
from ..detect.extract import Sources, extract_sources
from ..errors import InputError
from ..io.tables import empty_table
from ..track.blocks import BlockTracker
from ..track.forced import Stamps, measure, predict, stamp_half, star_offsets
from ..track.motionlist import (FAINT, FOUND, FollowResult, _flag_lost_runs, _missing_reason, follow_objects,
                                k_max_from_arcsec, stationarity)
from .loop import run_method

METHODS: tuple[str, ...] = ("motionlist", "nearest")
COLUMNS_EXTRA = ("flux", "score", "flag")
# blocks: an object of a block is the object found before within LINK_T x T of its median
# position (property 1 holds a trajectory within T of its line, so one object's medians in two
# blocks lie about T apart; the rest is room for a slow drift of the mount)
LINK_T = 3.0


@dataclass(frozen=True)
class Config:
    """Parameters of target-tracking mode (every method); see the module docstring."""

    RANGES = {  # valid interval of each numeric parameter (config.check_ranges)
        "thresh": "(0, inf)", "minarea": "[1, inf)", "deblend_nthresh": "[1, inf)", "deblend_cont": "[0, 1]",
        "bkg_box": "[1, inf)", "bkg_filter": "[1, inf)", "max_peak_fraction": "[0, 1]",
        "k_max_px": "(0, inf)", "k_max_arcsec": "[0, inf)", "t_px": "(0, inf)", "h_px": "(0, inf)",
        "min_fraction": "[0, 1]", "max_objects": "[1, inf)", "max_static_fraction": "[0, 1]",
        "forced_snr": "(0, inf)", "forced_fraction": "[0, 1]", "block": "[0, inf)"}

    thresh: float = field(default=1.0, metadata={
        "help": "extraction threshold in units of the background RMS (sep, after its 3x3 filter)"})
    minarea: int = field(default=3, metadata={
        "help": "minimum connected pixels above the threshold for a source"})
    deblend_nthresh: int = field(default=32, metadata={
        "help": "deblending levels (sep/SExtractor DEBLEND_NTHRESH)"})
    deblend_cont: float = field(default=0.0005, metadata={
        "help": "minimum deblending contrast (sep/SExtractor DEBLEND_MINCONT)"})
    clean_spurious: bool = field(default=False, metadata={
        "help": "run SExtractor's CLEAN pass (slower; spurious sources move with their star anyway)"})
    bkg_box: int = field(default=16, metadata={
        "help": "background mesh cell size in pixels (small: a local background that follows "
                "extended emission, see detect/extract.py)"})
    bkg_filter: int = field(default=3, metadata={
        "help": "background median filter size in mesh cells"})
    max_peak_fraction: float = field(default=0.7, metadata={
        "help": "drop sources with more than this fraction of their flux in one pixel "
                "(hot pixels, cosmic rays); 1 keeps all, for undersampled images (FWHM < 1.3 px)"})
    k_max_px: float = field(default=2.0, metadata={
        "help": "||K_max||, the largest movement of the followed object between frames in "
                "pixels (the peak following error; up to twice it if the error swings faster "
                "than the cadence): bound of the suspicious lists [TRK] sec. 4.4"})
    k_max_arcsec: tuple[float, ...] | None = field(default=None, metadata={
        "help": "peak following error in arcsec, total or AZ,ALT; converted with the plate "
                "scale (ceil, [TRK] sec. 3.2) and used instead of --k-max-px",
        "metavar": "ARCSEC[,ARCSEC]"})
    t_px: float | None = field(default=None, metadata={
        "help": "clustering similarity threshold T and property-1 bound, pixels; none = K_max"})
    h_px: float | None = field(default=None, metadata={
        "help": "property-2 (scatter) bound H, pixels; none = K_max / 2"})
    min_fraction: float = field(default=0.2, metadata={
        "help": "an object must be in at least this fraction of the lists (and 3)"})
    max_objects: int = field(default=3, metadata={
        "help": "report at most this many followed objects"})
    max_static_fraction: float = field(default=0.5, metadata={
        "help": "report no object when more than this fraction of sources does not move "
                "(the stars are not moving: not a target-tracking sequence)"})
    forced: bool = field(default=True, metadata={
        "help": "measure the objects on the pixels against a sky template where the catalogues "
                "miss them, and verify small list clusters there (track/forced.py)"})
    forced_snr: float = field(default=3.0, metadata={
        "help": "SNR a forced measurement needs to count"})
    forced_fraction: float = field(default=0.5, metadata={
        "help": "a list cluster verified on the pixels must be measured in at least this "
                "fraction of the frames"})
    block: int = field(default=0, metadata={
        "help": "decide the objects every BLOCK frames (at least 3): the motion lists of those frames, "
                "ids linked from block to block by position, so rows come during the night (watch); "
                "0 = once, over the whole sequence"})

    def validate(self, where: str = "track --mode target") -> None:
        """Raise :class:`InputError` naming the first flag outside its range (README table)."""
        check_ranges(self, where)
        if self.block in (1, 2):
            raise InputError(f"{where}: --block must be 0 (the whole sequence) or at least 3 frames "
                             f"(the motion lists need 3), got {self.block}")
        if self.k_max_arcsec is not None and len(self.k_max_arcsec) not in (1, 2):
            raise InputError(f"{where}: --k-max-arcsec takes one or two non-negative values (total, or AZ,ALT)")


def extract_frame(data: np.ndarray, mask: np.ndarray | None, config: Config) -> Sources:
    """Sources of one frame with the extraction parameters of ``config``."""
    return extract_sources(data, mask=mask, thresh=config.thresh, minarea=config.minarea,
                           deblend_nthresh=config.deblend_nthresh, deblend_cont=config.deblend_cont,
                           clean_spurious=config.clean_spurious,
                           bkg_box=config.bkg_box, bkg_filter=config.bkg_filter,
                           max_peak_fraction=config.max_peak_fraction)


def resolve_k_max(config: Config, plate_scale: float | None, where: str) -> float:
    """``||K_max||`` in pixels: from ``k_max_arcsec`` and the plate scale when given, else ``k_max_px``."""
    if config.k_max_arcsec is None:
        return float(config.k_max_px)
    if plate_scale is None:
        raise InputError(f"{where}: --k-max-arcsec needs the plate scale, but the frames have no WCS "
                         "or PIXSCALE keyword; give --k-max-px instead")
    return k_max_from_arcsec(config.k_max_arcsec, plate_scale)


def nearest_to_centre(xy: np.ndarray, shape: tuple[int, int]) -> int:
    """Baseline: the row of the source nearest the frame centre, or -1 when there is none.

    Parameters
    ----------
    xy : (n, 2) centroids, pixels; shape : (ny, nx). The centre is ``((nx-1)/2, (ny-1)/2)``.
    """
    if len(xy) == 0:
        return -1
    centre = np.array([(shape[1] - 1) / 2, (shape[0] - 1) / 2])
    return int(np.argmin(np.hypot(*(np.asarray(xy) - centre).T)))


class SequencePixels:
    """Pixels of frame ``k`` read again from a :class:`~debristrack.io.sequence.FrameSequence`
    (``pixels(k, name)``), so :class:`TargetMethod` need not hold every frame."""

    def __init__(self, seq):
        self.seq = seq

    def __call__(self, k: int, name: str) -> np.ndarray:
        return self.seq[k].clean


@dataclass(frozen=True)
class ExtractFrame:
    """:attr:`TargetMethod.frame_work`: ``(name, sources, pixels or None)`` of one frame. It needs
    nothing but the frame and ``config`` (and pickles), so the frame loop can share it with
    helper processes (:func:`~.loop.share_work`; sep holds the GIL, a thread would not help).
    ``hold``: also return the frame's clean pixels, for a method that keeps them for the finish."""

    config: Config
    hold: bool = False

    def __call__(self, frame) -> tuple[str, Sources, np.ndarray | None]:
        sources = extract_frame(frame.clean, frame.mask, self.config)
        return frame.name, sources, frame.clean if self.hold else None


class TargetMethod:
    """The frame loop's method for target-tracking mode: ``frame_work`` extracts the frame's
    sources (:class:`ExtractFrame`, [TRK] sec. 4.2), ``step`` keeps the catalogue; ``finish``
    associates them (:func:`track_catalogues`: the motion lists need every frame's list) and
    measures the objects on the pixels where the catalogues missed them.

    With ``config.block`` (B frames) the same is done every B frames on the catalogues of
    those frames, so ``step`` returns the rows of each block at its last frame; a block's
    objects are linked to the objects of the blocks before by position (:data:`LINK_T`), and
    ``finish`` decides the frames after the last full block together with the frames before
    them, B in all (as stare's last block), writing the new frames' rows only. Only the last
    block's catalogues are kept. ``score`` is then the fraction of its block's frames in which
    the object was measured.

    Parameters
    ----------
    method : one of :data:`METHODS`. shape : (ny, nx) of the frames.
    k_max : ``||K_max||`` in pixels (:func:`resolve_k_max`); None = ``config.k_max_px``.
    pixels : ``pixels(index, frame name) -> clean pixels``, to read a frame again at the
        finish (e.g. :class:`SequencePixels`); None = keep each frame's pixels from ``step``
        (for frames already in memory).
    """

    def __init__(self, method: str, config: Config, *, shape: tuple[int, int], k_max: float | None = None,
                 pixels=None):
        self.method, self.config, self.shape, self.k_max = method, config, shape, k_max
        self.pixels = pixels
        self.frame_work = ExtractFrame(config, hold=pixels is None and method == "motionlist")
        self.catalogues: list[Sources] = []
        self.names: list[str] = []
        self._held: list[np.ndarray] = []
        self.first = 0  # the frame index of catalogues[0] (blocks: the earlier ones are dropped)
        self.done = 0   # blocks: the frames whose rows are out
        self.note = ""  # blocks: the last block's note (why it has no object)
        t = config.t_px if config.t_px is not None else (k_max if k_max is not None else config.k_max_px)
        self.linker = BlockTracker(LINK_T * float(t)) if config.block else None

    def step(self, index: int, prepared) -> Table | None:
        name, sources, clean = prepared
        self.catalogues.append(sources)
        self.names.append(name)
        if clean is not None:
            self._held.append(clean)
        if self.config.block and index + 1 - self.done == self.config.block:
            return self._block(index + 1)
        return None

    def _pixels(self, k: int) -> np.ndarray:
        i = k - self.first
        return self._held[i] if self.pixels is None else self.pixels(k, self.names[i])

    def _track(self, start: int, end: int) -> Table:
        """:func:`track_catalogues` on frames ``start:end`` (their local frame numbers)."""
        forced = self.config.forced and (self.pixels is not None or self._held)
        a, b = start - self.first, end - self.first
        return track_catalogues(self.catalogues[a:b], shape=self.shape, method=self.method, config=self.config,
                                k_max=self.k_max, pixels=(lambda k: self._pixels(start + k)) if forced else None)

    def _block(self, end: int) -> Table:
        """The rows of frames ``done:end``, from the block of the ``block`` frames up to ``end``,
        their ids those of the objects found before at the same place."""
        start = max(0, end - self.config.block)
        table = self._track(start, end)
        self.note = table.meta.get("note", "")
        if len(table):
            ids, xy = np.unique(table["id"]), np.column_stack([table["x"], table["y"]])
            spots = np.array([np.nanmedian(xy[table["id"] == i], axis=0) for i in ids])
            tracks = self.linker.update(spots)
            number = {id(t): n for n, t in enumerate(self.linker.tracks, start=1)}
            new = dict(zip(ids.tolist(), (number[id(t)] for t in tracks)))
            table["frame"] += start
            table["id"] = [new[int(i)] for i in table["id"]]
            table = table[table["frame"] >= self.done]
        self.done = end
        keep = max(0, end - self.config.block - self.first)  # the last block stays, for the finish's
        del self.catalogues[:keep], self.names[:keep], self._held[:keep]
        self.first += keep
        return table

    def finish(self) -> Table:
        if self.config.block:
            seen = self.first + len(self.catalogues)
            if seen > self.done:
                return self._block(seen)
            table = empty_table("point", COLUMNS_EXTRA)
            table.meta["note"] = self.note
            return table
        return self._track(0, len(self.catalogues))


def make_method(seq, method: str, config: Config, *, where: str | None = None) -> TargetMethod:
    """The :class:`TargetMethod` for ``seq`` (checks the method, the parameters, the frame
    count and, for ``k_max_arcsec``, the plate scale)."""
    where = where or str(seq.path)
    if method not in METHODS:
        raise InputError(f"{where}: unknown target method {method!r}; choose one of {', '.join(METHODS)}")
    config.validate(where)
    if method == "motionlist":
        seq.require(3, "motionlist needs at least 3 frames")
    else:
        seq.require(1, f"{method} needs at least 1 frame")
    k_max = resolve_k_max(config, seq.plate_scale(), where) if method == "motionlist" else None
    return TargetMethod(method, config, shape=seq.shape, k_max=k_max, pixels=SequencePixels(seq))


def track_sequence(seq, *, method: str = METHODS[0], config: Config | None = None, progress=None,
                   workers: int = 1) -> Table:
    """Find the followed object(s) of a target-tracking sequence.

    Parameters
    ----------
    seq : an :class:`~debristrack.io.sequence.FrameSequence`.
    method : one of :data:`METHODS`.
    config : :class:`Config`; None = defaults.
    progress : None or ``progress(done_frames, total_frames)``, called after each frame.
    workers : processes that extract the frames, this one included (``sep`` holds the GIL, so
        threads would not help); helpers start only when the frames are slow enough to repay
        their start-up (:func:`~.loop.share_work`). The results do not depend on it.

    Returns
    -------
    astropy.table.Table
        points table ``frame,id,x,y,flux,score,flag`` (module docstring), ids from 1 in
        order of cluster size; empty when no object is found.

    Raises
    ------
    InputError
        unknown method, bad parameter, too few frames (``motionlist`` needs 3), or
        ``k_max_arcsec`` without a plate scale.
    """
    config = config or Config()
    return run_method(make_method(seq, method, config), seq, progress=progress, workers=workers)


def track_catalogues(catalogues: list[Sources], *, shape: tuple[int, int], method: str = METHODS[0],
                     config: Config | None = None, k_max: float | None = None, pixels=None) -> Table:
    """The association step of :func:`track_sequence` on per-frame catalogues.

    Parameters
    ----------
    catalogues : one :class:`~debristrack.detect.extract.Sources` per frame.
    shape : (ny, nx) of the frames.
    k_max : ``||K_max||`` in pixels; None = ``config.k_max_px``.
    pixels : None, or ``pixels(k) -> (ny, nx)`` clean pixels of frame k: the objects are then
        measured on the pixels where the catalogues miss them, and the list clusters too small
        for the chance bound are verified there (:func:`measure_on_pixels`).
    """
    config = config or Config()
    if method == "nearest":
        return _nearest_table(catalogues, shape)
    k_max = float(config.k_max_px if k_max is None else k_max)
    result = follow_objects([c.xy for c in catalogues], k_max=k_max, threshold=config.t_px,
                            scatter=config.h_px, min_fraction=config.min_fraction,
                            max_objects=config.max_objects, max_static_fraction=config.max_static_fraction,
                            fluxes=[c.flux for c in catalogues], footprints=[c.bbox for c in catalogues],
                            widths=[np.sqrt(c.a * c.b) for c in catalogues], shape=shape)
    objects = [(t.source, t.xy, t.flag, None) for t in result.trajectories]
    if pixels is not None and not result.note:
        objects = measure_on_pixels(result, catalogues, pixels, shape=shape, k_max=k_max, config=config)
    table = _table(catalogues, objects)
    table.meta["note"] = result.note or ("" if len(table) else "no followed object found")
    table.meta["k_max_px"] = k_max
    table.meta["list_lengths"] = result.list_lengths.tolist()
    return table


def measure_on_pixels(result: FollowResult, catalogues: list[Sources], pixels, *, shape, k_max: float,
                      config: Config) -> list:
    """The trajectories of ``result`` completed, and its candidates verified, by forced
    measurements on the pixels (:mod:`debristrack.track.forced`; where and why this departs
    from [TRK]: the module docstrings of :mod:`~debristrack.track.forced` and
    :mod:`~debristrack.track.motionlist`).

    - an accepted trajectory whose catalogue positions hold no light fixed on the detector
      (median SNR measured right there below ``config.forced_snr / 2``) is dropped: it followed
      sources of the sky;
    - an accepted trajectory keeps its catalogue positions; in each frame where it has none
      (``collision``, ``faint``, ``lost``) it is measured at the position predicted from the
      nearest found frames, and the frame becomes ``ok`` when the measurement counts;
    - a candidate cluster is measured in every frame, from its members' positions outward; it
      becomes an object when it counts in at least ``config.forced_fraction`` of the frames
      and the positions pass the two stationarity properties.

    Returns ``[(source (n,), xy (n, 2), flag (n,), flux (n,) or None)]``, accepted objects first.
    """
    n = len(catalogues)
    t = float(k_max if config.t_px is None else config.t_px)
    h = float(k_max / 2 if config.h_px is None else config.h_px)
    objects = [(t_.source.copy(), t_.xy.copy(), t_.flag.astype(object), None) for t_ in result.trajectories]
    room = config.max_objects - len(objects)
    candidates = result.candidates if room > 0 else []
    if n < 3 or not (objects or candidates):
        return [(s, xy, f.astype(str), fl) for s, xy, f, fl in objects]
    widths = [np.sqrt(c.a * c.b) for c in catalogues]

    def sigma_of(frames, rows_xy):
        near = []
        for k, p in zip(frames, rows_xy):
            if len(catalogues[k]):
                d = np.hypot(*(catalogues[k].xy - p).T)
                near.append(widths[k][int(np.argmin(d))])
        return float(np.clip(np.median(near) if near else 1.5, 0.6, 4.0))

    spots, sigmas = [], []
    for source, xy, _, _ in objects:
        found = np.flatnonzero(source >= 0)
        spots.append(np.median(xy[found], axis=0))
        sigmas.append(sigma_of(found, xy[found]))
    for frames, cxy in candidates:
        spots.append(np.median(cxy, axis=0))
        sigmas.append(sigma_of(frames, cxy))
    sigma_max = max(sigmas)
    offsets = star_offsets([c.xy for c in catalogues], [c.flux for c in catalogues])
    # Boxes wide enough for a stamp anywhere within 2 T of the spot (the following error's swing).
    stamps = Stamps(np.array(spots), offsets, radius=stamp_half(sigma_max) + int(math.ceil(2 * t)) + 2,
                    min_shift=4 * sigma_max + t, shape=tuple(shape))
    for k in range(n):
        stamps.cut(k, pixels(k))

    out = []
    for s, (source, xy, flag, _) in enumerate(objects):
        flux = np.array([catalogues[k].flux[source[k]] if source[k] >= 0 else np.nan for k in range(n)])
        known = xy.copy()
        # What the lists followed must be light fixed on the detector: a chain of sky-fixed
        # sources (galaxy knots, stars that by chance landed near each other) is gone from
        # frame minus template, a followed object is not.
        own = [measure(stamps, s, k, xy[k], sigmas[s], max_move=t, snr_min=config.forced_snr, fixed=True).snr
               for k in np.flatnonzero(source >= 0)]
        if np.median(own) < config.forced_snr / 2:
            continue
        for k in np.flatnonzero(source < 0):
            pred = predict(known, k)
            if pred is None or flag[k] == "outside":
                continue
            m = measure(stamps, s, k, pred, sigmas[s], max_move=t, snr_min=config.forced_snr)
            if m.ok:
                xy[k], flux[k], flag[k] = (m.x, m.y), m.flux, FOUND
        out.append((source, xy, flag.astype(str), flux))
    for c, (frames, cxy) in enumerate(candidates):
        if len(out) >= config.max_objects:
            break
        s = len(objects) + c
        known = np.full((n, 2), np.nan)
        known[frames] = cxy
        xy = np.full((n, 2), np.nan)
        flux = np.full(n, np.nan)
        flag = np.full(n, FAINT, dtype=object)
        start = int(np.median(frames))
        need, missed = max(3, math.ceil(config.forced_fraction * n)), 0
        for tried, k in enumerate(sorted(range(n), key=lambda k: (abs(k - start), k))):
            if tried == 4 and missed == 4:
                break   # nothing in the frames around its own members: a chance cluster
            pred = predict(np.where(np.isfinite(xy), xy, known), k)
            m = measure(stamps, s, k, pred, sigmas[s], max_move=t, snr_min=config.forced_snr)
            if m.ok:
                xy[k], flux[k], flag[k] = (m.x, m.y), m.flux, FOUND
            else:
                flag[k] = _missing_reason(pred, catalogues[k].bbox, shape)
                missed += 1
                if n - missed < need:
                    break   # cannot reach the count any more
        good = np.flatnonzero(np.isfinite(xy[:, 0]))
        if good.size < need:
            continue
        p1, p2 = stationarity(good, xy[good])
        if p1 > t or p2 > h:
            continue
        if any(np.nanmedian(np.hypot(*(xy - o[1]).T)) <= t for o in out if np.isfinite(o[1][:, 0]).any()):
            continue
        _flag_lost_runs(flag)
        out.append((np.full(n, -1, dtype=np.int64), xy, flag.astype(str), flux))
    return out


def _nearest_table(catalogues: list[Sources], shape) -> Table:
    n = len(catalogues)
    source = np.array([nearest_to_centre(c.xy, shape) for c in catalogues], dtype=np.int64)
    xy = np.full((n, 2), np.nan)
    for k in np.flatnonzero(source >= 0):
        xy[k] = catalogues[k].xy[source[k]]
    flag = np.where(source >= 0, FOUND, FAINT)
    return _table(catalogues, [(source, xy, flag, None)])


def _table(catalogues: list[Sources], objects) -> Table:
    """Rows for each object ``(source (n,), xy (n, 2), flag (n,), flux (n,) or None)``, ids
    from 1; a None flux is the catalogue's flux of each found source."""
    if not objects:
        return empty_table("point", COLUMNS_EXTRA)
    n = len(catalogues)
    frame, ident, x, y, flux, score, flag = [], [], [], [], [], [], []
    for number, (source, xy, why, fl) in enumerate(objects, start=1):
        found = np.asarray(why) == FOUND
        if fl is None:
            fl = [catalogues[k].flux[source[k]] if source[k] >= 0 else np.nan for k in range(n)]
        flux.append(fl)
        frame.append(np.arange(n))
        ident.append(np.full(n, number))
        x.append(xy[:, 0])
        y.append(xy[:, 1])
        score.append(np.full(n, found.mean()))
        flag.append(np.asarray(why, dtype=str))
    cols = [np.concatenate(c) for c in (frame, ident)] + [np.concatenate(c).astype(np.float64)
                                                          for c in (x, y, flux, score)]
    cols.append(np.concatenate(flag).astype("U16"))  # wide enough for any flag, even if all are "ok"
    table = Table(cols, names=("frame", "id", "x", "y", "flux", "score", "flag"))
    table["frame"] = table["frame"].astype(np.int64)
    table["id"] = table["id"].astype(np.int64)
    return table
