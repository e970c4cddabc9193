"""MOT metrics (HOTA, CLEAR, Identity) of a track table against ground truth.

The metric arithmetic is TrackEval's: its ``HOTA``, ``CLEAR`` and ``Identity`` classes are
called with the data dict they expect, built here from our own per-frame similarity matrices
(:mod:`debristrack.geometry.similarity`). Sequences are combined with TrackEval's own
``combine_sequences`` (sums of counts, detection-weighted averages), never as a mean of
per-sequence figures.

[SDT] sec. 5.2 reports MOTA, IDF1, IDS and HOTA (with DetA, AssA); the same call gives the
whole CLEAR and Identity families as well.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np
from astropy.table import Table

from ..config import replace_checked
from ..errors import InputError
from ..io.tables import detections_only, table_kind
from ..geometry.similarity import (
    padded_box_iou_pairs,
    point_similarity_pairs,
    streak_iou_pairs,
    thick_width,
)

ALPHAS = np.arange(0.05, 0.99, 0.05)
"""The localisation thresholds alpha at which TrackEval evaluates HOTA (0.05, 0.10, ... 0.95),
computed exactly as ``trackeval.metrics.HOTA().array_labels``."""

DEFAULT_FWHM = 1.5
"""PSF FWHM in pixels assumed when neither the options nor the sequence give one (width 3 px)."""

SUMMARY_FIELDS = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr",
                  "MOTA", "MOTP", "MODA", "IDF1", "IDP", "IDR", "Recall", "Precision",
                  "TP", "FP", "FN", "IDS", "Frag", "MT", "PT", "ML", "GT_IDs", "IDs",
                  "GT_Dets", "Dets", "Frames")
"""Keys of :meth:`MotResult.summary`, in order. HOTA-family values are averaged over
:data:`ALPHAS`, as TrackEval reports them; MOTP is the mean similarity of matched pairs."""


@dataclass(frozen=True)
class MotConfig:
    """How tracks are matched to ground truth for the MOT metrics."""

    similarity: str = field(default="thick", metadata={
        "help": "streak similarity: 'thick' (IoU of the segments drawn as thick lines) or "
                "'box' (IoU of padded axis-aligned boxes, [SDT]-compatible)",
        "metavar": "thick|box"})
    width: float | None = field(default=None, metadata={
        "help": "streak line width / box padding in px; none = 2 x PSF FWHM, at least 3"})
    fwhm: float | None = field(default=None, metadata={
        "help": "PSF FWHM in px for the width; none = from the sequence's meta.json, "
                f"else {DEFAULT_FWHM}"})
    radius: float = field(default=3.0, metadata={
        "help": "point match radius r in px: similarity max(0, 1 - d/r), and the radius "
                "of the detection figures"})
    threshold: float = field(default=0.5, metadata={
        "help": "similarity needed for a match in CLEAR (MOTA ...) and Identity (IDF1 ...)"})

    def __post_init__(self):
        if self.similarity not in ("thick", "box"):
            raise InputError(f"similarity must be 'thick' or 'box', got {self.similarity!r}")
        for name in ("width", "fwhm", "radius"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive number of pixels, got {value}")
        if not 0 < self.threshold <= 1:
            raise InputError(f"threshold must be in (0, 1], got {self.threshold}")

    def line_width(self) -> float:
        """The thick-line width (or box padding) in pixels this configuration gives."""
        if self.width is not None:
            return float(self.width)
        return thick_width(self.fwhm if self.fwhm is not None else DEFAULT_FWHM)


@dataclass(frozen=True)
class MotResult:
    """TrackEval's raw results for one sequence or a combination of sequences.

    ``raw`` maps ``"HOTA"``, ``"CLEAR"``, ``"Identity"`` to the dicts their
    ``eval_sequence`` / ``combine_sequences`` return; ``counts`` holds the numbers of ids
    and detections, which TrackEval keeps in a separate ``Count`` metric.
    """

    raw: dict
    counts: dict

    @classmethod
    def combine(cls, results: Iterable["MotResult"]) -> "MotResult":
        """Combine sequences the way TrackEval does (``combine_sequences``).

        Counts are summed and the ratios recomputed from the sums; AssA, AssRe, AssPr and
        LocA are averaged weighted by each sequence's HOTA true positives.
        """
        results = list(results)
        if not results:
            raise InputError("no sequences to combine")
        raw = {}
        # combine_sequences only sums and re-weights, so the threshold plays no part here.
        for name, metric in _metrics(0.5).items():
            raw[name] = metric.combine_sequences({i: r.raw[name] for i, r in enumerate(results)})
        counts = {k: sum(r.counts[k] for r in results) for k in results[0].counts}
        return cls(raw, counts)

    def summary(self) -> dict[str, float | int]:
        """Flat dict of :data:`SUMMARY_FIELDS`: floats for scores, ints for counts."""
        h, c, i = self.raw["HOTA"], self.raw["CLEAR"], self.raw["Identity"]
        out = {name: float(np.mean(h[name])) for name in
               ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr")}
        out.update(MOTA=float(c["MOTA"]), MOTP=float(c["MOTP"]), MODA=float(c["MODA"]),
                   IDF1=float(i["IDF1"]), IDP=float(i["IDP"]), IDR=float(i["IDR"]),
                   Recall=float(c["CLR_Re"]), Precision=float(c["CLR_Pr"]))
        out.update(TP=int(c["CLR_TP"]), FP=int(c["CLR_FP"]), FN=int(c["CLR_FN"]),
                   IDS=int(c["IDSW"]), Frag=int(c["Frag"]), MT=int(c["MT"]), PT=int(c["PT"]),
                   ML=int(c["ML"]))
        out.update({k: int(v) for k, v in self.counts.items()})
        return out

    def curves(self) -> dict[str, np.ndarray]:
        """HOTA, DetA, AssA and LocA at each alpha of :data:`ALPHAS`, shape (19,) each."""
        return {k: np.asarray(self.raw["HOTA"][k], dtype=float) for k in ("HOTA", "DetA", "AssA", "LocA")}


def _metrics(threshold: float) -> dict:
    # Imported here: trackeval pulls in all its dataset readers, which `--help` need not pay for.
    from trackeval.metrics import CLEAR, HOTA, Identity

    cfg = {"THRESHOLD": float(threshold), "PRINT_CONFIG": False}
    return {"HOTA": HOTA(), "CLEAR": CLEAR(cfg), "Identity": Identity(cfg)}


# ----------------------------------------------------------------------------- data dict

def _check_ids(frames: np.ndarray, ids: np.ndarray, what: str) -> None:
    if len(frames) and (frames < 0).any():
        raise InputError(f"{what}: negative frame {int(frames.min())}")
    key = np.stack([frames, ids], axis=1)
    uniq, counts = np.unique(key, axis=0, return_counts=True)
    if (counts > 1).any():
        f, i = uniq[np.argmax(counts > 1)]
        raise InputError(f"{what}: duplicate (frame, id) = ({int(f)}, {int(i)})")


def tracking_data(gt_frames, gt_ids, pred_frames, pred_ids,
                  similarity: Callable[[np.ndarray, np.ndarray], np.ndarray], *,
                  num_timesteps: int | None = None) -> dict:
    """Build the data dict TrackEval's metrics take, from rows and a pair similarity.

    Parameters
    ----------
    gt_frames, gt_ids : (G,) integer arrays: 0-based frame and track id of each GT row.
    pred_frames, pred_ids : (T,) integer arrays, the same for the predicted rows.
    similarity : function ``(gi, pj) -> (P,)`` giving the similarity in [0, 1] of GT row
        ``gi[k]`` with predicted row ``pj[k]``; it is called once with every same-frame pair.
    num_timesteps : number of frames; default one more than the largest frame.

    Returns
    -------
    dict with ``num_timesteps``, ``num_gt_ids``, ``num_tracker_ids``, ``num_gt_dets``,
    ``num_tracker_dets`` and, per frame, ``gt_ids``, ``tracker_ids`` (ids remapped to
    0..n-1) and ``similarity_scores`` (``(n_gt_t, n_pred_t)`` arrays).
    """
    gf, gid = np.asarray(gt_frames, dtype=np.int64), np.asarray(gt_ids, dtype=np.int64)
    pf, pid = np.asarray(pred_frames, dtype=np.int64), np.asarray(pred_ids, dtype=np.int64)
    _check_ids(gf, gid, "ground truth")
    _check_ids(pf, pid, "prediction")
    n_t = int(max(gf.max(initial=-1), pf.max(initial=-1)) + 1 if num_timesteps is None else num_timesteps)
    for frames, what in ((gf, "ground truth"), (pf, "prediction")):
        if frames.max(initial=-1) >= n_t:
            raise InputError(f"{what}: frame {int(frames.max())} is beyond the sequence's {n_t} frames")
    _, gid_new = np.unique(gid, return_inverse=True)
    _, pid_new = np.unique(pid, return_inverse=True)

    # Rows grouped by frame: order[start[t]:start[t+1]] are the rows of frame t.
    g_order, p_order = np.argsort(gf, kind="stable"), np.argsort(pf, kind="stable")
    g_cnt, p_cnt = np.bincount(gf, minlength=n_t), np.bincount(pf, minlength=n_t)
    g_start = np.concatenate([[0], np.cumsum(g_cnt)])
    p_start = np.concatenate([[0], np.cumsum(p_cnt)])

    # Every same-frame (gt, pred) pair of the sequence, frame by frame, row-major.
    n_pairs = g_cnt * p_cnt
    pair_start = np.concatenate([[0], np.cumsum(n_pairs)])
    pair_frame = np.repeat(np.arange(n_t), n_pairs)
    k = np.arange(pair_start[-1]) - pair_start[pair_frame]
    cols = p_cnt[pair_frame]
    gi = g_order[g_start[pair_frame] + k // np.maximum(cols, 1)]
    pj = p_order[p_start[pair_frame] + k % np.maximum(cols, 1)]
    sims = np.asarray(similarity(gi, pj), dtype=float) if len(gi) else np.zeros(0)
    if sims.shape != gi.shape or not np.isfinite(sims).all():
        raise InputError("similarity function returned a wrong shape or non-finite values")
    sims = np.clip(sims, 0.0, 1.0)

    data = {"num_timesteps": n_t, "num_gt_ids": int(gid_new.max(initial=-1)) + 1,
            "num_tracker_ids": int(pid_new.max(initial=-1)) + 1,
            "num_gt_dets": len(gf), "num_tracker_dets": len(pf),
            "gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    for t in range(n_t):
        g_rows = g_order[g_start[t]:g_start[t + 1]]
        p_rows = p_order[p_start[t]:p_start[t + 1]]
        data["gt_ids"].append(gid_new[g_rows])
        data["tracker_ids"].append(pid_new[p_rows])
        data["similarity_scores"].append(
            sims[pair_start[t]:pair_start[t + 1]].reshape(len(g_rows), len(p_rows)))
    return data


def evaluate_data(data: dict, *, threshold: float = 0.5) -> MotResult:
    """Run TrackEval's HOTA, CLEAR and Identity on a data dict from :func:`tracking_data`.

    ``threshold`` is the similarity a pair needs to be a match in CLEAR and Identity
    (TrackEval's ``THRESHOLD``, default 0.5); HOTA sweeps its own thresholds :data:`ALPHAS`.
    """
    raw = {name: metric.eval_sequence(data) for name, metric in _metrics(threshold).items()}
    counts = {"GT_IDs": data["num_gt_ids"], "IDs": data["num_tracker_ids"],
              "GT_Dets": data["num_gt_dets"], "Dets": data["num_tracker_dets"],
              "Frames": data["num_timesteps"]}
    return MotResult(raw, counts)


# ----------------------------------------------------------------------------- tables

def _columns(table: Table, names) -> np.ndarray:
    return np.stack([np.asarray(table[c], dtype=float) for c in names], axis=1) if len(table) else \
        np.zeros((0, len(names)))


def resolve_kind(gt: Table, pred: Table, kind: str | None = None, *,
                 gt_name: str = "ground truth", pred_name: str = "prediction") -> str:
    """The table kind (``"streak"`` or ``"point"``) of a GT/prediction pair.

    Defaults to what the GT table's columns say; raises InputError when the prediction (or
    an explicit ``kind``) disagrees.
    """
    gt_kind = gt.meta.get("kind") or table_kind(gt.colnames)
    pred_kind = pred.meta.get("kind") or table_kind(pred.colnames)
    kind = kind or gt_kind
    if kind not in ("streak", "point"):
        raise InputError(f"kind must be 'streak' or 'point', got {kind!r}")
    if gt_kind != kind:
        raise InputError(f"{gt_name} is a {gt_kind} table, not a {kind} table (--kind {kind})")
    if pred_kind != kind:
        raise InputError(f"{pred_name} is a {pred_kind} table but the ground truth "
                         f"{gt_name} is a {kind} table")
    return kind


def pair_similarity(gt: Table, pred: Table, *, kind: str,
                    config: MotConfig) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The ``(gi, pj) -> similarities`` function for two tables of one kind."""
    if kind == "point":
        g, p = _columns(gt, ("x", "y")), _columns(pred, ("x", "y"))
        return lambda gi, pj: point_similarity_pairs(g[gi], p[pj], radius=config.radius)
    g, p = _columns(gt, ("x1", "y1", "x2", "y2")), _columns(pred, ("x1", "y1", "x2", "y2"))
    pair_fn = streak_iou_pairs if config.similarity == "thick" else padded_box_iou_pairs
    width = config.line_width()
    return lambda gi, pj: pair_fn(g[gi], p[pj], width=width)


