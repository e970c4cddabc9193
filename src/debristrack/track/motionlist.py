"""[TRK] nearest-movement lists: find the objects a telescope follows among moving stars.

In satellite-tracking mode the telescope follows the object's predicted path, so the object
stays nearly fixed on the detector while the stars move ([TRK] sec. 4.1): between adjacent
frames the object's movement ``||K_{k,k-1}||`` is the smallest of all sources, bounded by the
mount's peak following error ``||K_max||``. The steps, each a pure function over arrays of
centroids (pixels; 0-based, ``x`` = column, ``y`` = row, centre of the first pixel = (0, 0)):

1. :func:`nearest_movement`: for each source of frame k, the distance to its nearest source
   in frame k-1 (a KD-tree query, [TRK] sec. 4.3);
2. :func:`suspicious_list`: the ranked list of frame k, the sources whose movement is at most
   ``||K_max||``, in ascending order ([TRK] sec. 4.4);
3. :func:`cluster_lists`: threshold clustering of the list entries across frames with
   similarity threshold T ([TRK] sec. 4.5);
4. :func:`follow_objects`: the largest clusters that pass the two stationarity properties
   become trajectories, followed frame by frame with an object model, and each frame without
   a position is explained (star collision, too faint, lost, outside the frame).

[TRK] lost the formulas of the list bound, T and the two properties in conversion; the choices
made from the words and standard practice are written in each function's docstring.

Where this departs from [TRK] (issue 20: real star fields, crowding and nebulosity):

- a cluster must also be more than chance (:func:`chance_members`, over the list entries
  of the cluster's own flux): in a crowded or hot-pixel-rich field the lists hold hundreds
  of stars that by chance landed within ``||K_max||`` of another source, and chains of them
  pass the two properties; [TRK] takes "the cluster containing the most elements" on its
  own (sec. 4.5), which holds on its sparse 1.2 m fields but not there;
- the trajectory is followed with an object model (:func:`follow_with_model`: position,
  flux and PSF width from the previous frames) instead of [TRK]'s plain cluster members: a
  star that crosses the object lands within T of it and enters its cluster (sec. 5.3, Fig.
  10), and the model rejects it by its flux and width and flags the frame ``collision``;
- a run of frames without the object is flagged ``lost`` rather than left as a gap;
- the clusters that pass the two properties but are too small to be more than chance are
  kept as ``candidates``: target mode (:mod:`debristrack.pipeline.target`) verifies them,
  and fills the frames the catalogues missed, with forced measurements on the pixels
  against a sky template (:mod:`.forced`), where [TRK] has only its extracted sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import poisson

from ..geometry import gated_assignment

# Reasons a followed object has no position in a frame (the ``flag`` column of the table).
FOUND = "ok"
COLLISION = "collision"
FAINT = "faint"
LOST = "lost"
OUTSIDE = "outside"
LOST_RUN = 3  # this many consecutive frames without the object: "lost", not "faint"
MODEL_FRAMES = 5  # the object model is the median of this many previous measurements
MAX_CANDIDATES = 40  # clusters handed on for verification on the pixels (FollowResult.candidates)


def k_max_from_arcsec(peak_arcsec, plate_scale: float) -> float:
    """The list bound ``||K_max||`` in pixels from the mount's peak following error.

    [TRK] sec. 3.2 and 4.4: the peaks of the following error in azimuth and altitude, turned
    into pixels with the plate scale (``N = error / scale``), combine as
    ``||K_max|| = ceil(sqrt(N_alpha**2 + N_beta**2))``, rounded up to whole pixels as the paper
    does.

    Parameters
    ----------
    peak_arcsec : one value (the total peak following error) or two (azimuth, altitude), arcsec.
    plate_scale : arcsec per pixel.
    """
    peaks = np.atleast_1d(np.asarray(peak_arcsec, dtype=np.float64))
    if peaks.size not in (1, 2) or np.any(~np.isfinite(peaks)) or np.any(peaks < 0):
        raise ValueError("peak following error: one or two finite non-negative values in arcsec")
    if not (plate_scale > 0 and math.isfinite(plate_scale)):
        raise ValueError(f"plate scale must be positive, got {plate_scale}")
    n = peaks / plate_scale
    return float(max(1, math.ceil(float(np.sqrt(np.sum(n**2))) - 1e-9)))


def nearest_movement(xy: np.ndarray, xy_prev: np.ndarray | cKDTree) -> tuple[np.ndarray, np.ndarray]:
    """[TRK] sec. 4.3: each source's distance to its nearest source in the previous frame.

    Parameters
    ----------
    xy : (n, 2) centroids of frame k, pixels.
    xy_prev : (m, 2) centroids of frame k-1, or a ``cKDTree`` already built on them.

    Returns
    -------
    distance : (n,) float, pixels; ``inf`` when frame k-1 has no source.
    index : (n,) int, the nearest source's row in ``xy_prev``; -1 when there is none.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    tree = xy_prev if isinstance(xy_prev, cKDTree) else cKDTree(np.asarray(xy_prev, np.float64).reshape(-1, 2))
    if tree.n == 0 or len(xy) == 0:
        return np.full(len(xy), np.inf), np.full(len(xy), -1, dtype=np.int64)
    dist, idx = tree.query(xy, k=1)
    return dist, idx.astype(np.int64)


