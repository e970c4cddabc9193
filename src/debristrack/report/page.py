"""The night report: one self-contained HTML page (PNGs embedded as base64, no network).

Sections: a summary table over the night's sequences (frames, tracks, objects, identified
and UCT when identification ran, detections per frame, MOT scores when there is ground
truth), the evaluation plot, then per sequence: the field with every track drawn, detections
(and watch latency) per frame, tracks on the sky when there is a WCS, a table of tracks and one
overlay strip of cut-outs per track.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table

from .. import __version__
from ..errors import InputError
from ..io.atomic import atomic_write
from ..io.tables import detections_only, read_table, table_kind
from . import figures
from .inputs import NightSequence


@dataclass
class SequenceReport:
    """Everything the page shows for one sequence (plain values and PNG bytes)."""

    entry: NightSequence
    table: Table
    n_frames: int
    counts: np.ndarray
    tracks: list[dict]
    summary: dict
    latency: np.ndarray | None = None
    field_png: bytes | None = None
    sky_png: bytes | None = None
    detections_png: bytes | None = None
    cutouts: dict[int, bytes] = field(default_factory=dict)
    mot: object | None = None       # MotResult when there is ground truth
    detection: object | None = None  # DetectionFigures (point tables with ground truth)
    notes: list[str] = field(default_factory=list)


def identification(table: Table) -> dict[int, str] | None:
    """Track id -> catalogue name/NORAD id, or ``"UCT"``; None when identification did not run
    (no ``norad`` or ``name`` column, issue 18's columns of the tracks table)."""
    cols = [c for c in ("name", "norad") if c in table.colnames]
    if not cols or len(table) == 0:
        return None
    out: dict[int, str] = {}
    for row in table:
        label = ""
        for c in cols:
            v = row[c]
            text = str(v).strip()
            if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
                text = ""
            elif isinstance(v, (float, np.floating)) and float(v) == int(v):
                text = str(int(v))
            if text and text.upper() not in ("UCT", "NAN", "--", "0"):  # norad 0: a UCT (issue 18)
                label = text if not label else f"{label} ({text})"
        tid = int(row["id"])
        if label or tid not in out:
            out[tid] = label or "UCT"
    return out


def with_identification(table: Table, identified: Path) -> Table:
    """The tracks table with ``norad`` and ``name`` columns from a watch's ``identified.csv``
    (``debristrack identify``'s per-track lines), when the table has none and the file exists."""
    if "norad" in table.colnames or not identified.is_file():
        return table
    with open(identified, newline="", encoding="utf-8") as fh:
        found = {int(r["id"]): r for r in csv.DictReader(fh)}
    ids = [int(i) for i in table["id"]] if len(table) else []
    out = table.copy()
    out["norad"] = np.array([int(found[i]["norad"]) if i in found else 0 for i in ids], dtype=np.int64)
    out["name"] = np.array([(found[i]["name"] if found[i]["status"] == "ID" else "UCT") if i in found else ""
                            for i in ids], dtype="U64")
    return out


def track_rows(table: Table) -> list[dict]:
    """One dict per track: id, first/last frame, detections, misses (flagged rows), mean
    score, rate (px/frame, from the first and last detection), start/end time, first RA/Dec."""
    if len(table) == 0:
        return []
    kind = table_kind(table.colnames)
    det = detections_only(table)
    names = identification(table) or {}
    out = []
    all_ids = np.asarray(table["id"])
    ids, frames = np.asarray(det["id"]), np.asarray(det["frame"])
    if kind == "point":
        x, y = np.asarray(det["x"], float), np.asarray(det["y"], float)
    else:
        x = 0.5 * (np.asarray(det["x1"], float) + np.asarray(det["x2"], float))
        y = 0.5 * (np.asarray(det["y1"], float) + np.asarray(det["y2"], float))
    for tid in np.unique(all_ids):
        rows = np.flatnonzero(ids == tid)
        rows = rows[np.argsort(frames[rows], kind="stable")]
        entry = {"id": int(tid), "detections": len(rows),
                 "missed": int(np.sum(all_ids == tid)) - len(rows), "name": names.get(int(tid), "")}
        if len(rows):
            a, b = rows[0], rows[-1]
            span = frames[b] - frames[a]
            entry.update(first=int(frames[a]), last=int(frames[b]),
                         rate=float(np.hypot(x[b] - x[a], y[b] - y[a]) / span) if span else float("nan"))
            if "score" in det.colnames:
                entry["score"] = float(np.nanmean(np.asarray(det["score"], float)[rows]))
            if "time" in det.colnames:
                entry["start"], entry["end"] = str(det["time"][a]), str(det["time"][b])
            for ra_c, dec_c in (("ra", "dec"), ("ra1", "dec1")):
                if ra_c in det.colnames:
                    entry["ra"], entry["dec"] = float(det[ra_c][a]), float(det[dec_c][a])
                    break
        out.append(entry)
    return out


def detections_per_frame(table: Table, n_frames: int) -> np.ndarray:
    det = detections_only(table)
    frames = np.asarray(det["frame"], int) if len(det) else np.zeros(0, int)
    return np.bincount(frames, minlength=n_frames)


def read_latency(journal: Path) -> np.ndarray:
    """Per-frame latency (s) from a watch journal, indexed by frame; NaN where not recorded
    (frames replayed after a restart keep the latency of their first run)."""
    values: dict[int, float] = {}
    with open(journal, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("kind") == "frame":
                try:
                    values[int(row["index"])] = float(row["latency_s"])
                except (KeyError, TypeError, ValueError):
                    continue
    out = np.full(max(values, default=-1) + 1, np.nan)
    for k, v in values.items():
        out[k] = v
    return out


def analyse(entry: NightSequence, *, per_track: int = 6, progress=None) -> SequenceReport:
    """Read one sequence's tables and frames and make its figures."""
    from ..evaluate.detection import detection_figures
    from ..evaluate.mot import MotConfig, resolve_kind, track_metrics, with_fwhm

    table = with_identification(read_table(entry.tracks), entry.tracks.parent / "identified.csv")
    seq = None
    notes = []
    if entry.frames is not None:
        from ..io.sequence import open_sequence

        seq = open_sequence(entry.frames)
        n_frames = len(seq)
        if len(table) and int(np.max(table["frame"])) >= n_frames:
            raise InputError(f"{entry.tracks}: has frame {int(np.max(table['frame']))} but {entry.frames} "
                             f"has {n_frames} frames; is it the right --sequence?")
    else:
        n_frames = int(np.max(table["frame"])) + 1 if len(table) else 0
        notes.append("no frames given (--sequence): no cut-outs")
    latency = read_latency(entry.journal) if entry.journal is not None else None
    if latency is not None:
        n_frames = max(n_frames, len(latency))
    counts = detections_per_frame(table, n_frames)
    tracks = track_rows(table)
    names = identification(table)
    summary = {"frames": n_frames, "tracks": len(tracks), "detections": int(counts.sum()),
               "per_frame": (int(counts.min()), float(np.median(counts)), int(counts.max())) if len(counts) else None}
    if names is not None:
        known = {v for v in names.values() if v != "UCT"}
        summary["identified"] = sum(v != "UCT" for v in names.values())
        summary["uct"] = sum(v == "UCT" for v in names.values())
        summary["objects"] = len(known) + summary["uct"]
    else:
        summary["objects"] = len(tracks)
    report = SequenceReport(entry, table, n_frames, counts, tracks, summary, latency=latency, notes=notes)
    report.detections_png = figures.detections_plot(counts, latency=latency)
    report.sky_png = figures.sky_plot(table)
    if report.sky_png is None and len(table):
        notes.append("no sky coordinates in the tracks table (frames without WCS): no RA/Dec plot")
    if seq is not None and n_frames:
        report.field_png = figures.field_image(seq, table)
        report.cutouts = figures.track_cutouts(seq, table, per_track=per_track, progress=progress)
    if entry.gt is not None:
        gt = read_table(entry.gt)
        kind = resolve_kind(gt, table, None, gt_name=str(entry.gt), pred_name=str(entry.tracks))
        report.mot = track_metrics(gt, table, kind=kind, config=with_fwhm(MotConfig(), entry.fwhm),
                                   num_timesteps=n_frames or None)
        if kind == "point":
            report.detection = detection_figures(gt, table, radius=MotConfig().radius)
    return report


# --------------------------------------------------------------------------- HTML

CSS = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; }
figure { margin: 10px 0; } figcaption { font-size: 0.85em; color: #555; }
img { max-width: 100%; } .note { color: #955; font-size: 0.9em; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 4px; vertical-align: middle; }
"""

# Marks the page for people and for the headless-browser test: every image decoded, no script error.
SCRIPT = """
window.addEventListener('error', function () {
  document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1); });
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  document.body.dataset.images = String(imgs.length);
  document.body.dataset.broken = String(broken.length);
  document.body.dataset.ready = '1'; });