def track_metrics(gt: Table, pred: Table, *, kind: str | None = None,
                  config: MotConfig | None = None, num_timesteps: int | None = None) -> MotResult:
    """TrackEval's raw MOT results of one sequence's tracks against its ground truth.

    Parameters
    ----------
    gt, pred : tables in the DESIGN.md format (``frame,id,x1,y1,x2,y2`` or
        ``frame,id,x,y``), e.g. from :func:`debristrack.io.tables.read_table`; rows with
        NaN coordinates (flagged misses) are skipped.
    kind : ``"streak"`` or ``"point"``; default from the GT columns.
    config : matching options (:class:`MotConfig`); default ``MotConfig()``.
    num_timesteps : frames in the sequence; default one more than the largest frame.

    Returns
    -------
    :class:`MotResult`; ``.summary()`` gives the figures, ``MotResult.combine`` combines
    sequences.
    """
    config = config or MotConfig()
    kind = resolve_kind(gt, pred, kind)
    gt, pred = detections_only(gt), detections_only(pred)
    data = tracking_data(np.asarray(gt["frame"]), np.asarray(gt["id"]),
                         np.asarray(pred["frame"]), np.asarray(pred["id"]),
                         pair_similarity(gt, pred, kind=kind, config=config),
                         num_timesteps=num_timesteps)
    return evaluate_data(data, threshold=config.threshold)