def suspicious_list(distance: np.ndarray, k_max: float) -> np.ndarray:
    """[TRK] sec. 4.4: the ranked list of suspicious objects of one frame.

    The movements are sorted in ascending order and the list keeps the first n, with n the
    count of movements not larger than ``||K_max||`` (the paper's choice of n from the
    following error), so the followed object is in the list whenever it was measured in both
    frames.

    Parameters
    ----------
    distance : (n,) movements from :func:`nearest_movement`, pixels.
    k_max : the bound ``||K_max||``, pixels.

    Returns
    -------
    (m,) int indices into ``distance``, nearest movement first.
    """
    distance = np.asarray(distance, dtype=np.float64)
    order = np.argsort(distance, kind="stable")
    return order[: int(np.searchsorted(distance[order], k_max, side="right"))]


def cluster_lists(frames: np.ndarray, xy: np.ndarray, threshold: float) -> np.ndarray:
    """[TRK] sec. 4.5: threshold clustering of the list entries of all frames.

    Entries are taken frame by frame. Each entry's Euclidean distance ``d`` to every cluster
    centre is compared with the similarity threshold ``T``: beyond ``T`` of every centre it
    starts a new cluster, otherwise it joins the nearest cluster and becomes that cluster's
    centre (so a centre follows a slow drift). Within one frame the entries are matched to
    the centres by minimum total distance (:func:`debristrack.geometry.gated_assignment`), so a cluster takes at
    most one position per frame, as a trajectory does.

    Parameters
    ----------
    frames : (n,) int frame index of each entry.
    xy : (n, 2) entry positions, pixels.
    threshold : T, pixels.

    Returns
    -------
    (n,) int cluster label of each entry, labels 0, 1, ... in order of creation.
    """
    frames = np.asarray(frames, dtype=np.int64)
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    labels = np.full(len(frames), -1, dtype=np.int64)
    centres = np.empty((0, 2))
    for k in np.unique(frames):
        rows = np.flatnonzero(frames == k)
        if len(centres):
            pairs = cKDTree(xy[rows]).sparse_distance_matrix(cKDTree(centres), threshold, output_type="ndarray")
            if pairs.size:
                cols = np.unique(pairs["j"])
                cost = np.full((len(rows), len(cols)), np.inf)
                cost[pairs["i"], np.searchsorted(cols, pairs["j"])] = pairs["v"]
                m, _, _ = gated_assignment(cost, threshold, infeasible=1e9)
                labels[rows[m[:, 0]]] = cols[m[:, 1]]
                centres[cols[m[:, 1]]] = xy[rows[m[:, 0]]]
        new = rows[labels[rows] < 0]
        labels[new] = len(centres) + np.arange(len(new))
        centres = np.vstack([centres, xy[new]])
    return labels


