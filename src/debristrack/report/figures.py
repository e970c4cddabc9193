"""The pictures of the night report, each returned as PNG bytes.

- :func:`track_cutouts`: per track, a strip of cut-outs of the frames with the detection drawn
  (each needed frame is read once, whatever the number of tracks);
- :func:`field_image`: one frame of the sequence with every track's path drawn;
- :func:`sky_plot`: tracks on the sky (RA/Dec), when the table has sky columns;
- :func:`detections_plot`: detections per frame (and the watch latency per frame);
- :func:`figure_png`: any matplotlib figure (the evaluation plot) as PNG bytes.

Pixel convention: 0-based, the centre of the first pixel at (0, 0); images are shown with
row 0 at the bottom (``origin="lower"``, as astronomers and :mod:`simulate.preview` show them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from ..io.tables import detections_only, table_kind
from ..io.zscale import zscale

TILE = 112            # height of one cut-out tile, px of the page
MAX_TILE_WIDTH = 190  # a long streak's tile is wider, up to this
POINT_BOX = 40        # cut-out side around a point, image px
STREAK_PAD = 12       # margin around a streak's box, image px


def palette(n: int) -> list[tuple[int, int, int]]:
    """``n`` distinct RGB colours (matplotlib's tab10, then tab20), bright on a grey image."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [tuple(int(255 * c) for c in cmap(k % cmap.N)[:3]) for k in range(n)]


def track_colours(table: Table) -> dict[int, tuple[int, int, int]]:
    ids = np.unique(np.asarray(table["id"])) if len(table) else np.zeros(0, int)
    return {int(i): c for i, c in zip(ids, palette(len(ids)))}


@dataclass(frozen=True)
class Cut:
    """One tile: the frame, the box ``[x0, x1) x [y0, y1)`` (image px) and the detection row."""

    frame: int
    x0: int
    x1: int
    y0: int
    y1: int
    row: int


def _box(table: Table, r: int, kind: str, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    ny, nx = shape
    if kind == "point":
        cx, cy = float(table["x"][r]), float(table["y"][r])
        half = POINT_BOX // 2
        x0, x1, y0, y1 = cx - half, cx + half, cy - half, cy + half
    else:
        xs = (float(table["x1"][r]), float(table["x2"][r]))
        ys = (float(table["y1"][r]), float(table["y2"][r]))
        x0, x1 = min(xs) - STREAK_PAD, max(xs) + STREAK_PAD
        y0, y1 = min(ys) - STREAK_PAD, max(ys) + STREAK_PAD
        # at least a square of POINT_BOX, so a short streak keeps some sky around it
        if x1 - x0 < POINT_BOX:
            c = (x0 + x1) / 2
            x0, x1 = c - POINT_BOX / 2, c + POINT_BOX / 2
        if y1 - y0 < POINT_BOX:
            c = (y0 + y1) / 2
            y0, y1 = c - POINT_BOX / 2, c + POINT_BOX / 2
    x0, y0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    x1, y1 = min(nx, int(np.ceil(x1)) + 1), min(ny, int(np.ceil(y1)) + 1)
    return x0, max(x1, x0 + 1), y0, max(y1, y0 + 1)


def plan_cutouts(table: Table, shape: tuple[int, int], *,
                 per_track: int = 6) -> tuple[dict[int, list[Cut]], Table]:
    """Which tiles to cut: for each track, up to ``per_track`` of its detections evenly spread
    over its frames (first and last included). Rows with NaN coordinates are skipped; the
    :class:`Cut` rows index the returned table (the detections)."""
    table = detections_only(table)
    if len(table) == 0:
        return {}, table
    kind = table_kind(table.colnames)
    ids, frames = np.asarray(table["id"]), np.asarray(table["frame"])
    plan: dict[int, list[Cut]] = {}
    for tid in np.unique(ids):
        rows = np.flatnonzero(ids == tid)
        rows = rows[np.argsort(frames[rows], kind="stable")]
        pick = rows[np.unique(np.linspace(0, len(rows) - 1, min(per_track, len(rows))).round().astype(int))]
        plan[int(tid)] = [Cut(int(frames[r]), *_box(table, r, kind, shape), row=int(r)) for r in pick]
    return plan, table


def _tile(image: np.ndarray, cut: Cut, table: Table, kind: str, colour) -> "Image.Image":
    from PIL import Image, ImageDraw

    patch = image[cut.y0:cut.y1, cut.x0:cut.x1]
    grey = zscale(patch, method="iraf")[::-1]  # row 0 at the bottom
    h, w = grey.shape
    scale = TILE / h
    if w * scale > MAX_TILE_WIDTH:
        scale = MAX_TILE_WIDTH / w
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    tile = Image.fromarray(grey).resize(size, Image.NEAREST if scale >= 1 else Image.LANCZOS).convert("RGB")
    draw = ImageDraw.Draw(tile)

    def to_tile(x, y):  # image px (pixel centres) -> tile px, y flipped
        return ((x - cut.x0 + 0.5) * scale, (cut.y1 - 0.5 - y) * scale)

    r = cut.row
    if kind == "point":
        px, py = to_tile(float(table["x"][r]), float(table["y"][r]))
        rad = max(6.0, 3.0 * scale)
        draw.ellipse([px - rad, py - rad, px + rad, py + rad], outline=colour, width=2)
    else:
        a = to_tile(float(table["x1"][r]), float(table["y1"][r]))
        b = to_tile(float(table["x2"][r]), float(table["y2"][r]))
        # the streak itself is left visible: two ticks beyond its ends mark it
        d = np.subtract(b, a)
        n = d / max(np.hypot(*d), 1e-9)
        for p, s in ((a, -1), (b, 1)):
            q0 = (p[0] + s * n[0] * 4, p[1] + s * n[1] * 4)
            q1 = (p[0] + s * n[0] * 14, p[1] + s * n[1] * 14)
            draw.line([q0, q1], fill=colour, width=3)
    draw.text((3, 2), f"#{cut.frame}", fill=(255, 255, 0))
    return tile


def track_cutouts(seq, table: Table, *, per_track: int = 6, progress=None) -> dict[int, bytes]:
    """A PNG strip of cut-outs per track id: frames of the track with the detection drawn.

    ``seq`` is the :class:`~debristrack.io.sequence.FrameSequence` the table was measured on.
    Each frame that any track needs is read once. ``progress(done, total)`` after each frame.
    """
    from PIL import Image

    plan, table = plan_cutouts(table, seq.shape, per_track=per_track)
    if not plan:
        return {}
    kind = table_kind(table.colnames)
    colours = track_colours(table)
    by_frame: dict[int, list[tuple[int, int, Cut]]] = {}
    for tid, cuts in plan.items():
        for k, cut in enumerate(cuts):
            by_frame.setdefault(cut.frame, []).append((tid, k, cut))
    tiles: dict[int, list] = {tid: [None] * len(cuts) for tid, cuts in plan.items()}
    for done, f in enumerate(sorted(by_frame), start=1):
        image = seq[f].clean
        for tid, k, cut in by_frame[f]:
            tiles[tid][k] = _tile(image, cut, table, kind, colours[tid])
        if progress is not None:
            progress(done, len(by_frame))
    out = {}
    for tid, row in tiles.items():
        gap = 4
        strip = Image.new("RGB", (sum(t.width for t in row) + gap * (len(row) - 1), TILE), (255, 255, 255))
        x = 0
        for t in row:
            strip.paste(t, (x, (TILE - t.height) // 2))
            x += t.width + gap
        out[tid] = _png(strip)
    return out


def field_image(seq, table: Table, *, frame: int | None = None, width: int = 900) -> bytes:
    """One frame (the middle one by default) ZScaled, with every track's path drawn in its
    colour and labelled with its id; the whole field, scaled to ``width`` px (at most 4x)."""
    from PIL import Image, ImageDraw

    f = len(seq) // 2 if frame is None else frame
    grey = zscale(seq[f].clean, method="iraf")[::-1]
    ny, nx = grey.shape
    scale = min(4.0, width / nx)  # small frames are enlarged (pixels kept square), big ones reduced
    img = Image.fromarray(grey)
    if scale != 1:
        img = img.resize((max(1, round(nx * scale)), max(1, round(ny * scale))),
                         Image.LANCZOS if scale < 1 else Image.NEAREST)
    img = img.convert("RGB")
    draw = ImageDraw.Draw(img)
    table = detections_only(table)
    if len(table):
        kind = table_kind(table.colnames)
        colours = track_colours(table)
        ids, frames = np.asarray(table["id"]), np.asarray(table["frame"])
        for tid, colour in colours.items():
            rows = np.flatnonzero(ids == tid)
            rows = rows[np.argsort(frames[rows], kind="stable")]
            if kind == "point":
                xs, ys = np.asarray(table["x"])[rows], np.asarray(table["y"])[rows]
            else:
                xs = 0.5 * (np.asarray(table["x1"])[rows] + np.asarray(table["x2"])[rows])
                ys = 0.5 * (np.asarray(table["y1"])[rows] + np.asarray(table["y2"])[rows])
            pts = [((x + 0.5) * scale, (ny - 0.5 - y) * scale) for x, y in zip(xs, ys)]
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=2)
            px, py = pts[-1]
            draw.ellipse([px - 7, py - 7, px + 7, py + 7], outline=colour, width=2)
            draw.text((px + 9, py - 9), str(tid), fill=colour)
    draw.text((4, 4), f"frame {f}", fill=(255, 255, 0))
    return _png(img)


def sky_plot(table: Table) -> bytes | None:
    """Tracks on the sky: Dec against RA (RA growing to the left, as on the sky), one colour
    and label per track; None when the table has no sky columns."""
    from ..astrometry.export import sky_positions
    from ..errors import InputError

    table = detections_only(table)
    if len(table) == 0:
        return None
    try:
        ra, dec = sky_positions(table)
    except InputError:
        return None
    ok = np.isfinite(ra) & np.isfinite(dec)
    if not ok.any():
        return None
    # RA unwrapped about the field's median, so a field across RA = 0 is drawn whole
    centre = np.median(ra[ok])
    ra = (ra - centre + 180.0) % 360.0 - 180.0 + centre
    fig = _figure((6.5, 5.0))
    ax = fig.subplots()
    ids, frames = np.asarray(table["id"]), np.asarray(table["frame"])
    for tid, colour in track_colours(table).items():
        rows = np.flatnonzero((ids == tid) & ok)
        if not len(rows):
            continue
        rows = rows[np.argsort(frames[rows], kind="stable")]
        c = np.asarray(colour) / 255
        ax.plot(ra[rows], dec[rows], "-o", color=c, ms=3, lw=1)
        ax.annotate(str(tid), (ra[rows[-1]], dec[rows[-1]]), color=c, fontsize=9,
                    xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel="RA (deg, ICRS)", ylabel="Dec (deg, ICRS)", title="tracks on the sky")
    ax.invert_xaxis()
    ax.set_aspect(1 / max(np.cos(np.radians(np.median(dec[ok]))), 1e-3), adjustable="datalim")
    ax.grid(alpha=0.3)
    return figure_png(fig)


def detections_plot(counts: np.ndarray, *, latency: np.ndarray | None = None) -> bytes:
    """Detections per frame (bars); with ``latency`` (s per frame, NaN where unknown) a second
    panel of the watch latency, frame complete -> its rows on disk."""
    fig = _figure((9.0, 2.6 if latency is None else 4.4))
    axes = fig.subplots(2 if latency is not None else 1, 1, sharex=True, squeeze=False)[:, 0]
    frames = np.arange(len(counts))
    axes[0].bar(frames, counts, width=1.0, color="tab:blue")
    axes[0].set(ylabel="detections", title="detections per frame")
    if latency is not None:
        axes[1].plot(frames[:len(latency)], latency, ".-", color="tab:orange", ms=3, lw=0.8)
        axes[1].set(ylabel="latency (s)", title="watch: frame complete -> rows on disk")
        axes[1].set_ylim(bottom=0)
    axes[-1].set_xlabel("frame")
    return figure_png(fig)


def _figure(size):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def figure_png(fig, *, dpi: int = 100) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
