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

from ..allocator import keep_freed_memory
from ..errors import InputError
from .data import normalize, prev_heatmap, sky_level
from .decode import Streaks, decode
from .model import ModelConfig, SDTNet, resolve_device
from .options import CPU_WEIGHTS, DEFAULT_WEIGHTS, REAL_WEIGHTS, REALSEQ_WEIGHTS, RESIDUAL_WEIGHTS, WEIGHTS_DIR, SdtnetConfig  # noqa: F401 (re-exported)


@functools.lru_cache(maxsize=4)
def load_model(path: str, device: str) -> torch.nn.Module:
    """The SDT-Net stored in ``path`` (``save_weights`` format), in eval mode on ``device``,
    made fast for inference (:func:`_fused`, :func:`_without_subnormals`; channels-last on CPU),
    with its ``config``.

    On CPU it also sets the process's ``malloc`` to reuse freed blocks
    (:func:`~debristrack.allocator.keep_freed_memory`): torch frees each layer's activations (up to
    a few hundred MB for a 1024 px tile) and glibc would unmap them and fault in fresh pages for the
    next layer."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        # files of issue 7 lack "norm" (ZScale), those before the residual input lack "input" (frames)
        stored = {"norm": "zscale", "input": "frame", **payload["model_config"]}
        config = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
        model = SDTNet(config)
        model.load_state_dict(payload["state_dict"])
    except FileNotFoundError:
        raise InputError(f"{path}: SDT-Net weights file not found") from None
    except (KeyError, TypeError, ValueError, RuntimeError, OSError, EOFError, pickle.UnpicklingError) as exc:
        raise InputError(f"{path}: not an SDT-Net weights file ({type(exc).__name__})") from None
    model = _without_subnormals(_fused(model.to(device).eval()))
    if device == "cpu":
        keep_freed_memory()
        # NHWC: oneDNN's CPU convolutions run the net in 0.78 x the time, same maps to 1e-6
        model = model.to(memory_format=torch.channels_last)
    return model


def _fused(model: SDTNet) -> torch.nn.Module:
    """``model`` (in eval mode) with each BatchNorm folded into the convolution before it
    (torch.fx): the same function, one pass over the activations fewer (0.87 x the time of
    the net on a 1024x1024 frame on CPU, maps within 1e-5). Keeps ``config``. A variant torch.fx
    cannot trace runs as it is."""
    import warnings

    with warnings.catch_warnings():  # the module imports torch.jit.script_method, deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.fx.experimental.optimization import fuse
    try:
        fused = fuse(model)
    except Exception:  # torch.fx's tracing errors have no common base class
        return model
    fused.config = model.config
    return fused


def _without_subnormals(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with its subnormal weights (|w| < 1.2e-38, left by weight decay and by folding
    BatchNorm) set to zero: the same maps to the last bit (they add less than float32 resolves), but a
    convolution that meets them takes the CPU's slow microcode path for subnormal operands (on an
    Intel Xeon the shipped residual weights ran the net on a 1024x1024 frame in 0.53 s with them,
    0.13 s without)."""
    tiny = torch.finfo(torch.float32).tiny
    with torch.no_grad():
        for p in list(model.parameters()) + list(model.buffers()):
            if p.is_floating_point():
                p.masked_fill_(p.abs() < tiny, 0.0)
    return model


def trained_input(weights: str | Path | None) -> str:
    """What a weights file (None = the shipped default) was trained to see: its model config's
    ``input``, ``frame`` or ``residual`` (what ``--sdtnet-input auto`` gives it)."""
    return load_model(str(weights or DEFAULT_WEIGHTS), "cpu").config.input


def other_input(inp: str) -> str:
    """The input a weights file was not trained on (the input ablation of the benchmarks)."""
    return "frame" if inp == "residual" else "residual"


def pad_input(image: np.ndarray, h: int, w: int, norm: str = "asinh") -> np.ndarray:
    """An (H, W) network input padded at the bottom and right to ``h`` x ``w`` with its empty
    sky (:func:`sky_level`), for weights on the asinh input. Zeros would draw an edge the net
    may take for a streak; a reflection folds a trail that leaves the frame back on itself, a V
    the net does not know (NEOSSat trails entering at an edge were missed). The issue 7 weights
    (ZScale input) keep the reflection they were measured with: next to a flat pad they see an
    edge streak (the HSC cutout, a test)."""
    if image.shape == (h, w):
        return image
    if norm != "asinh":
        return np.pad(image, ((0, h - image.shape[0]), (0, w - image.shape[1])), mode="reflect")
    out = np.full((h, w), sky_level(image), np.float32)
    out[:image.shape[0], :image.shape[1]] = image
    return out