def stationarity(frames: np.ndarray, xy: np.ndarray) -> tuple[float, float]:
    """[TRK] sec. 4.5: the two stationarity properties of a trajectory cluster.

    The coordinate sequence of a followed object is stationary: it stays close to a smooth
    path (the slow drift left by the ephemeris error). Both properties are measured on the
    residuals ``r_k = ||w_k - w_hat_k||`` from the least-squares straight line ``w_hat``
    through the cluster (x and y linear in the frame index):

    - property 1: ``max_k r_k``, to be at most T (no member jumps off the path);
    - property 2: ``sqrt(mean_k r_k**2)``, to be at most H (the scatter is small).

    A chain of chance star coincidences wanders by up to T per frame and fails both.

    Parameters
    ----------
    frames : (n,) frame indices of the cluster members; xy : (n, 2) their positions, px.

    Returns
    -------
    (max residual, RMS residual) in pixels; (0, 0) for fewer than 3 members.
    """
    frames = np.asarray(frames, dtype=np.float64)
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(frames) < 3:
        return 0.0, 0.0
    design = np.column_stack([np.ones_like(frames), frames - frames.mean()])
    coef, *_ = np.linalg.lstsq(design, xy, rcond=None)
    resid = np.hypot(*(xy - design @ coef).T)
    return float(resid.max()), float(np.sqrt(np.mean(resid**2)))


def chance_members(list_lengths: np.ndarray, area: float, threshold: float, *,
                   false_objects: float = 1e-3) -> int:
    """The smallest cluster size that chance coincidences reach with probability below
    ``false_objects`` per sequence (a departure from [TRK], see the module docstring).

    A list entry that is a star which landed near another source is a random point of the
    frame: in list k (``n_k`` entries over ``area`` px^2) a given spot has an entry within T
    with probability ``q_k = 1 - exp(-n_k pi T^2 / area)``. The count of lists with an entry
    at one spot is then about Poisson with mean ``sum_k q_k``, and the frame holds about
    ``area / (pi T^2)`` independent spots; the returned size ``m`` is the smallest with
    ``spots * P(X >= m) <= false_objects``. Sparse lists give 3 or less (the 3 members
    :func:`follow_objects` asks anyway).

    Parameters
    ----------
    list_lengths : (n_lists,) entries per list; area : frame area, px^2; threshold : T, px.
    """
    cell = math.pi * threshold**2
    lam = float(np.sum(1.0 - np.exp(-np.asarray(list_lengths, np.float64) * cell / area)))
    spots = max(1.0, area / cell)
    m = np.arange(1, len(list_lengths) + 1)
    above = spots * poisson.sf(m - 1, lam) > false_objects
    return int(m[np.argmin(above)]) if not above.all() else len(list_lengths) + 1


@dataclass(frozen=True)
class Trajectory:
    """One followed object over a sequence of ``n_frames`` frames.

    Attributes
    ----------
    xy : (n_frames, 2) float position per frame, pixels; NaN where not found.
    source : (n_frames,) int row of the position in that frame's catalogue; -1 where not found.
    flag : (n_frames,) str, ``"ok"`` where found, else why not: ``"collision"`` (a source
        that does not fit the object model, or another source's footprint, covers the
        predicted position: a star crossed the object), ``"faint"`` (nothing that fits was
        extracted there), ``"lost"`` (a run of ``LOST_RUN`` or more frames without the
        object), ``"outside"`` (predicted off the frame).
    members : number of list entries in its cluster (frames where the lists found it).
    max_residual, rms_residual : the two stationarity properties, pixels (:func:`stationarity`).
    """

    xy: np.ndarray
    source: np.ndarray
    flag: np.ndarray
    members: int
    max_residual: float
    rms_residual: float

    @property
    def found(self) -> np.ndarray:
        """(n_frames,) bool, True where the object has a position."""
        return self.source >= 0


@dataclass(frozen=True)
class FollowResult:
    """What :func:`follow_objects` found.

    Attributes
    ----------
    trajectories : accepted objects, the largest cluster first (may be empty: no object).
    list_lengths : (n_frames,) int length of each frame's suspicious list (0 for frame 0).
    static_fraction : median over frames of the fraction of sources (the brightest quarter
        when fluxes are given) that moved at most ``||K_max||``.
    note : empty, or why no object could be singled out (e.g. the stars do not move).
    candidates : the clusters of at least 2 entries that pass the two properties but not the
        chance bound (or hold too few positions), largest first, at most ``MAX_CANDIDATES``,
        as ``(frames (m,), xy (m, 2))``: a caller with the pixels can verify them
        (:mod:`.forced`; a departure from [TRK], module docstring).
    """

    trajectories: list[Trajectory]
    list_lengths: np.ndarray
    static_fraction: float
    note: str = ""
    candidates: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