"""


def _img(png: bytes, alt: str, cls: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    th = "".join(f'<th class="l">{h}</th>' if k < left else f"<th>{h}</th>" for k, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="l">{c}</td>' if k < left else f"<td>{c}</td>"
                                    for k, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _summary_html(reports: list[SequenceReport]) -> str:
    ident = any("identified" in r.summary for r in reports)
    scored = any(r.mot is not None for r in reports)
    head = ["sequence", "mode", "method", "frames", "tracks", "objects"]
    head += ["identified", "UCT"] if ident else []
    head += ["detections", "per frame (min / median / max)"]
    head += ["HOTA %", "MOTA %", "IDF1 %"] if scored else []
    rows = []
    for r in reports:
        s = r.summary
        pf = s["per_frame"]
        row = [f'<a href="#seq-{_anchor(r.entry.name)}">{html.escape(r.entry.name)}</a>',
               _fmt(r.entry.mode), _fmt(r.entry.method), str(s["frames"]), str(s["tracks"]), str(s["objects"])]
        if ident:
            row += [_fmt(s.get("identified")), _fmt(s.get("uct"))]
        row += [str(s["detections"]), "-" if pf is None else f"{pf[0]} / {pf[1]:g} / {pf[2]}"]
        if scored:
            m = r.mot.summary() if r.mot is not None else None
            row += [_fmt(100 * m[k], 1) if m else "-" for k in ("HOTA", "MOTA", "IDF1")]
        rows.append(row)
    return _table(head, rows, left=3)


def _anchor(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)


def _tracks_html(r: SequenceReport) -> str:
    colours = figures.track_colours(r.table)
    ident = "identified" in r.summary
    head = ["track", "frames", "detections", "missed", "mean score", "rate px/frame", "start (UTC)", "RA, Dec (deg)"]
    head += ["object"] if ident else []
    rows = []
    for t in r.tracks:
        c = colours.get(t["id"], (0, 0, 0))
        sw = f'<span class="swatch" style="background: rgb{c}"></span>'
        row = [f'{sw}<a href="#track-{_anchor(r.entry.name)}-{t["id"]}">{t["id"]}</a>',
               f'{t["first"]}-{t["last"]}' if "first" in t else "-", str(t["detections"]), str(t["missed"]),
               _fmt(t.get("score"), 1), _fmt(t.get("rate")), _fmt(t.get("start")),
               f'{t["ra"]:.5f}, {t["dec"]:+.5f}' if "ra" in t and math.isfinite(t["ra"]) else "-"]
        if ident:
            row.append(_fmt(t["name"]))
        rows.append(row)
    return _table(head, rows, left=1)


def _sequence_html(r: SequenceReport) -> str:
    e = r.entry
    a = _anchor(e.name)
    parts = [f'<section class="sequence" id="seq-{a}"><h2>{html.escape(e.name)}</h2>']
    facts = [f"tracks: <code>{html.escape(str(e.tracks))}</code>"]
    if e.frames is not None:
        facts.append(f"frames: <code>{html.escape(str(e.frames))}</code>")
    if e.gt is not None:
        facts.append(f"ground truth: <code>{html.escape(str(e.gt))}</code>")
    parts.append("<p>" + " &middot; ".join(facts) + "</p>")
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in r.notes]
    if r.field_png:
        parts.append(f'<figure>{_img(r.field_png, "field with tracks", "field")}'
                     "<figcaption>The middle frame (ZScale) with every track's path; the circle marks its last "
                     "position.</figcaption></figure>")
    parts.append(f'<figure>{_img(r.detections_png, "detections per frame", "plot")}</figure>')
    if r.sky_png:
        parts.append(f'<figure>{_img(r.sky_png, "tracks on the sky", "sky")}</figure>')
    if r.mot is not None:
        m = r.mot.summary()
        cells = [[_fmt(100 * m[k], 2) for k in ("HOTA", "DetA", "AssA", "MOTA", "IDF1")] + [str(m["IDS"]), str(m["FP"]),
                                                                                          str(m["FN"])]]
        parts.append("<h3>Against the ground truth</h3>" + _table(
            ["HOTA %", "DetA %", "AssA %", "MOTA %", "IDF1 %", "IDS", "FP", "FN"], cells, left=0))
        if r.detection is not None:
            d = r.detection
            parts.append(_table(["detection rate %", "false-alarm rate %", "position RMS px"],
                                [[_fmt(100 * d.detection_rate), _fmt(100 * d.false_alarm_rate),
                                  _fmt(d.position_rms, 3)]], left=0))
    if r.tracks:
        parts.append("<h3>Tracks</h3>" + _tracks_html(r))
    if r.cutouts:
        parts.append("<h3>Overlays</h3><p>Cut-outs of frames of each track (frame number top left), ZScale, "
                     "north up if the camera is; circles mark points, ticks the two ends of a streak.</p>")
        for t in r.tracks:
            png = r.cutouts.get(t["id"])
            if png is None:
                continue
            label = f"track {t['id']}" + (f" ({t['name']})" if t.get("name") else "")
            parts.append(f'<figure class="overlay" id="track-{a}-{t["id"]}" data-track="{t["id"]}">'
                         f'{_img(png, label, "overlay")}<figcaption>{html.escape(label)}: frames '
                         f'{t.get("first", "-")}-{t.get("last", "-")}, {t["detections"]} detections'
                         "</figcaption></figure>")
    parts.append("</section>")
    return "\n".join(parts)


def render_page(reports: list[SequenceReport], *, title: str, evaluation_png: bytes | None = None) -> str:
    """The HTML text of the page."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    total_tracks = sum(r.summary["tracks"] for r in reports)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style><script>{SCRIPT}</script></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p>{len(reports)} sequence(s), {total_tracks} track(s). Made by debristrack {__version__} "
             f"on {now}.</p>", "<h2>Summary</h2>", _summary_html(reports)]
    if evaluation_png is not None:
        parts.append(f'<h2>Evaluation</h2><figure>{_img(evaluation_png, "evaluation", "evaluation")}'
                     "<figcaption>HOTA, DetA, AssA and LocA against the localisation threshold alpha (TrackEval), "
                     "and HOTA / MOTA / IDF1 per sequence.</figcaption></figure>")
    parts += [_sequence_html(r) for r in reports]
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(entries: list[NightSequence], out: str | os.PathLike, *, title: str = "debristrack night report",
                 per_track: int = 6, progress=None) -> list[SequenceReport]:
    """Write the page for ``entries`` to ``out`` atomically; returns what it shows.

    ``progress(done, total)`` is called after each sequence.
    """
    from ..evaluate.mot import MotResult
    from ..evaluate.report import results_figure

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{out}: the report is an HTML page; name it .html")
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give a file name ending in .html")
    reports = []
    for k, entry in enumerate(entries, start=1):
        reports.append(analyse(entry, per_track=per_track))
        if progress is not None:
            progress(k, len(entries))
    scored = {r.entry.name: r.mot for r in reports if r.mot is not None}
    evaluation_png = None
    if scored:
        fig = results_figure(scored, MotResult.combine(scored.values()),
                             title=next(iter(scored)) if len(scored) == 1 else "all sequences")
        evaluation_png = figures.figure_png(fig)
    text = render_page(reports, title=title, evaluation_png=evaluation_png)
    with atomic_write(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    return reports