def first_previous(cur: np.ndarray, norm: str) -> np.ndarray:
    """The previous frame the first frame goes through the net with: nothing seen before it,
    an empty sky (:func:`sky_level`), for weights on the asinh input. The net was trained on
    pairs of exposures; the frame as its own previous one (CenterTrack) shows every trail as
    standing still and fades its endpoints (both trails of the NEOSSat Leonard sequence's first
    frame were lost). The issue 7 weights (ZScale input) keep the frame itself: against an
    empty sky they take a real sky's stars and nuisances for new streaks (bench sidereal
    nuisance MOTA -18.3 -> -61.7)."""
    return np.full_like(cur, sky_level(cur)) if norm == "asinh" else cur


@torch.inference_mode()
def run_model(model: SDTNet, cur: np.ndarray, prev: np.ndarray, prev_hm: np.ndarray,
              device: torch.device) -> dict[str, np.ndarray]:
    """Maps of one frame: ``cur``, ``prev`` (H, W) in [0, 1], ``prev_hm`` (2, H, W). The
    input is padded to a multiple of 32 and the maps cropped back to ceil(H/4) x ceil(W/4).
    ``hm`` and ``mask`` are returned as probabilities."""
    h, w = cur.shape
    ph, pw = h + -h % 32, w + -w % 32
    norm = model.config.norm
    x = torch.from_numpy(np.stack([pad_input(cur, ph, pw, norm), pad_input(prev, ph, pw, norm)])[:, None]).to(device)
    hm = F.pad(torch.from_numpy(prev_hm)[None].to(device), (0, pw - w, 0, ph - h))
    out = model(x[:1], x[1:], hm)
    oh, ow = -(-h // 4), -(-w // 4)
    maps = {k: v[0, :, :oh, :ow].float().cpu().numpy() for k, v in out.items()}
    for k in ("hm", "mask"):
        if k in maps:
            maps[k] = 1.0 / (1.0 + np.exp(-maps[k]))
    return maps


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets (multiples of 4, the output stride) of tiles ``tile`` px long covering
    ``size`` px (both multiples of 32) with at least ``overlap`` px shared by neighbours."""
    if size <= tile:
        return [0]
    n = 1 + -(-(size - tile) // max(tile - overlap - 4, 4))
    return [min(size - tile, 4 * (k * (size - tile) // (n - 1) // 4)) for k in range(n)]


def _keep(starts: list[int], tile: int, size: int) -> list[tuple[int, int]]:
    """The part [a, b) of every tile whose maps are kept: neighbours split their overlap in
    the middle (multiples of 4), so every output cell comes from the tile where it is
    farthest from an edge and the tiles partition the frame."""
    cuts = [0] + [4 * ((s1 + s0 + tile) // 8) for s0, s1 in zip(starts, starts[1:])] + [size]
    return list(zip(cuts[:-1], cuts[1:]))


def run_tiled(model: SDTNet, cur: np.ndarray, prev: np.ndarray, prev_hm: np.ndarray, device: torch.device, *,
              tile: int, overlap: int) -> dict[str, np.ndarray]:
    """:func:`run_model` on overlapping tiles of at most ``tile`` px (multiple of 32) that
    share ``overlap`` px, stitched into maps of the whole frame: one tile at a time, so
    memory is bounded by the tile whatever the frame size. A frame no larger than a tile
    goes through in one pass."""
    h, w = cur.shape
    if h <= tile and w <= tile:
        return run_model(model, cur, prev, prev_hm, device)
    ph, pw = h + -h % 32, w + -w % 32  # padded as run_model pads a whole frame
    cur_p, prev_p = (pad_input(a, ph, pw, model.config.norm) for a in (cur, prev))
    hm_p = np.pad(prev_hm, ((0, 0), (0, ph - h), (0, pw - w)))
    ty, tx = min(tile, ph), min(tile, pw)
    ys, xs = tile_starts(ph, ty, overlap), tile_starts(pw, tx, overlap)
    out: dict[str, np.ndarray] = {}
    for y0, (ya, yb) in zip(ys, _keep(ys, ty, ph)):
        for x0, (xa, xb) in zip(xs, _keep(xs, tx, pw)):
            maps = run_model(model, cur_p[y0:y0 + ty, x0:x0 + tx], prev_p[y0:y0 + ty, x0:x0 + tx],
                             hm_p[:, y0:y0 + ty, x0:x0 + tx], device)
            for k, v in maps.items():
                if k not in out:
                    out[k] = np.zeros((v.shape[0], ph // 4, pw // 4), np.float32)
                out[k][:, ya // 4:yb // 4, xa // 4:xb // 4] = v[:, (ya - y0) // 4:(yb - y0) // 4,
                                                              (xa - x0) // 4:(xb - x0) // 4]
    oh, ow = -(-h // 4), -(-w // 4)
    return {k: v[:, :oh, :ow] for k, v in out.items()}


def merge_collinear(dets: Streaks, *, angle: float = 3.0, distance: float = 3.0, gap: float = 8.0) -> Streaks:
    """Streaks of a tiled frame with the pieces of one trail joined: two streaks parallel
    (``angle`` degrees), on one line (``distance`` px) and touching or overlapping along it
    (ends at most ``gap`` px apart) become the one spanning both (a trail longer than a tile
    can come out in two pieces across a seam). Score and offsets of the longer piece."""
    segs = [np.concatenate([a, b]) for a, b in zip(dets.left, dets.right)]
    idx = list(range(len(segs)))
    score, off_l, off_r = list(dets.score), list(dets.off_left), list(dets.off_right)
    merged = True
    while merged:
        merged = False
        for i in range(len(segs)):
            for j in range(i + 1, len(segs)):
                a, b = segs[i], segs[j]
                u = a[2:] - a[:2]
                la, lb = np.hypot(*u), np.hypot(*(b[2:] - b[:2]))
                if la < 1e-6 or lb < 1e-6:
                    continue
                u = u / la
                v = (b[2:] - b[:2]) / lb
                if np.degrees(np.arccos(min(1.0, abs(float(u @ v))))) > angle:
                    continue
                rel = np.stack([b[:2], b[2:]]) - a[:2]
                if np.max(np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])) > distance:
                    continue
                t = np.sort(rel @ u)
                if t[0] > la + gap or t[1] < -gap:
                    continue
                lo, hi = min(0.0, t[0]), max(la, t[1])
                ends = sorted([a[:2] + lo * u, a[:2] + hi * u], key=lambda q: (q[0], q[1]))
                keep = i if la >= lb else j
                segs[i] = np.concatenate(ends)
                score[i], off_l[i], off_r[i] = score[keep], off_l[keep], off_r[keep]
                for lst in (segs, score, off_l, off_r, idx):
                    del lst[j]
                merged = True
                break
            if merged:
                break
    if len(segs) == len(dets):
        return dets
    arr = np.array(segs).reshape(-1, 4)
    return Streaks(arr[:, :2], arr[:, 2:], np.asarray(score, float),
                   np.asarray(off_l, float).reshape(-1, 2), np.asarray(off_r, float).reshape(-1, 2))


class SdtnetDetector:
    """SDT-Net on one frame after another: ``detect(image)`` returns the frame's
    :class:`Streaks` (with their offsets to the previous frame, eq. 13).

    A frame larger than ``config.tile`` goes through in overlapping tiles (:func:`run_tiled`,
    memory bounded by the tile), the maps stitched, decoded once, and trails split at a seam
    joined (:func:`merge_collinear`). Frame ``t`` goes through the net with frame ``t-1`` and a heatmap of the endpoints found
    in ``t-1``; the first frame's previous frame is :func:`first_previous`, with an empty
    heatmap. Holds one previous frame and its streaks, nothing more.
    """

    def __init__(self, config: SdtnetConfig = SdtnetConfig()):
        self.config = config
        self.device = resolve_device(config.device)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.model = load_model(str(config.weights or DEFAULT_WEIGHTS), str(self.device))
        self.prev = self.prev_dets = None
        self.tile = max(64, config.tile // 32 * 32)
        self.overlap = min(int(config.tile_overlap) // 8 * 8, self.tile // 2)  # halves on the output grid

    def _tiles(self, shape: tuple[int, int]) -> int:
        """Tiles of a frame of ``shape`` (top_k counts per tile)."""
        h, w = (n + -n % 32 for n in shape)
        t, o = self.tile, self.overlap
        return len(tile_starts(h, min(t, h), o)) * len(tile_starts(w, min(t, w), o))

    def detect(self, image: np.ndarray) -> Streaks:
        """Streaks of the next (H, W) float image (NaN-free), at least ``min_length`` px long."""
        config = self.config
        cur = normalize(image, self.model.config.norm)
        if self.prev is None:
            prev, hm = first_previous(cur, self.model.config.norm), np.zeros((2, *cur.shape), np.float32)
        else:
            prev, hm = self.prev, prev_heatmap(self.prev_dets.left, self.prev_dets.right, cur.shape, sigma=1.0)
        maps = run_tiled(self.model, cur, prev, hm, self.device, tile=self.tile, overlap=self.overlap)
        dets = decode(maps, top_k=config.top_k * self._tiles(cur.shape), threshold=config.score_threshold,
                      max_distance=config.embedding_distance, min_support=config.mask_support,
                      support_weight=config.support_weight)
        if self._tiles(cur.shape) > 1:
            dets = merge_collinear(dets)
        long = np.linalg.norm(dets.right - dets.left, axis=1) >= config.min_length
        dets = Streaks(*(a[long] for a in (dets.left, dets.right, dets.score, dets.off_left, dets.off_right)))
        self.prev, self.prev_dets = cur, dets
        return dets