def follow_objects(catalogues: list[np.ndarray], *, k_max: float = 2.0, threshold: float | None = None,
                   scatter: float | None = None, min_fraction: float = 0.2, max_objects: int = 3,
                   max_static_fraction: float = 0.5, fluxes: list[np.ndarray] | None = None,
                   footprints: list[np.ndarray] | None = None, widths: list[np.ndarray] | None = None,
                   shape: tuple[int, int] | None = None, false_objects: float = 1e-3) -> FollowResult:
    """[TRK] sec. 4.3-4.5 on the centroid catalogues of a sequence.

    Parameters
    ----------
    catalogues : one (n_k, 2) array of source centroids per frame, pixels.
    k_max : ``||K_max||`` in pixels, the largest movement of a followed object between adjacent
        frames: the list bound of [TRK] sec. 4.4, set there from the peak following error
        (if the error swings faster than the cadence, up to twice the peak).
    threshold : similarity threshold T of the clustering and of property 1 (px); None = ``k_max``
        ([TRK] derives T from the same following-error peaks; sec. 5.1 uses T = ||K_max|| = 2).
    scatter : H, the bound of property 2 (px); None = ``k_max / 2`` ([TRK] sec. 5.1: H = 1
        for ||K_max|| = 2).
    min_fraction : a cluster must hold entries from at least this fraction of the lists
        (and at least 3 entries) to be an object.
    max_objects : at most this many objects are reported (the largest clusters that pass).
    max_static_fraction : if in the median frame more than this fraction of the sources moved
        at most ``k_max``, the stars are not moving (sidereal or staring data, or a slow
        field): nothing can be told apart by motion and no object is reported (``note`` says so).
    fluxes : optional per-frame (n_k,) source fluxes; the static fraction is then measured on
        the brightest quarter of each frame's sources (at least 10), which are stars, not the
        noise detections that a low extraction threshold adds.
    footprints : optional per-frame (n_k, 4) int source bounding boxes ``xmin, xmax, ymin,
        ymax``, used to tell a star collision from a too-faint object in the missed frames.
    widths : optional per-frame (n_k,) source PSF widths (px, e.g. ``sqrt(a b)``); with
        ``fluxes`` they make the object model of :func:`follow_with_model`.
    shape : optional (ny, nx), to flag positions predicted outside the frame.
    false_objects : the chance-cluster rate allowed per sequence (:func:`chance_members`).

    Returns
    -------
    FollowResult
        A trajectory's positions come from :func:`follow_with_model` seeded with its cluster.
    """
    n_frames = len(catalogues)
    t = float(k_max if threshold is None else threshold)
    h = float(k_max / 2 if scatter is None else scatter)
    cats = [np.asarray(c, dtype=np.float64).reshape(-1, 2) for c in catalogues]
    trees = [cKDTree(c) for c in cats]

    entry_frame, entry_source, entry_xy = [], [], []
    lengths, static = np.zeros(n_frames, np.int64), []
    for k in range(1, n_frames):
        dist, _ = nearest_movement(cats[k], trees[k - 1])
        ranked = suspicious_list(dist, k_max)
        lengths[k] = ranked.size
        bright = _brightest(fluxes[k], len(cats[k])) if fluxes is not None else slice(None)
        if np.size(dist[bright]):
            static.append(float(np.mean(dist[bright] <= k_max)))
        entry_frame.append(np.full(ranked.size, k, dtype=np.int64))
        entry_source.append(ranked)
        entry_xy.append(cats[k][ranked])
    static_fraction = float(np.median(static)) if static else 0.0
    if static_fraction > max_static_fraction:
        note = (f"{static_fraction:.0%} of the sources moved at most {k_max:g} px between frames: "
                "the stars are not moving, so a followed object cannot be told apart by motion")
        return FollowResult([], lengths, static_fraction, note)
    if n_frames < 2:
        return FollowResult([], lengths, static_fraction)

    frames = np.concatenate(entry_frame)
    sources = np.concatenate(entry_source)
    xy = np.concatenate(entry_xy)
    labels = cluster_lists(frames, xy, t)
    sizes = np.bincount(labels) if labels.size else np.zeros(0, np.int64)
    if shape is not None:
        area = float(shape[0] * shape[1])
    else:
        every = np.vstack(cats)
        area = float(np.prod(np.ptp(every, axis=0) + 1)) if len(every) else 1.0
    base = max(3, math.ceil(min_fraction * (n_frames - 1)))
    entry_lf = (np.log(np.maximum(np.concatenate([fluxes[k][entry_source[k - 1]] for k in range(1, n_frames)]),
                                  1e-30)) if fluxes is not None else None)

    accepted: list[Trajectory] = []
    candidates: list[tuple[np.ndarray, np.ndarray]] = []
    for label in np.argsort(-sizes, kind="stable"):
        if sizes[label] < 2 or (len(accepted) >= max_objects and len(candidates) >= MAX_CANDIDATES):
            break
        rows = np.flatnonzero(labels == label)
        p1, p2 = stationarity(frames[rows], xy[rows])
        if p1 > t or p2 > h:
            continue
        if sizes[label] < base or len(accepted) >= max_objects:
            if len(candidates) < MAX_CANDIDATES:
                candidates.append((frames[rows], xy[rows]))
            continue
        # The chance bound counts only the list entries as bright as this cluster: chance
        # chains of stars do not share one flux, a followed object does.
        like = slice(None) if entry_lf is None else np.abs(entry_lf - np.median(entry_lf[rows])) <= _flux_tolerance(entry_lf[rows])
        like_lengths = np.bincount(frames[like], minlength=n_frames)[1:]
        need = max(base, chance_members(like_lengths, area, t, false_objects=false_objects))
        if sizes[label] < need:
            candidates.append((frames[rows], xy[rows]))
            continue
        source, pos, flag = follow_with_model(frames[rows], sources[rows], cats, t, trees=trees, fluxes=fluxes,
                                              widths=widths, footprints=footprints, shape=shape)
        traj = Trajectory(pos, source, flag, int(len(rows)), p1, p2)
        if traj.found.sum() >= need and not any(_same_object(traj, other, t) for other in accepted):
            accepted.append(traj)
        elif traj.found.sum() < need:
            candidates.append((frames[rows], xy[rows]))
    return FollowResult(accepted, lengths, static_fraction, candidates=candidates[:MAX_CANDIDATES])


