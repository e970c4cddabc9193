"""Conversions of a tracks table for other tools: CCSDS TDM, MOTChallenge text, overlays.

These are views of the tracks table, never a second source of truth (DESIGN.md "Tables").
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
from astropy.table import Table

from ..errors import InputError
from ..io.atomic import atomic_write
from ..io.tables import detections_only, table_kind


def _sky_columns(table: Table) -> tuple[np.ndarray, np.ndarray]:
    kind = table_kind(table.colnames)
    if kind == "point":
        need = ("time", "ra", "dec")
    else:
        need = ("time", "ra1", "dec1", "ra2", "dec2")
    missing = [c for c in need if c not in table.colnames]
    if missing:
        raise InputError(f"the tracks table has no {','.join(missing)} column(s): run track on frames with a "
                         "WCS and DATE-OBS, or give --wcs FILE")
    if kind == "point":
        return np.asarray(table["ra"], float), np.asarray(table["dec"], float)
    return _midpoint(table)


def _midpoint(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """Sky midpoint of each streak (the object's position at mid-exposure)."""
    vecs = []
    for ra_c, dec_c in (("ra1", "dec1"), ("ra2", "dec2")):
        r, d = np.radians(np.asarray(table[ra_c], float)), np.radians(np.asarray(table[dec_c], float))
        vecs.append(np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)]))
    v = vecs[0] + vecs[1]
    v /= np.linalg.norm(v, axis=0)
    return np.degrees(np.arctan2(v[1], v[0])) % 360.0, np.degrees(np.arcsin(np.clip(v[2], -1, 1)))


def sky_positions(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) in degrees per row: the point, or a streak's midpoint."""
    return _sky_columns(table)


def write_tdm(table: Table, path: str | Path, *, station: str = "OBSERVER", object_prefix: str = "OBJECT",
              originator: str = "debristrack") -> int:
    """CCSDS Tracking Data Message (KVN) of RA/Dec angles, one segment per track id.

    ANGLE_TYPE = RADEC, REFERENCE_FRAME = ICRF, ANGLE_1 = right ascension and ANGLE_2 =
    declination in degrees, time tags at mid-exposure (UTC). Written with ``ccsds_ndm``
    (the ccsds-ndm-py library), which also validates the message. Returns segment count.
    """
    import ccsds_ndm

    table = detections_only(table)
    ra, dec = _sky_columns(table)
    ok = np.isfinite(ra) & np.isfinite(dec)
    if not ok.any():
        raise InputError("no rows with sky coordinates to export")
    ids = np.asarray(table["id"])
    times = np.asarray(table["time"]).astype(str)
    segments = []
    for track_id in np.unique(ids[ok]):
        rows = np.flatnonzero((ids == track_id) & ok)
        rows = rows[np.argsort(times[rows], kind="stable")]
        observations = []
        for r in rows:
            observations.append(ccsds_ndm.TdmObservation(epoch=times[r], keyword="ANGLE_1", value=float(ra[r])))
            observations.append(ccsds_ndm.TdmObservation(epoch=times[r], keyword="ANGLE_2", value=float(dec[r])))
        metadata = ccsds_ndm.TdmMetadata(
            time_system="UTC", participant_1=station, participant_2=_participant(table, rows[0], object_prefix),
            mode="SEQUENTIAL", path="2,1", angle_type="RADEC", reference_frame="ICRF",
            start_time=times[rows[0]], stop_time=times[rows[-1]])
        segments.append(ccsds_ndm.TdmSegment(metadata=metadata, data=ccsds_ndm.TdmData(observations=observations)))
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    tdm = ccsds_ndm.Tdm(header=ccsds_ndm.TdmHeader(originator=originator, creation_date=now),
                        body=ccsds_ndm.TdmBody(segments=segments))
    tdm.validate()
    with atomic_write(path, "w", encoding="ascii") as fh:
        fh.write(tdm.to_str("kvn"))
    return len(segments)


def _participant(table: Table, row: int, prefix: str) -> str:
    """The object's name: the identified catalogue object (``debristrack identify``), else PREFIX-id."""
    if "norad" in table.colnames and int(table["norad"][row]) > 0:
        name = str(table["name"][row]).strip() if "name" in table.colnames else ""
        return f"{name} (NORAD {int(table['norad'][row])})" if name else f"NORAD {int(table['norad'][row])}"
    if "norad" in table.colnames:
        return f"UCT-{int(table['id'][row])}"
    return f"{prefix}-{int(table['id'][row])}"


