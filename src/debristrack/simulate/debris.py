"""Line-source debris of the sidereal scene: [SDT] sec. 3.2.

Each object k has ``S_k^t = {x_k^t, y_k^t, l_k, w_k, theta_k, v_k}`` ([SDT] eq. 4); the centre
advances by eq. 5 with Delta t = 1 frame; it is drawn as a rectangle of length l_k and width
w_k at angle theta_k, with random brightness noise and random truncation, blurred by the PSF
(eq. 6). Objects outside the image are neglected. Pixel convention: 0-based, x = column,
y = row, centre of the first pixel = (0, 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import clip_segment
from .psf import add_segments, segment_stamps

MIN_VISIBLE = 3.0  # px of streak inside the frame for the object to be labelled


@dataclass(frozen=True)
class Debris:
    """K line sources, arrays of shape (K,): centre at frame 0 (px), length, width (px),
    angle theta (rad), speed v (px/frame), flux of the whole streak (e-) and its SNR."""

    x: np.ndarray
    y: np.ndarray
    length: np.ndarray
    width: np.ndarray
    theta: np.ndarray
    speed: np.ndarray
    flux: np.ndarray
    snr: np.ndarray

    def centres(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Centres at ``frame``: [SDT] eq. 5 applied ``frame`` times (Delta t = 1 frame)."""
        x = self.x + self.speed * np.cos(self.theta) * frame
        y = self.y + self.speed * np.sin(self.theta) * frame
        return x, y

    def ends(self, frame: int):
        """Segment ends (x1, y1, x2, y2), each (K,), at ``frame``."""
        x, y = self.centres(frame)
        hx, hy = self.length / 2 * np.cos(self.theta), self.length / 2 * np.sin(self.theta)
        return x - hx, y - hy, x + hx, y + hy


def sample_debris(scene, *, frames: int, flux_per_fwhm, rng: np.random.Generator) -> Debris:
    """Draw the K objects of one video ([SDT] sec. 3.2.1: K, then S_k^1 for each k).

    The centre is drawn at mid-sequence inside the frame so that each object is seen for
    most of the video. With ``parallel_prob`` a new object copies an earlier one's angle
    (+-4 deg) and speed (+-10 %) 6-30 px to the side; with ``cross_prob`` its path crosses
    an earlier one's at the same frame. ``min_separation`` rejects draws whose centres come
    closer than that in any frame (up to 50 tries per object).

    Parameters
    ----------
    flux_per_fwhm : callable mapping an (n,) SNR array to the flux (e-) of one FWHM-long
        piece of streak with that SNR.
    """
    ny, nx = scene.shape
    k_total = int(rng.integers(scene.objects[0], scene.objects[1] + 1))
    mid = (frames - 1) / 2
    steps = np.arange(frames) - mid
    rows: list[dict[str, float]] = []
    tracks: list[np.ndarray] = []  # (frames, 2) centres of the accepted objects
    for _ in range(k_total):
        for _try in range(50):
            o = dict(length=rng.uniform(*scene.length), speed=rng.uniform(*scene.speed),
                     width=rng.uniform(*scene.width), theta=rng.uniform(0, 2 * math.pi),
                     cx=rng.uniform(0.1 * nx, 0.9 * nx), cy=rng.uniform(0.1 * ny, 0.9 * ny))
            u = rng.random()
            if rows and u < scene.parallel_prob:
                ref = rows[int(rng.integers(len(rows)))]
                theta = ref["theta"] + math.radians(rng.uniform(-4, 4))
                side = rng.choice([-1.0, 1.0]) * rng.uniform(6, 30)
                along = rng.uniform(-0.3, 0.3) * ref["length"]
                o.update(theta=theta, speed=ref["speed"] * rng.uniform(0.9, 1.1),
                         cx=ref["cx"] + along * math.cos(theta) - side * math.sin(theta),
                         cy=ref["cy"] + along * math.sin(theta) + side * math.cos(theta))
            elif rows and u < scene.parallel_prob + scene.cross_prob:
                j = int(rng.integers(len(rows)))
                f = int(rng.integers(frames))
                px, py = tracks[j][f]
                theta = rows[j]["theta"] + math.radians(rng.choice([-1.0, 1.0]) * rng.uniform(25, 155))
                # Place the new centre so that it passes (px, py) at frame f.
                o.update(theta=theta, cx=px - o["speed"] * math.cos(theta) * steps[f],
                         cy=py - o["speed"] * math.sin(theta) * steps[f])
            if scene.consistent_length:
                if rng.random() < scene.leo_prob:  # a LEO: crosses the whole field within one exposure
                    o["speed"] = rng.uniform(1.2, 3.0) * max(nx, ny) * scene.cadence / scene.exptime
                o["length"] = max(1.0, o["speed"] * scene.exptime / scene.cadence)
            track = np.column_stack([o["cx"] + o["speed"] * math.cos(o["theta"]) * steps,
                                     o["cy"] + o["speed"] * math.sin(o["theta"]) * steps])
            if scene.min_separation > 0 and tracks:
                if min(np.hypot(*(track - t).T).min() for t in tracks) < scene.min_separation:
                    continue
            break
        rows.append(o)
        tracks.append(track)
    col = {key: np.array([r[key] for r in rows], dtype=np.float64) for key in
           ("cx", "cy", "length", "width", "theta", "speed")}
    cx, cy, length, width, theta, speed = col.values()
    x0 = cx - speed * np.cos(theta) * mid
    y0 = cy - speed * np.sin(theta) * mid
    snr = rng.uniform(scene.snr[0], scene.snr[1], len(rows))
    flux = flux_per_fwhm(snr) * np.maximum(length, scene.fwhm) / scene.fwhm
    return Debris(x=x0, y=y0, length=length, width=width, theta=theta, speed=speed, flux=flux, snr=snr)


