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
    x = F.pad(x, pad)
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
    rows, cols = linear_sum_assignment(np.where(cost <= radius, cost, 1e9))
    keep = cost[rows, cols] <= radius
    return rows[keep], cols[keep]


class OffsetTracker:
    """Tracks built from per-frame :class:`Streaks` with [SDT] eq. 13-14.

    State arrays over the live tracks: ``ids``, last ``left``/``right`` endpoints, last
    ``frame`` seen. IDs count from 1 per tracker instance.
    """

    def __init__(self, *, radius: float, max_gap: int):
        self.radius, self.max_gap = radius, max_gap
        self.ids = np.zeros(0, np.int64)
        self.left = np.zeros((0, 2))
        self.right = np.zeros((0, 2))
        self.last = np.zeros(0, np.int64)
        self.next_id = 1

    def update(self, frame: int, dets: Streaks) -> np.ndarray:
        """Assign track IDs (n,) to the streaks of ``frame``; birth and death of tracks."""
        live = frame - self.last <= self.max_gap + 1
        self.ids, self.left, self.right, self.last = self.ids[live], self.left[live], self.right[live], self.last[live]
        gap = (frame - self.last)[None, :, None]  # frames since each track was seen
        # [SDT] eq. 13, extended over a gap at constant velocity: c' = c^t - g * o^t.
        pl = dets.left[:, None, :] - gap * dets.off_left[:, None, :]
        pr = dets.right[:, None, :] - gap * dets.off_right[:, None, :]
        cost = (np.linalg.norm(pl - self.left[None], axis=-1)
                + np.linalg.norm(pr - self.right[None], axis=-1))  # [SDT] eq. 14
        rows, cols = associate(cost, self.radius)
        out = np.zeros(len(dets), np.int64)
        out[rows] = self.ids[cols]
        self.left[cols], self.right[cols], self.last[cols] = dets.left[rows], dets.right[rows], frame
        new = np.setdiff1d(np.arange(len(dets)), rows)
        out[new] = np.arange(self.next_id, self.next_id + len(new))
        self.next_id += len(new)
        self.ids = np.concatenate([self.ids, out[new]])
        self.left = np.vstack([self.left, dets.left[new]])
        self.right = np.vstack([self.right, dets.right[new]])
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
    tracker = OffsetTracker(radius=config.radius, max_gap=config.max_gap)
    rows = []
    prev = prev_dets = None
    for index, image in enumerate(frames):
        cur = normalize(image)
        if prev is None:
            prev, hm = cur, np.zeros((2, *cur.shape), np.float32)
        else:
            hm = prev_heatmap(prev_dets.left, prev_dets.right, cur.shape, sigma=1.0)
        maps = run_model(model, cur, prev, hm, device)
        dets = decode(maps, top_k=config.top_k, threshold=config.score_threshold,
                           max_distance=config.embedding_distance, min_support=config.mask_support)
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