def write_motchallenge(table: Table, path: str | Path, *, point_box: float = 6.0) -> int:
    """MOTChallenge text: ``frame,id,bb_left,bb_top,bb_width,bb_height,conf,-1,-1,-1``.

    Frames become 1-based. A point gets a ``point_box`` x ``point_box`` box centred on it; a
    streak, the axis-aligned box of its endpoints padded to at least ``point_box``.
    Returns the number of rows.
    """
    table = detections_only(table)
    kind = table_kind(table.colnames)
    if kind == "point":
        x, y = np.asarray(table["x"], float), np.asarray(table["y"], float)
        x0, x1, y0, y1 = x, x, y, y
    else:
        xa, xb = np.asarray(table["x1"], float), np.asarray(table["x2"], float)
        ya, yb = np.asarray(table["y1"], float), np.asarray(table["y2"], float)
        x0, x1 = np.minimum(xa, xb), np.maximum(xa, xb)
        y0, y1 = np.minimum(ya, yb), np.maximum(ya, yb)
    w = np.maximum(x1 - x0, point_box)
    h = np.maximum(y1 - y0, point_box)
    left = (x0 + x1) / 2 - w / 2
    top = (y0 + y1) / 2 - h / 2
    conf = np.asarray(table["score"], float) if "score" in table.colnames else np.ones(len(table))
    with atomic_write(path, "w", encoding="ascii") as fh:
        for i in range(len(table)):
            fh.write(f"{int(table['frame'][i]) + 1},{int(table['id'][i])},{left[i]:.3f},{top[i]:.3f},"
                     f"{w[i]:.3f},{h[i]:.3f},{conf[i]:.4f},-1,-1,-1\n")
    return len(table)


def write_overlay(seq, table: Table, path: str | Path, *, max_frames: int = 60, columns: int = 4) -> int:
    """Each track drawn in its own colour, with its id, over the ZScaled frames.

    ``.gif``: an animated GIF, one frame per image (at most ``max_frames``, evenly chosen);
    ``.png``: a contact sheet of up to 12 frames. Returns the number of frames drawn.
    """
    from PIL import Image, ImageDraw

    from ..io.zscale import zscale

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise InputError(f"{path}: overlay must be .gif or .png")
    table = detections_only(table)
    if len(table) and int(np.max(table["frame"])) >= len(seq):  # a table of another, longer sequence
        raise InputError(f"{seq.path}: the table has frame {int(np.max(table['frame']))} but the sequence has "
                         f"{len(seq)} frames; give the sequence the tracks were measured on")
    kind = table_kind(table.colnames)
    limit = max_frames if suffix == ".gif" else 12
    picks = np.unique(np.linspace(0, len(seq) - 1, min(limit, len(seq))).round().astype(int))
    ids = np.unique(np.asarray(table["id"])) if len(table) else np.zeros(0, int)
    palette = _palette(len(ids))
    colour = {int(i): palette[k] for k, i in enumerate(ids)}
    scale = min(1.0, 900.0 / max(seq.shape))
    images = []
    for f in picks:
        frame = seq[int(f)]
        img = Image.fromarray(zscale(frame.clean, method="iraf")).convert("RGB")
        if scale < 1.0:
            img = img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))))
        draw = ImageDraw.Draw(img)
        rows = np.flatnonzero(np.asarray(table["frame"]) == f) if len(table) else []
        for r in rows:
            c = colour[int(table["id"][r])]
            if kind == "point":
                x, y = table["x"][r] * scale, table["y"][r] * scale
                draw.ellipse([x - 6, y - 6, x + 6, y + 6], outline=c, width=2)
                draw.text((x + 8, y - 8), str(int(table["id"][r])), fill=c)
            else:
                pts = [table["x1"][r] * scale, table["y1"][r] * scale, table["x2"][r] * scale, table["y2"][r] * scale]
                draw.line(pts, fill=c, width=2)
                draw.text((pts[2] + 4, pts[3] - 4), str(int(table["id"][r])), fill=c)
        draw.text((4, 4), f"frame {f}", fill=(255, 255, 0))
        images.append(img)
    with atomic_write(path, "wb") as fh:
        if suffix == ".gif":
            images[0].save(fh, format="GIF", save_all=True, append_images=images[1:], duration=300, loop=0)
        else:
            cols = min(columns, len(images))
            rows_n = -(-len(images) // cols)
            sheet = Image.new("RGB", (cols * images[0].width, rows_n * images[0].height))
            for k, im in enumerate(images):
                sheet.paste(im, ((k % cols) * im.width, (k // cols) * im.height))
            sheet.save(fh, format="PNG")
    return len(images)


def _palette(n: int) -> list[tuple[int, int, int]]:
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    return [tuple(int(255 * c) for c in cmap(k % 20)[:3]) for k in range(n)]
