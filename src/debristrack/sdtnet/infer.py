"""SDT-Net inference: the weights, the network on one frame and its decoding into streaks
(:class:`SdtnetDetector`, [SDT] sec. 4.4).

The association of [SDT] sec. 4.5 (eq. 13-14) is :class:`debristrack.track.offset.OffsetTracker`;
the two run in the frame loop as :class:`debristrack.pipeline.sidereal.SdtnetMethod`.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
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
        stored = {"norm": "zscale", **payload["model_config"]}  # files of issue 7 lack "norm": ZScale
        config = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
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


class SdtnetDetector:
    """SDT-Net on one frame after another: ``detect(image)`` returns the frame's
    :class:`Streaks` (with their offsets to the previous frame, eq. 13).

    Frame ``t`` goes through the net with frame ``t-1`` and a heatmap of the endpoints found
    in ``t-1``; the first frame is its own previous frame, with an empty heatmap (as
    CenterTrack). Holds one previous frame and its streaks, nothing more.
    """

    def __init__(self, config: SdtnetConfig = SdtnetConfig()):
        self.config = config
        self.device = resolve_device(config.device)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.model = load_model(str(config.weights or CPU_WEIGHTS), str(self.device))
        self.prev = self.prev_dets = None

    def detect(self, image: np.ndarray) -> Streaks:
        """Streaks of the next (H, W) float image (NaN-free), at least ``min_length`` px long."""
        config = self.config
        cur = normalize(image, self.model.config.norm)
        if self.prev is None:
            prev, hm = cur, np.zeros((2, *cur.shape), np.float32)
        else:
            prev, hm = self.prev, prev_heatmap(self.prev_dets.left, self.prev_dets.right, cur.shape, sigma=1.0)
        maps = run_model(self.model, cur, prev, hm, self.device)
        dets = decode(maps, top_k=config.top_k, threshold=config.score_threshold,
                      max_distance=config.embedding_distance, min_support=config.mask_support,
                      support_weight=config.support_weight)
        long = np.linalg.norm(dets.right - dets.left, axis=1) >= config.min_length
        dets = Streaks(*(a[long] for a in (dets.left, dets.right, dets.score, dets.off_left, dets.off_right)))
        self.prev, self.prev_dets = cur, dets
        return dets