def _brightest(flux: np.ndarray, n: int) -> np.ndarray:
    """Indices of the brightest quarter (at least 10) of ``n`` sources."""
    keep = min(n, max(10, n // 4))
    return np.argsort(-np.asarray(flux, dtype=np.float64), kind="stable")[:keep]


def follow_with_model(member_frames: np.ndarray, member_sources: np.ndarray, cats: list[np.ndarray],
                      t: float, *, trees: list[cKDTree] | None = None, fluxes: list[np.ndarray] | None = None,
                      widths: list[np.ndarray] | None = None, footprints: list[np.ndarray] | None = None,
                      shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow one object through every frame with a model of it (departs from [TRK], whose
    trajectory is the cluster's members; module docstring).

    The model is the median position, log flux and PSF width of the object's last
    ``MODEL_FRAMES`` measurements (seeded with its first cluster members). In frame k the
    object is the source nearest the predicted position, within T, whose flux and width fit
    the model: within 4 robust standard deviations of the members' own scatter (at least a
    factor e in flux and 1.8 in width, the scatter of a faint isophotal measurement). A
    source that does not fit but lies within T/2 is the object blended with a star right on
    it: its position is kept, the model does not learn from it. One that does not fit
    farther out is a star pulling the centroid away (``collision``); so is a footprint
    covering the prediction. Frames with nothing are ``faint``, runs of
    ``LOST_RUN`` or more of them ``lost``; predictions off the frame are ``outside``.

    Parameters
    ----------
    member_frames, member_sources : (m,) frame index and catalogue row of the cluster members.
    cats : per-frame (n_k, 2) centroids; t : T, px; trees : their cKDTrees (built if None).
    fluxes, widths : per-frame (n_k,) source fluxes and widths; None = position-only model.
    footprints : per-frame (n_k, 4) bounding boxes; shape : (ny, nx) of the frames.

    Returns
    -------
    source (n_frames,) int (-1 where not found), xy (n_frames, 2) (NaN there), flag (n_frames,) str.
    """
    n_frames = len(cats)
    trees = trees or [cKDTree(c) for c in cats]
    order = np.argsort(member_frames, kind="stable")
    member_frames, member_sources = np.asarray(member_frames)[order], np.asarray(member_sources)[order]
    use_model = fluxes is not None and widths is not None

    def measure(k, i):
        lf = math.log(max(float(fluxes[k][i]), 1e-30)) if use_model else 0.0
        lw = math.log(max(float(widths[k][i]), 1e-3)) if use_model else 0.0
        return cats[k][i], lf, lw

    seed = [measure(k, i) for k, i in zip(member_frames, member_sources)]
    tol_f = _flux_tolerance(np.array([m[1] for m in seed]))
    tol_w = _flux_tolerance(np.array([m[2] for m in seed]), floor=0.15)
    history = seed[:MODEL_FRAMES]

    source = np.full(n_frames, -1, dtype=np.int64)
    xy = np.full((n_frames, 2), np.nan)
    flag = np.full(n_frames, FOUND, dtype=object)
    for k in range(n_frames):
        pred = np.median([h[0] for h in history], axis=0)
        near = trees[k].query_ball_point(pred, t) if trees[k].n else []
        best, best_d, blend, blend_d = -1, np.inf, -1, np.inf
        for i in near:
            pos, lf, lw = measure(k, i)
            d = float(np.hypot(*(pos - pred)))
            if use_model:
                f_model = np.median([h[1] for h in history])
                w_model = np.median([h[2] for h in history])
                if abs(lf - f_model) > tol_f or abs(lw - w_model) > tol_w:
                    if d < blend_d:
                        blend, blend_d = i, d
                    continue
            if d < best_d:
                best, best_d = i, d
        if best >= 0:
            source[k], xy[k] = best, cats[k][best]
            history = (history + [measure(k, best)])[-MODEL_FRAMES:]
        elif blend >= 0 and blend_d <= t / 2:
            # The object blended with a star right on it: the centroid is still the
            # object's to within T/2, but the model does not learn from it.
            source[k], xy[k] = blend, cats[k][blend]
        elif blend >= 0:
            flag[k] = COLLISION
        else:
            flag[k] = _missing_reason(pred, None if footprints is None else footprints[k], shape)
    _flag_lost_runs(flag)
    return source, xy, flag.astype(str)


def _flux_tolerance(log_values: np.ndarray, floor: float = 0.25) -> float:
    """4 robust standard deviations (1.4826 MAD, at least ``floor``) of log fluxes or widths."""
    spread = 1.4826 * float(np.median(np.abs(log_values - np.median(log_values))))
    return 4 * max(floor, spread)


def _flag_lost_runs(flag: np.ndarray) -> None:
    """Turn ``faint`` into ``lost`` in runs of ``LOST_RUN`` or more frames without the object."""
    missing = np.isin(flag, (FAINT, COLLISION, LOST))
    k = 0
    while k < len(flag):
        if not missing[k]:
            k += 1
            continue
        end = k
        while end < len(flag) and missing[end]:
            end += 1
        if end - k >= LOST_RUN:
            run = flag[k:end]
            run[run == FAINT] = LOST
        k = end


def _missing_reason(p: np.ndarray, boxes: np.ndarray | None, shape) -> str:
    x, y = p
    if shape is not None and not (-0.5 <= x < shape[1] - 0.5 and -0.5 <= y < shape[0] - 0.5):
        return OUTSIDE
    if boxes is not None and len(boxes):
        b = np.asarray(boxes)
        # One pixel of margin: the object's own light widens the footprint it merged into.
        inside = (b[:, 0] - 1 <= x) & (x <= b[:, 1] + 1) & (b[:, 2] - 1 <= y) & (y <= b[:, 3] + 1)
        if inside.any():
            return COLLISION
    return FAINT


def _same_object(a: Trajectory, b: Trajectory, t: float) -> bool:
    """True when two trajectories share a source or run within T of each other."""
    both = a.found & b.found
    if not both.any():
        return False
    if np.any(a.source[both] == b.source[both]):
        return True
    return bool(np.median(np.hypot(*(a.xy[both] - b.xy[both]).T)) <= t)
