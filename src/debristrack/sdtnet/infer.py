"""Track a FITS sequence with SDT-Net: per frame, the network, decoding and the offset-based
association of [SDT] sec. 4.5 (eq. 13-14).

Frame ``t`` goes through the net with frame ``t-1`` and a heatmap of the endpoints found in
``t-1`` (the first frame is its own previous frame, with an empty heatmap, as CenterTrack).
Each streak found in ``t`` is mapped back to ``t-1`` by its predicted endpoint offsets
(eq. 13) and matched to the live track whose last endpoints are nearest in the eq. 14 sense
(sum of the left and right endpoint distances), within the association radius ``r``.
Unmatched streaks start new tracks; a track unseen for more than ``max_gap`` frames ends.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from astropy.table import Table
from scipy.optimize import linear_sum_assignment

from ..errors import InputError
from ..io.tables import empty_table, normalize_streaks
from ..simulate.debris import clip_segment
from .data import normalize, prev_heatmap
from .decode import Streaks, decode
from .model import ModelConfig, SDTNet, resolve_device
from .options import SdtnetConfig

WEIGHTS_DIR = Path(__file__).parent / "weights"
CPU_WEIGHTS = WEIGHTS_DIR / "sdtnet_cpu.pt"


@functools.lru_cache(maxsize=4)
def load_model(path: str, device: str) -> SDTNet:
    """The SDT-Net stored in ``path`` (``save_weights`` format), in eval mode on ``device``."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        config = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in payload["model_config"].items()})
        model = SDTNet(config)
        model.load_state_dict(payload["state_dict"])
    except FileNotFoundError:
        raise InputError(f"{path}: SDT-Net weights file not found") from None
    except (KeyError, TypeError, ValueError, RuntimeError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise InputError(f"{path}: not an SDT-Net weights file ({type(exc).__name__})") from None
    return model.to(device).eval()


@torch.inference_mode()
def run_model(model: SDTNet, cur: np.ndarray, prev: np.ndarray, prev_hm: np.ndarray,
              device: torch.device) -> dict[str, np.ndarray]:
    """Maps of one frame: ``cur``, ``prev`` (H, W) in [0, 1], ``prev_hm`` (2, H, W). The
    input is padded to a multiple of 32 and the maps cropped back to ceil(H/4) x ceil(W/4).
    ``hm`` and ``mask`` are returned as probabilities."""
    h, w = cur.shape
    pad = (0, -w % 32, 0, -h % 32)
    x = torch.from_numpy(np.stack([cur, prev])[:, None]).to(device)
    x = F.pad(x, pad, mode="reflect")  # zeros would draw an edge the net may take for a streak
    hm = F.pad(torch.from_numpy(prev_hm)[None].to(device), pad)
    out = model(x[:1], x[1:], hm)
    oh, ow = -(-h // 4), -(-w // 4)
    maps = {k: v[0, :, :oh, :ow].float().cpu().numpy() for k, v in out.items()}
    for k in ("hm", "mask"):
        if k in maps:
            maps[k] = 1.0 / (1.0 + np.exp(-maps[k]))
    return maps


def associate(cost: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matches (rows, cols) of a cost matrix with cost <= ``radius``."""
    if cost.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ok = cost <= radius
    rows, cols = linear_sum_assignment(np.where(ok, cost, 1e9))
    keep = ok[rows, cols]
    return rows[keep], cols[keep]


class OffsetTracker:
    """Tracks built from per-frame :class:`Streaks` with [SDT] eq. 13-14.

    State arrays over the live tracks: ``ids``, last endpoints ``ends`` (left x, y, right
    x, y), last ``frame`` seen, streak velocity ``vel`` (n, 2) in px per frame and ``hits``.
    IDs count from 1 per tracker instance.

    A detection is compared with a track by the eq. 14 distance (sum of the left and the
    right endpoint distances, taking the smaller of the two endpoint orders: a near-vertical
    streak's "left" end may swap between frames) and matched one-to-one (Hungarian) within
    the association radius. With ``motion`` off that is the paper's association: the
    detection is moved back by its predicted offsets (eq. 13) onto the track's last
    endpoints. With ``motion`` on, a track seen at least twice is also predicted forward at
    its own measured velocity (debris moves in a straight line at constant speed over a
    sequence, [SDT] eq. 5), clipped to the image, and the smaller of the two distances
    counts: the network's offsets make each track's first link and back up the prediction.
    ``shape`` (ny, nx) is the image size, for the clipping.
    """

    def __init__(self, *, radius: float, max_gap: int, motion: bool = False,
                 shape: tuple[int, int] | None = None):
        self.radius, self.max_gap, self.motion, self.shape = radius, max_gap, motion, shape
        self.ids = np.zeros(0, np.int64)
        self.ends = np.zeros((0, 4))  # left x, y, right x, y
        self.vel = np.zeros((0, 2))  # the streak's velocity, px per frame
        self.hits = np.zeros(0, np.int64)
        self.last = np.zeros(0, np.int64)
        self.next_id = 1

    def _predict(self, frame: int) -> np.ndarray:
        """(n_tracks, 4) endpoints of every track moved rigidly at its velocity to ``frame``,
        clipped to the image (a streak entering or leaving the field is cut at its edge)."""
        ends = self.ends + np.tile((frame - self.last)[:, None] * self.vel, 2)
        if self.shape is None:
            return ends
        x1, y1, x2, y2, inside = clip_segment(*ends.T, self.shape)
        return np.where(inside[:, None], np.column_stack([x1, y1, x2, y2]), ends)

    def _velocity(self, old: np.ndarray, new: np.ndarray, gap: np.ndarray) -> np.ndarray:
        """Streak velocity (n, 2) from matched endpoints: the motion of the end farther from
        the image edge (an end cut by the edge does not move with the object)."""
        v = (new - old) / gap[:, None]
        if self.shape is None:
            return (v[:, :2] + v[:, 2:]) / 2
        ny, nx = self.shape
        both = np.stack([old, new])  # (2, n, 4)
        margin = np.minimum.reduce([both[..., 0::2] + 0.5, nx - 0.5 - both[..., 0::2],
                                    both[..., 1::2] + 0.5, ny - 0.5 - both[..., 1::2]]).min(axis=0)  # (n, 2)
        return np.where((margin[:, 0] >= margin[:, 1])[:, None], v[:, :2], v[:, 2:])

    def _cost(self, frame: int, dets: Streaks) -> tuple[np.ndarray, np.ndarray]:
        """(n_dets, n_tracks) eq. 14 distances and whether the detection's endpoints are
        matched in swapped order."""
        gap = (frame - self.last)[None, :, None].astype(float)  # frames since each track was seen
        det = np.hstack([dets.left, dets.right])[:, None, :]
        off = np.hstack([dets.off_left, dets.off_right])[:, None, :]
        back = det - gap * off  # [SDT] eq. 13, over a gap at constant velocity: c' = c^t - g * o^t

        def dist(a, track):  # [SDT] eq. 14, the better of the two endpoint orders
            d = [np.linalg.norm(a[..., i:i + 2] - track[..., j:j + 2], axis=-1) for i, j in
                 ((0, 0), (2, 2), (2, 0), (0, 2))]
            return np.minimum(d[0] + d[1], d[2] + d[3]), d[2] + d[3] < d[0] + d[1]

        cost, swap = dist(back, self.ends[None])
        if self.motion:
            moving = self.hits >= 2
            m_cost, m_swap = dist(det, self._predict(frame)[None])
            better = moving[None, :] & (m_cost < cost)
            cost, swap = np.where(better, m_cost, cost), np.where(better, m_swap, swap)
        return cost, swap

    def update(self, frame: int, dets: Streaks) -> np.ndarray:
        """Assign track IDs (n,) to the streaks of ``frame``; birth and death of tracks."""
        live = frame - self.last <= self.max_gap + 1
        self.ids, self.ends, self.vel, self.hits, self.last = (
            a[live] for a in (self.ids, self.ends, self.vel, self.hits, self.last))
        cost, swap = self._cost(frame, dets)
        rows, cols = associate(cost, self.radius)
        out = np.zeros(len(dets), np.int64)
        out[rows] = self.ids[cols]
        ends = np.hstack([dets.left, dets.right])
        matched = np.where(swap[rows, cols, None], np.hstack([dets.right, dets.left])[rows], ends[rows])
        self.vel[cols] = self._velocity(self.ends[cols], matched, frame - self.last[cols])
        self.ends[cols], self.last[cols] = matched, frame
        self.hits[cols] += 1
        new = np.setdiff1d(np.arange(len(dets)), rows)
        out[new] = np.arange(self.next_id, self.next_id + len(new))
        self.next_id += len(new)
        self.ids = np.concatenate([self.ids, out[new]])
        self.ends = np.vstack([self.ends, ends[new]])
        self.vel = np.vstack([self.vel, (dets.off_left[new] + dets.off_right[new]) / 2])
        self.hits = np.concatenate([self.hits, np.ones(len(new), np.int64)])
        self.last = np.concatenate([self.last, np.full(len(new), frame)])
        return out


def track_frames(frames, *, config: SdtnetConfig = SdtnetConfig(),
                 progress: Callable[[int, int], None] | None = None, total: int | None = None) -> Table:
    """Track streaks through an iterable of (H, W) float images (NaN-free), in order.

    Returns the DESIGN.md streak table ``frame,id,x1,y1,x2,y2,score`` (input px, left
    endpoint first).
    """
    device = resolve_device(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    model = load_model(str(config.weights or CPU_WEIGHTS), str(device))
    rows = []
    prev = prev_dets = None
    for index, image in enumerate(frames):
        cur = normalize(image)
        if prev is None:  # first frame: its own previous frame, an empty heatmap, a new tracker
            prev, hm = cur, np.zeros((2, *cur.shape), np.float32)
            tracker = OffsetTracker(radius=config.radius, max_gap=config.max_gap, motion=config.motion,
                                    shape=cur.shape)
        else:
            hm = prev_heatmap(prev_dets.left, prev_dets.right, cur.shape, sigma=1.0)
        maps = run_model(model, cur, prev, hm, device)
        dets = decode(maps, top_k=config.top_k, threshold=config.score_threshold,
                      max_distance=config.embedding_distance, min_support=config.mask_support,
                      support_weight=config.support_weight)
        long = np.linalg.norm(dets.right - dets.left, axis=1) >= config.min_length
        dets = Streaks(*(a[long] for a in (dets.left, dets.right, dets.score, dets.off_left, dets.off_right)))
        ids = tracker.update(index, dets)
        rows.append(np.column_stack([np.full(len(dets), index), ids, dets.left, dets.right, dets.score]))
        prev, prev_dets = cur, dets
        if progress is not None:
            progress(index + 1, total or index + 1)
    table = empty_table("streak", ("score",))
    data = np.vstack(rows) if rows else np.zeros((0, 7))
    if len(data):
        table = Table([data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), *data[:, 2:].T],
                      names=("frame", "id", "x1", "y1", "x2", "y2", "score"))
    return normalize_streaks(table)


def track_sequence_sdtnet(seq, *, config: SdtnetConfig | None = None,
                          progress: Callable[[int, int], None] | None = None) -> Table:
    """Track the streaks of a sequence (:func:`debristrack.io.sequence.open_sequence`) with
    SDT-Net.

    Parameters
    ----------
    seq : an opened sequence; bad pixels are replaced by the good-pixel median
        (``frame.clean``) before ZScale.
    config : :class:`SdtnetConfig`; None = defaults (shipped cpu weights, device auto).
    progress : None or ``progress(done_frames, total_frames)``.

    Returns
    -------
    astropy Table ``frame,id,x1,y1,x2,y2,score`` (px, 0-based; x1 <= x2).
    """
    config = config or SdtnetConfig()
    return track_frames((frame.clean for frame in seq), config=config, progress=progress, total=len(seq))
