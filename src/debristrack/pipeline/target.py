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

from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from ..config import check_ranges
from ..detect.extract import Sources, extract_sources
from ..errors import InputError
from ..io.tables import empty_table
from ..track.motionlist import FAINT, FOUND, follow_objects, k_max_from_arcsec
from .loop import run_method

METHODS: tuple[str, ...] = ("motionlist", "nearest")
COLUMNS_EXTRA = ("flux", "score", "flag")


@dataclass(frozen=True)
class Config:
    """Parameters of target-tracking mode (every method); see the module docstring."""

    RANGES = {  # valid interval of each numeric parameter (config.check_ranges)
        "thresh": "(0, inf)", "minarea": "[1, inf)", "deblend_nthresh": "[1, inf)", "deblend_cont": "[0, 1]",
        "bkg_box": "[1, inf)", "bkg_filter": "[1, inf)", "max_peak_fraction": "[0, 1]",
        "k_max_px": "(0, inf)", "k_max_arcsec": "[0, inf)", "t_px": "(0, inf)", "h_px": "(0, inf)",
        "min_fraction": "[0, 1]", "max_objects": "[1, inf)", "max_static_fraction": "[0, 1]"}

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

    def validate(self, where: str = "track --mode target") -> None:
        """Raise :class:`InputError` naming the first flag outside its range (README table)."""
        check_ranges(self, where)
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


class TargetMethod:
    """The frame loop's method for target-tracking mode: ``step`` extracts the frame's
    sources (:func:`extract_frame`, [TRK] sec. 4.2) and keeps only the catalogue; ``finish``
    associates them (:func:`track_catalogues`: the motion lists need every frame's list).

    Parameters
    ----------
    method : one of :data:`METHODS`. shape : (ny, nx) of the frames.
    k_max : ``||K_max||`` in pixels (:func:`resolve_k_max`); None = ``config.k_max_px``.
    """

    def __init__(self, method: str, config: Config, *, shape: tuple[int, int], k_max: float | None = None):
        self.method, self.config, self.shape, self.k_max = method, config, shape, k_max
        self.catalogues: list[Sources] = []

    def step(self, index: int, frame) -> None:
        self.catalogues.append(extract_frame(frame.clean, frame.mask, self.config))

    def finish(self) -> Table:
        return track_catalogues(self.catalogues, shape=self.shape, method=self.method, config=self.config,
                                k_max=self.k_max)


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
    return TargetMethod(method, config, shape=seq.shape, k_max=k_max)


def track_sequence(seq, *, method: str = METHODS[0], config: Config | None = None, progress=None) -> Table:
    """Find the followed object(s) of a target-tracking sequence.

    Parameters
    ----------
    seq : an :class:`~debristrack.io.sequence.FrameSequence`.
    method : one of :data:`METHODS`.
    config : :class:`Config`; None = defaults.
    progress : None or ``progress(done_frames, total_frames)``, called after each frame.

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
    return run_method(make_method(seq, method, config), seq, progress=progress)


def track_catalogues(catalogues: list[Sources], *, shape: tuple[int, int], method: str = METHODS[0],
                     config: Config | None = None, k_max: float | None = None) -> Table:
    """The association step of :func:`track_sequence` on per-frame catalogues.

    Parameters
    ----------
    catalogues : one :class:`~debristrack.detect.extract.Sources` per frame.
    shape : (ny, nx) of the frames.
    k_max : ``||K_max||`` in pixels; None = ``config.k_max_px``.
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
    table = _table(catalogues, [(t.source, t.xy, t.flag) for t in result.trajectories])
    table.meta["note"] = result.note or ("" if len(table) else "no followed object found")
    table.meta["k_max_px"] = k_max
    table.meta["list_lengths"] = result.list_lengths.tolist()
    return table


def _nearest_table(catalogues: list[Sources], shape) -> Table:
    n = len(catalogues)
    source = np.array([nearest_to_centre(c.xy, shape) for c in catalogues], dtype=np.int64)
    xy = np.full((n, 2), np.nan)
    for k in np.flatnonzero(source >= 0):
        xy[k] = catalogues[k].xy[source[k]]
    flag = np.where(source >= 0, FOUND, FAINT)
    return _table(catalogues, [(source, xy, flag)])


def _table(catalogues: list[Sources], objects) -> Table:
    """Rows for each object ``(source (n,), xy (n, 2), flag (n,))``, ids from 1."""
    if not objects:
        return empty_table("point", COLUMNS_EXTRA)
    n = len(catalogues)
    frame, ident, x, y, flux, score, flag = [], [], [], [], [], [], []
    for number, (source, xy, why) in enumerate(objects, start=1):
        found = source >= 0
        flux.append([catalogues[k].flux[source[k]] if found[k] else np.nan for k in range(n)])
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
