"""Present evaluation results: a text table, a JSON document and a plot.

The plot follows TrackEval's ``HOTA.plot_single_tracker_results``: HOTA, DetA and AssA
against the localisation threshold alpha (legend values are the means over alpha), with a
second panel of per-sequence bars.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write
from .detection import DetectionFigures
from .mot import ALPHAS, MotResult

TABLE_COLUMNS = ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDS", "FP", "FN",
                 "Frag", "MT", "ML")
"""Columns of the printed table; scores are shown in percent, like TrackEval prints them."""

DETECTION_COLUMNS = ("detection_rate", "false_alarm_rate", "position_rms", "n_true", "n_detections")
COMBINED = "COMBINED"


def _cell(name: str, value) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if name == "position_rms":
        return f"{value:.3f}"
    return f"{100 * value:.2f}"


def format_table(rows: dict[str, dict], columns) -> str:
    """Fixed-width text table: one line per ``rows`` key, the given columns."""
    names = list(rows)
    width = max([len("sequence")] + [len(n) for n in names])
    head = [f"{'sequence':<{width}}"] + [f"{c:>{max(7, len(c))}}" for c in columns]
    lines = ["  ".join(head)]
    for n in names:
        cells = [f"{n:<{width}}"] + [f"{_cell(c, rows[n].get(c)):>{max(7, len(c))}}" for c in columns]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def results_document(per_seq: dict[str, MotResult], combined: MotResult, *, kind: str,
                     options: dict, detection: dict[str, DetectionFigures] | None = None) -> dict:
    """Everything as one JSON-ready dict: options, per-sequence and combined figures.

    Keys: ``kind``, ``options``, ``alpha`` (the HOTA thresholds), ``sequences`` (name ->
    summary, with ``curves`` per alpha and ``detection`` for point tables) and ``combined``
    (the same for all sequences together).
    """
    def entry(result: MotResult, det: DetectionFigures | None) -> dict:
        out = dict(result.summary())
        out["curves"] = {k: v.tolist() for k, v in result.curves().items()}
        if det is not None:
            out["detection"] = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                                for k, v in det.as_dict().items()}
        return out

    detection = detection or {}
    total = DetectionFigures.combine(detection.values()) if detection else None
    return {"kind": kind, "options": options, "alpha": [round(float(a), 2) for a in ALPHAS],
            "sequences": {n: entry(r, detection.get(n)) for n, r in per_seq.items()},
            "combined": entry(combined, total)}


def text_report(per_seq: dict[str, MotResult], combined: MotResult, *,
                detection: dict[str, DetectionFigures] | None = None) -> str:
    """The printed report: the MOT table (and the detection table for point tables)."""
    rows = {n: r.summary() for n, r in per_seq.items()}
    if len(per_seq) > 1:
        rows[COMBINED] = combined.summary()
    parts = ["MOT metrics (scores in %):", format_table(rows, TABLE_COLUMNS)]
    if detection:
        det_rows = {n: f.as_dict() for n, f in detection.items()}
        if len(detection) > 1:
            det_rows[COMBINED] = DetectionFigures.combine(detection.values()).as_dict()
        parts += ["", "Detection (rates in %, position RMS in px):",
                  format_table(det_rows, DETECTION_COLUMNS)]
    return "\n".join(parts)


def plot_results(path: str | os.PathLike, per_seq: dict[str, MotResult], combined: MotResult,
                 *, title: str = "") -> Path:
    """Write :func:`results_figure` (PNG, PDF or SVG by suffix) atomically."""
    path = Path(path)
    fig = results_figure(per_seq, combined, title=title)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=120)
    return path


def results_figure(per_seq: dict[str, MotResult], combined: MotResult, *, title: str = ""):
    """The evaluation plot as a matplotlib ``Figure``.

    Left: HOTA, DetA, AssA (and LocA) against alpha for all sequences together, as TrackEval
    draws them. Right: HOTA, MOTA and IDF1 per sequence as grouped bars.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax, bars = fig.subplots(1, 2, width_ratios=(1, 1.3))
    curves = combined.curves()
    for name, style in (("HOTA", "r"), ("DetA", "b"), ("AssA", "g"), ("LocA", "m")):
        ax.plot(ALPHAS, curves[name], style, label=f"{name} ({np.mean(curves[name]):.2f})")
    ax.set(xlabel="alpha (localisation threshold)", ylabel="score", xlim=(0, 1), ylim=(0, 1),
           title=title or "all sequences")
    ax.legend(loc="lower left")

    names = list(per_seq)
    summaries = [per_seq[n].summary() for n in names]
    x = np.arange(len(names))
    for k, metric in enumerate(("HOTA", "MOTA", "IDF1")):
        bars.bar(x + (k - 1) * 0.27, [s[metric] for s in summaries], width=0.27, label=metric)
    many = len(names) > 4
    bars.set_xticks(x, names, rotation=45 if many else 0, ha="right" if many else "center",
                    fontsize="small")
    bars.axhline(0, color="k", lw=0.5)
    lowest = min(0.0, *[s["MOTA"] for s in summaries])  # MOTA can be negative
    bars.set(ylabel="score", title="per sequence", ylim=(lowest - 0.02, 1.0))
    bars.legend(loc="upper right", fontsize="small")
    return fig