def draw_debris(signal: np.ndarray, debris: Debris, frame: int, *, fwhm: float, psf: str,
                beta: float, brightness_noise: float, gap_prob: float,
                rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draw the debris of ``frame`` into ``signal`` (e-, in place) and return its labels.

    Each streak is cut into pieces about one FWHM long whose brightness is multiplied by
    ``max(0.05, 1 + brightness_noise * N(0, 1))`` ([SDT] "random brightness noise"); with
    probability ``gap_prob`` one interior stretch of 5-25 % of the length is left out
    ([SDT] "random truncation"). The PSF blurs the rectangle (eq. 6).

    Returns
    -------
    labels : dict of (m,) arrays ``id`` (1-based object index), ``x1, y1, x2, y2`` (the
        drawn segment clipped to the image), ``snr``, ``width``; objects with less than
        3 px inside the frame are left out.
    mask : (ny, nx) bool, the drawn debris: pixels within half a FWHM of a drawn piece
        (the RoI mask of [SDT] eq. 8).
    """
    shape = signal.shape
    x1, y1, x2, y2 = debris.ends(frame)
    cx1, cy1, cx2, cy2, ok = clip_segment(x1, y1, x2, y2, shape)
    ok &= np.hypot(cx2 - cx1, cy2 - cy1) >= MIN_VISIBLE
    mask = np.zeros(shape, bool)
    p_x0, p_y0, p_x1, p_y1, p_w, p_f = [], [], [], [], [], []
    for k in np.flatnonzero(ok):
        n = max(1, int(math.ceil(debris.length[k] / fwhm)))
        edges = np.linspace(0.0, 1.0, n + 1)
        factor = np.maximum(0.05, 1.0 + brightness_noise * rng.standard_normal(n))
        if n >= 4 and rng.random() < gap_prob:
            gap_len = rng.uniform(0.05, 0.25)
            start = rng.uniform(0.15, 0.85 - gap_len)
            mids = (edges[:-1] + edges[1:]) / 2
            factor[(mids >= start) & (mids <= start + gap_len)] = 0.0
        keep = factor > 0
        a, b = edges[:-1][keep], edges[1:][keep]
        p_x0.append(x1[k] + a * (x2[k] - x1[k]))
        p_y0.append(y1[k] + a * (y2[k] - y1[k]))
        p_x1.append(x1[k] + b * (x2[k] - x1[k]))
        p_y1.append(y1[k] + b * (y2[k] - y1[k]))
        p_w.append(np.full(keep.sum(), debris.width[k]))
        p_f.append(debris.flux[k] * factor[keep] / n)
    if p_x0:
        px0, py0, px1, py1, pw, pf = (np.concatenate(v) for v in (p_x0, p_y0, p_x1, p_y1, p_w, p_f))
        add_segments(signal, px0, py0, px1, py1, pf, width=pw, fwhm=fwhm, psf=psf, beta=beta)
        _paint_mask(mask, px0, py0, px1, py1, pw, fwhm)
    idx = np.flatnonzero(ok)
    labels = {"id": idx + 1, "x1": cx1[idx], "y1": cy1[idx], "x2": cx2[idx], "y2": cy2[idx],
              "snr": debris.snr[idx], "width": debris.width[idx]}
    return labels, mask


def _paint_mask(mask: np.ndarray, x0, y0, x1, y1, width, fwhm: float) -> None:
    """Set pixels within FWHM/2 of each rectangle (the half-maximum outline of the drawing)."""
    ny, nx = mask.shape
    pad = fwhm / 2
    for _idx, X, Y, _v, s, d in segment_stamps(x0, y0, x1, y1, width=width, fwhm=fwhm):
        sel = _idx
        half_l = np.hypot(x1[sel] - x0[sel], y1[sel] - y0[sel])[:, None, None] / 2
        half_w = np.asarray(width)[sel][:, None, None] / 2
        on = (np.abs(s) <= half_l + pad) & (np.abs(d) <= half_w + pad)
        on &= (X >= 0) & (X < nx) & (Y >= 0) & (Y < ny)
        Xb, Yb = np.broadcast_to(X, on.shape)[on], np.broadcast_to(Y, on.shape)[on]
        mask[Yb, Xb] = True