def evaluate_tracks(gt: Table, pred: Table, *, kind: str | None = None,
                    config: MotConfig | None = None, **options) -> dict[str, float | int]:
    """MOT figures of one sequence: ``track_metrics(...).summary()``.

    ``options`` override fields of ``config`` (``similarity``, ``width``, ``fwhm``,
    ``radius``, ``threshold``), e.g. ``evaluate_tracks(gt, pred, radius=2.0)``.

    Returns
    -------
    dict with the keys of :data:`SUMMARY_FIELDS` (HOTA, DetA, AssA, LocA, MOTA, MOTP,
    IDF1, IDS, FP, FN, Frag, MT, PT, ML, ...).
    """
    config = replace_checked(config or MotConfig(), **options)
    return track_metrics(gt, pred, kind=kind, config=config).summary()


def evaluate_sequences(pairs: Mapping[str, tuple[Table, Table]], *, kind: str | None = None,
                       config: MotConfig | None = None,
                       configs: Mapping[str, MotConfig] | None = None,
                       ) -> tuple[dict[str, MotResult], MotResult]:
    """MOT results per sequence and combined over all of them (TrackEval's way).

    Parameters
    ----------
    pairs : ``{name: (gt_table, pred_table)}``.
    kind : table kind, default from each GT table.
    config : matching options for every sequence.
    configs : per-sequence options (e.g. each with its own PSF FWHM); overrides ``config``.

    Returns
    -------
    (per_sequence, combined): ``{name: MotResult}`` and the combined :class:`MotResult`;
    call ``.summary()`` on either for the figures.
    """
    config = config or MotConfig()
    per_seq = {}
    for name, (gt, pred) in pairs.items():
        cfg = (configs or {}).get(name, config)
        try:
            per_seq[name] = track_metrics(gt, pred, kind=kind, config=cfg)
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from None
    return per_seq, MotResult.combine(per_seq.values())


def with_fwhm(config: MotConfig, fwhm: float | None) -> MotConfig:
    """``config`` with the sequence's PSF FWHM filled in, unless width or FWHM were given."""
    if fwhm is None or config.width is not None or config.fwhm is not None:
        return config
    return dataclasses.replace(config, fwhm=float(fwhm))
