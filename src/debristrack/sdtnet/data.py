"""Training samples for SDT-Net: from the simulator ([SDT] sec. 3 scenes, generated on the
fly) or cropped from a simulated dataset folder.

A sample is a pair of consecutive frames of one simulated sidereal sequence with its
targets, all numpy arrays (``H, W`` input size, ``h, w = H/4, W/4`` output size):

- ``cur``, ``prev`` (1, H, W) float32: the frames, ZScaled to [0, 1] ([SDT] eq. 1-3);
- ``prev_hm`` (2, H, W): the previous frame's left/right endpoints drawn as Gaussians, with
  CenterTrack's noise (dropped, jittered and false endpoints) so the net does not copy it;
- ``hm`` (2, h, w): Gaussian endpoint targets ([SDT] sec. 4.4.1); ``mask`` (1, h, w): the
  debris mask, max-pooled to the output grid ([SDT] eq. 8);
- K object slots: ``ind_l``, ``ind_r`` (K,) int64 flat cells; ``reg`` (K, 4) sub-pixel
  offsets; ``off`` (K, 4) tracking offsets ``c^t - c^{t-1}`` ([SDT] eq. 15), both in output
  pixels; ``obj``, ``track`` (K,) 0/1;
- for the centre variant ([SDT] Tab. 3 row a): ``hm_c`` (1, h, w), ``ind_c`` (K,), ``wh``
  (K, 2) segment vectors right - left, ``reg_c`` and ``off_c`` (K, 2), output px.

Coordinates: input pixel x (0-based, centre of the first pixel = 0) maps to output
``u = (x + 0.5) / stride - 0.5``, so output cell centres line up with input pixel blocks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch
from scipy.ndimage import median_filter

from astropy.table import Table
from PIL import Image

from ..errors import InputError
from ..io.sequence import find_sequences, open_sequence
from ..io.tables import read_table
from ..io.zscale import zscale
from ..simulate import iter_frames, make_scene
from ..geometry import clip_segment
from .model import STRIDE


FWHM = (1.5, 5.0)  # randomized scenes' PSF FWHM range by default, px


@dataclass(frozen=True)
class DataConfig:
    """How training samples are drawn."""

    crop: int = field(default=160, metadata={"help": "simulated frame size, px (multiple of 32)"})
    presets: tuple[str, ...] = field(default=("sdtd", "sdtd-dense"),
                                     metadata={"help": "sidereal simulator presets to draw from (the [SDT] motion model the shipped weights were trained on)"})
    dataset: str | None = field(default=None, metadata={
        "help": "dataset root (debristrack simulate) to crop samples from instead of simulating on the fly"})
    max_objects: int = field(default=16, metadata={"help": "object slots K per sample"})
    sigma: float = field(default=1.0, metadata={"help": "Gaussian sigma of endpoint targets, output px"})
    hm_drop: float = field(default=0.2, metadata={"help": "probability to drop a previous endpoint (CenterTrack)"})
    hm_jitter: float = field(default=1.5, metadata={"help": "RMS jitter of previous endpoints, input px"})
    hm_false: float = field(default=0.1, metadata={"help": "probability of a false previous endpoint per object"})
    randomize: bool = field(default=False, metadata={
        "help": "domain randomisation of every simulated scene (randomized_scene): PSF family and FWHM, sky, "
                "gain, read noise, bias, gradients, stray light, clouds, star density, hot pixels, cosmic "
                "rays, exposure and cadence, nuisances"})
    backgrounds: str | None = field(default=None, metadata={
        "help": "folder of real FITS frames used as the sky of some simulated scenes (never ../shared/real/: "
                "a test set)"})
    background_prob: float = field(default=0.15, metadata={"help": "fraction of scenes on a real background"})
    sequences: str | None = field(default=None, metadata={
        "help": "folder of real sequences (sub-folders of FITS frames, e.g. ../shared/real-dev/sequences; never "
                "../shared/real/): a fraction of scenes are consecutive real frames, cropped, with simulated streaks "
                "added (real_sequence_frames), so a residual-input net sees the residuals of real skies"})
    sequence_prob: float = field(default=0.0, metadata={"help": "fraction of scenes made from a real sequence"})
    frame_prob: float = field(default=0.25, metadata={
        "help": "residual-input models: fraction of scenes given as the frames themselves (what the net sees of a "
                "single frame or a night of two, which have no static sky)"})
    fwhm: tuple[float, float] = field(default=FWHM, metadata={
        "help": "randomize: range of the PSF FWHM drawn, px (ground-based seeing on fine pixels reaches 8-10)"})
    first_prob: float = field(default=0.0, metadata={
        "help": "asinh input: fraction of samples given as a sequence's first frame, the previous frame an empty "
                "sky with no endpoints (what inference gives the first frame, infer.first_previous)"})
    bright_prob: float = field(default=0.0, metadata={
        "help": "randomize: fraction of scenes whose objects are bright, SNR 100-30,000 per FWHM of length "
                "(sunlit satellites: their trails saturate where sky, gain and SATURATE put them over it)"})


NORMS = ("asinh", "zscale")
SKY_BLOCK = 32  # px: the local sky and noise are measured in blocks this size (smaller than clouds, larger than trails)


def sky_and_noise(image: np.ndarray, block: int = SKY_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Local sky level and noise (H, W) float32 of an image: the median and 1.4826 x MAD of
    every ``block`` x ``block`` block (a 1-in-4 pixel sample), 3 x 3-median-filtered over the
    block grid (a block filled by a bright star takes its neighbours' values) and bilinearly
    interpolated between block centres (extrapolated linearly beyond the outer ones). The blocks are anchored at pixel (0, 0), so a tile
    of the frame sees the frame's values."""
    img = np.asarray(image, np.float32)
    ny, nx = img.shape
    by, bx = -(-ny // block), -(-nx // block)
    padded = np.pad(img, ((0, by * block - ny), (0, bx * block - nx)), mode="symmetric")
    blocks = padded.reshape(by, block, bx, block)[:, ::2, :, ::2].transpose(0, 2, 1, 3).reshape(by, bx, -1)
    sky = np.median(blocks, axis=-1)
    noise = 1.4826 * np.median(np.abs(blocks - sky[..., None]), axis=-1)
    sky, noise = (median_filter(a, size=3, mode="nearest") for a in (sky, noise))
    # a block without noise (flat, saturated or quantised) gets a tenth of the typical noise, so the
    # scale stays proportional to the image's units (frame x 3 + 1000 gives the same input)
    typical = float(np.median(noise))
    floor = 0.1 * typical if typical > 0 else (float(np.std(img)) or 1.0)
    # cv2's bilinear resize by an integer factor puts the source samples at the block centres; the
    # grid is first extended by one block of linear extrapolation (odd reflection), so the outer
    # half-blocks follow a gradient instead of flattening it
    up = [cv2.resize(np.pad(a, 1, mode="reflect", reflect_type="odd").astype(np.float32),
                     ((bx + 2) * block, (by + 2) * block), interpolation=cv2.INTER_LINEAR)[block:block + ny, block:block + nx]
          for a in (sky, noise)]
    return up[0], np.maximum(up[1], floor)


def normalize_asinh(image: np.ndarray) -> np.ndarray:
    """Network input independent of sky level, gain and bias: z = (image - local sky) /
    local noise (:func:`sky_and_noise`), compressed as ``0.5 + 0.4 asinh(z / 2)`` (linear within
    a few sigma, logarithmic above: a faint trail keeps its contrast, a saturated star does not
    swamp the frame). Background sits at 0.5 and 1 sigma is ~0.2, as ZScale roughly puts them."""
    sky, noise = sky_and_noise(image)
    z = (np.asarray(image, np.float32) - sky) / noise
    return (0.5 + 0.4 * np.arcsinh(0.5 * z)).astype(np.float32)


def sky_level(image: np.ndarray) -> float:
    """The empty sky of a network input: its median (0.5 in the asinh normalisation)."""
    return float(np.median(image[::4, ::4]))


def normalize(image: np.ndarray, method: str = "asinh") -> np.ndarray:
    """The network input (float32, shape kept) of an image: ``asinh`` (:func:`normalize_asinh`)
    or ``zscale`` ([SDT] eq. 1-3 mapped to [0, 1], what the weights of issue 7 were trained on)."""
    if method == "asinh":
        return normalize_asinh(image)
    if method == "zscale":
        return zscale(image).astype(np.float32) / np.float32(255.0)
    raise InputError(f"unknown input normalisation {method!r}; use {' or '.join(NORMS)}")


def to_output(xy: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """Input pixel coordinates -> output-map coordinates (any shape, last axis x, y)."""
    return (np.asarray(xy, np.float64) + 0.5) / stride - 0.5


def to_input(uv: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """Output-map coordinates -> input pixel coordinates."""
    return (np.asarray(uv, np.float64) + 0.5) * stride - 0.5


def gaussian_map(points: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Max over Gaussians of peak 1 centred on (n, 2) ``points`` (x, y) -> float32 (ny, nx)."""
    ny, nx = shape
    if len(points) == 0:
        return np.zeros(shape, np.float32)
    gx = np.exp(-(np.arange(nx)[None, :] - points[:, :1]) ** 2 / (2 * sigma**2))  # (n, nx)
    gy = np.exp(-(np.arange(ny)[None, :] - points[:, 1:]) ** 2 / (2 * sigma**2))  # (n, ny)
    return (gy[:, :, None] * gx[:, None, :]).max(axis=0).astype(np.float32)


def endpoint_cells(xy: np.ndarray, out_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Integer output cells (n, 2) of input points (n, 2) and their sub-pixel remainders."""
    uv = to_output(xy)
    cell = np.clip(np.rint(uv), 0, np.array(out_shape[::-1]) - 1).astype(np.int64)
    return cell, uv - cell


def prev_heatmap(left: np.ndarray, right: np.ndarray, shape: tuple[int, int], *, sigma: float,
                 rng: np.random.Generator | None = None, drop: float = 0.0, jitter: float = 0.0,
                 false: float = 0.0) -> np.ndarray:
    """(2, ny, nx) input-resolution heatmap of previous left/right endpoints (n, 2) each.

    ``sigma`` in output px (scaled by the stride here). With ``rng``: each endpoint dropped
    with probability ``drop``, moved by N(0, ``jitter``) px, and a false endpoint added per
    object with probability ``false`` (CenterTrack's training noise).
    """
    chans = []
    for pts in (left, right):
        pts = np.asarray(pts, np.float64).reshape(-1, 2)
        if rng is not None and len(pts):
            pts = pts[rng.random(len(pts)) >= drop]
            pts = pts + rng.normal(0, jitter, pts.shape)
            n_false = int((rng.random(len(left)) < false).sum())
            pts = np.vstack([pts, rng.uniform([0, 0], [shape[1], shape[0]], (n_false, 2))])
        chans.append(gaussian_map(pts, shape, sigma * STRIDE))
    return np.stack(chans)


def left_right(table) -> tuple[np.ndarray, np.ndarray]:
    """Left and right endpoints (n, 2) of a streak table, ordered by the DESIGN.md rule
    (left = smaller x; on a tie, smaller y; [SDT] sec. 4.4) whatever order the table has."""
    a = np.column_stack([table["x1"], table["y1"]]).astype(np.float64)
    b = np.column_stack([table["x2"], table["y2"]]).astype(np.float64)
    swap = (b[:, 0] < a[:, 0]) | ((b[:, 0] == a[:, 0]) & (b[:, 1] < a[:, 1]))
    return np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)


def make_sample(prev, cur, *, config: DataConfig = DataConfig(), rng: np.random.Generator | None = None,
                norm: str = "asinh") -> dict:
    """Sample dict (see the module docstring) from two consecutive frames.

    ``prev``, ``cur``: objects with ``data`` (H, W), ``truth`` (streak table) and ``mask``
    (H, W bool) - :class:`debristrack.simulate.render.SimFrame`. ``rng`` None = no noise on
    the previous heatmap. ``norm``: the input normalisation (:func:`normalize`).
    """
    shape = cur.data.shape
    out_shape = (shape[0] // STRIDE, shape[1] // STRIDE)
    # (drawn only when asked for, so the samples of configs without it stay as they were)
    first = norm == "asinh" and config.first_prob > 0 and rng is not None and rng.random() < config.first_prob
    t, p = cur.truth, (prev.truth[:0] if first else prev.truth)
    left, right = (a[: config.max_objects] for a in left_right(t))
    ids = np.asarray(t["id"])[: config.max_objects]
    k, n = config.max_objects, len(ids)
    cl, rl = endpoint_cells(left, out_shape)
    cr, rr = endpoint_cells(right, out_shape)
    hm = np.stack([gaussian_map(cl.astype(float), out_shape, config.sigma),
                   gaussian_map(cr.astype(float), out_shape, config.sigma)])
    mask = cur.mask.reshape(out_shape[0], STRIDE, out_shape[1], STRIDE).max(axis=(1, 3))
    slots = {"ind_l": np.zeros(k, np.int64), "ind_r": np.zeros(k, np.int64), "reg": np.zeros((k, 4), np.float32),
             "off": np.zeros((k, 4), np.float32), "obj": np.zeros(k, np.float32), "track": np.zeros(k, np.float32)}
    slots["ind_l"][:n] = cl[:, 1] * out_shape[1] + cl[:, 0]
    slots["ind_r"][:n] = cr[:, 1] * out_shape[1] + cr[:, 0]
    slots["reg"][:n] = np.hstack([rl, rr])
    slots["obj"][:n] = 1
    p_ids = np.asarray(p["id"])
    p_left, p_right = left_right(p)
    common, i_cur, i_prev = np.intersect1d(ids, p_ids, return_indices=True)
    # [SDT] eq. 15 target: c^t - c^{t-1}, in output px.
    slots["off"][i_cur] = np.hstack([left[i_cur] - p_left[i_prev], right[i_cur] - p_right[i_prev]]) / STRIDE
    slots["track"][i_cur] = 1
    # Tab. 3 row a (CenterTrack-style): centre cell, segment vector, centre offsets.
    centre = (left + right) / 2
    cc, rc = endpoint_cells(centre, out_shape)
    slots["hm_c"] = gaussian_map(cc.astype(float), out_shape, config.sigma)[None]
    slots["ind_c"] = np.zeros(k, np.int64)
    slots["ind_c"][:n] = cc[:, 1] * out_shape[1] + cc[:, 0]
    slots["wh"], slots["reg_c"], slots["off_c"] = (np.zeros((k, 2), np.float32) for _ in range(3))
    slots["wh"][:n] = (right - left) / STRIDE
    slots["reg_c"][:n] = rc
    slots["off_c"][i_cur] = (centre[i_cur] - (p_left[i_prev] + p_right[i_prev]) / 2) / STRIDE
    noise = dict(drop=config.hm_drop, jitter=config.hm_jitter, false=config.hm_false) if rng is not None else {}
    cur_in = normalize(cur.data, norm)
    prev_in = np.full_like(cur_in, sky_level(cur_in)) if first else normalize(prev.data, norm)
    return {"cur": cur_in[None], "prev": prev_in[None],
            "prev_hm": prev_heatmap(p_left, p_right, shape, sigma=config.sigma, rng=rng, **noise),
            "hm": hm, "mask": mask[None].astype(np.float32), **slots}


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


RESIDUAL_FRAMES = 5  # frames of a residual-training scene: each frame's static sky from the other four


BRIGHT_SNR = (100.0, 30000.0)  # bright scenes' object SNR (log-uniform), per FWHM of length


def randomized_scene(preset: str, size: int, rng: np.random.Generator, frames: int = 2, *,
                     fwhm: tuple[float, float] = FWHM, bright: bool = False, **fixed):
    """A two-frame sidereal scene of ``preset`` with its sky, optics and camera drawn at random
    (domain randomisation): what a network trained on it must not depend on. The preset keeps
    its motion model (physical or [SDT] eq. 5) and object counts; ``fwhm``: the range of the
    PSF's FWHM, px; ``bright``: its objects at :data:`BRIGHT_SNR`, saturated where they exceed
    the camera's SATURATE; ``fixed``: scene fields set rather than drawn (a real sequence's
    EXPTIME and cadence)."""
    exptime = _log_uniform(rng, 1.0, 60.0)
    psf = "moffat" if rng.random() < 0.25 else "gaussian"  # Moffat trails render ~10x slower
    gain = _log_uniform(rng, 0.3, 5.0)
    over = dict(
        psf=psf, fwhm=float(rng.uniform(*fwhm)), moffat_beta=float(rng.uniform(2.0, 4.5)),
        sky_level=min(_log_uniform(rng, 30.0, 20000.0), 15000.0 * gain), gain=gain,  # sky below ~15,000 ADU
        read_noise=float(rng.uniform(1.0, 20.0)), bias=float(rng.uniform(0.0, 2000.0)),
        gradient=float(rng.uniform(0.0, 0.6)), straylight=float(rng.uniform(0.0, 1.5)) if rng.random() < 0.2 else 0.0,
        cloud=float(rng.uniform(0.1, 0.7)) if rng.random() < 0.2 else 0.0,
        star_density=_log_uniform(rng, 30.0, 4000.0), mag_limit=float(rng.uniform(13.0, 17.0)),
        hot_pixels=float(rng.uniform(0.0, 2e-4)), cosmic_rate=float(rng.uniform(0.0, 40.0)),
        exptime=exptime, cadence=exptime * float(rng.uniform(1.02, 2.0)),
        nuisances=bool(rng.random() < 0.35) or preset == "nuisance",
    )
    if bright:
        low = _log_uniform(rng, *BRIGHT_SNR)
        over["snr"] = (low, min(BRIGHT_SNR[1], 3.0 * low))
    return make_scene("sidereal", preset, size=size, frames=frames, **{**over, **fixed})


def _background_images(folder: str) -> list[np.ndarray]:
    from ..simulate.background import background_files, read_background

    return [read_background(p) for p in background_files(folder)]


@dataclass(frozen=True)
class RealSequence:
    """The frames of one real sequence held for training (:func:`real_sequences`): ``frames``
    (n, ny, nx) float32, bad pixels replaced, cut to the shape they share; median EXPTIME and
    cadence, s; ``trails``: indices of the frames with real trails (``streaks.csv``), never a
    sample's current frame (their trails are not in the truth)."""

    name: str
    frames: np.ndarray
    exptime: float
    cadence: float
    trails: frozenset[int]


def real_sequences(folder: str | Path, least: int = 2, size: int = 0) -> list[RealSequence]:
    """Every sequence of at least ``least`` frames of at least ``size`` px a side in the
    sub-folders of ``folder`` (or ``folder`` itself), read as the pipeline reads it. EXPTIME and cadence from the headers
    (1 s each where they lack them)."""
    from ..io.header import exposure_time

    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder of real sequences")
    out = []
    for d in [root] + sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            seq = open_sequence(d)
        except InputError:
            continue  # not a sequence (the root of several)
        if len(seq) < least:
            continue
        frames = [seq[i].clean for i in range(len(seq))]
        ny, nx = min(f.shape[0] for f in frames), min(f.shape[1] for f in frames)  # heights may differ by rows
        if min(ny, nx) < size:
            continue
        starts = [seq.start_time(i) for i in range(len(seq))]
        exps = [exposure_time(seq.header(i)) for i in range(len(seq))]
        exptime, cadence = 1.0, 1.0
        if all(t is not None for t in starts) and all(e for e in exps):
            exptime = float(np.median(exps))
            cadence = max(exptime, float(np.median(np.diff([(t - starts[0]).to_value("s") for t in starts]))))
        names = [Path(n).name for n in seq.names]
        trails = set()
        if (d / "streaks.csv").exists():
            marked = set(Table.read(d / "streaks.csv", format="ascii.csv")["file"].astype(str))
            trails = {i for i, n in enumerate(names) if n in marked}
        stack = np.stack([np.ascontiguousarray(f[:ny, :nx], np.float32) for f in frames])
        out.append(RealSequence(d.name, stack, exptime, cadence, frozenset(trails)))
    if not out:
        raise InputError(f"{root}: no real sequence of {least}+ frames of {size}+ px here")
    return out


def real_sequence_frames(seq: RealSequence, preset: str, size: int, rng: np.random.Generator, frames: int, *,
                         fwhm: tuple[float, float] = FWHM, bright: bool = False) -> tuple[list, list[bool]]:
    """``frames`` consecutive frames of a real sequence, cropped to ``size`` px at one place
    (turned by one of the 8 flips and transpositions), with the streaks of a
    :func:`randomized_scene` of ``preset`` added: the sequence's own EXPTIME and cadence (a
    physical preset's streaks then move as they would over that sky), SNRs against the crop's
    noise, photon noise on the streaks, the simulator's truth and debris masks. The real sky,
    stars, hot pixels, drift and field rotation stay as the camera recorded them. Returns the
    frames and, per frame, whether it has real trails (no truth for them)."""
    from ..simulate.render import plan_sequence, render_frame

    n, ny, nx = seq.frames.shape
    t0 = int(rng.integers(n - frames + 1))
    y0, x0 = int(rng.integers(ny - size + 1)), int(rng.integers(nx - size + 1))
    turn = int(rng.integers(8))
    crops = seq.frames[t0:t0 + frames, y0:y0 + size, x0:x0 + size]
    crops = np.rot90(crops[:, :, ::-1] if turn >= 4 else crops, turn % 4, axes=(1, 2))
    scene = randomized_scene(preset, size, rng, frames, fwhm=fwhm, bright=bright, exptime=seq.exptime,
                             cadence=seq.cadence, nuisances=False, background_scale=1.0)
    plan = plan_sequence(scene, rng, background=np.ascontiguousarray(crops[0]))  # SNR against the real noise
    plan = dataclasses.replace(plan, background=np.zeros((size, size), np.float32))  # streaks and their noise only
    out = []
    for k in range(frames):
        f = render_frame(plan, k, np.random.default_rng(int(rng.integers(2**63))))
        out.append(_Frame((crops[k] + f.data).astype(np.float32), f.truth, f.mask))
    return out, [t0 + k in seq.trails for k in range(frames)]


def simulated_samples(config: DataConfig = DataConfig(), *, rng: np.random.Generator | int | None = None,
                      norm: str = "asinh", residual: bool = False) -> Iterator[dict]:
    """Endless training samples: each a new two-frame sidereal sequence of ``config.crop`` px,
    preset drawn from ``config.presets`` (with ``config.randomize``: its sky and camera drawn
    by :func:`randomized_scene`; with ``config.backgrounds``: a fraction on a real frame; with
    ``config.sequences``: a fraction made of real frames, :func:`real_sequence_frames`),
    seeded from ``rng``. With ``residual`` (a model of ``"input": "residual"``): scenes of
    :data:`RESIDUAL_FRAMES` frames as :func:`static_residuals` makes them, every consecutive
    pair a sample, but for a fraction ``config.frame_prob`` of two-frame scenes as they are."""
    rng = np.random.default_rng(rng)
    images = _background_images(config.backgrounds) if config.backgrounds else []
    seqs = real_sequences(config.sequences, RESIDUAL_FRAMES if residual else 2, config.crop) if config.sequences else []
    while True:
        as_residual = residual and rng.random() >= config.frame_prob
        frames = RESIDUAL_FRAMES if as_residual else 2
        preset = config.presets[int(rng.integers(len(config.presets)))]
        bright = config.randomize and config.bright_prob > 0 and rng.random() < config.bright_prob
        marked = [False] * frames
        if seqs and rng.random() < config.sequence_prob:
            seq = seqs[int(rng.integers(len(seqs)))]
            sim, marked = real_sequence_frames(seq, preset, config.crop, rng, frames, fwhm=config.fwhm, bright=bright)
        else:
            if config.randomize:
                scene = randomized_scene(preset, config.crop, rng, frames, fwhm=config.fwhm, bright=bright)
            else:
                scene = make_scene("sidereal", preset, size=config.crop, frames=frames)
            background = (images[int(rng.integers(len(images)))]
                          if images and rng.random() < config.background_prob else None)
            sim = list(iter_frames(scene, seed=int(rng.integers(2**63)), background=background))
        if as_residual:
            sim = static_residuals(sim)
        for prev, cur, trail in zip(sim, sim[1:], marked[1:]):
            if not trail:  # a real trail in the current frame would be taught as background
                yield make_sample(prev, cur, config=config, rng=rng, norm=norm)


def static_residuals(frames: list) -> list[_Frame]:
    """Simulated frames as ``--sdtnet-input residual`` gives them to the net: each minus the
    static sky of the others (:class:`~debristrack.detect.streaks.static_sky.StaticSky`, centred,
    as the pipeline's window) and cleaned (:func:`~debristrack.detect.streaks.clean.prepare`),
    with its truth and debris mask."""
    from ..detect.streaks.clean import prepare
    from ..detect.streaks.static_sky import StaticSky

    sky = StaticSky(len(frames) - 1, centred=True)
    skies = [s for f in frames for s in sky.push(f.data, None, f)] + sky.flush()
    return [_Frame(prepare(s.static_residual())[0], s.payload.truth, s.payload.mask) for s in skies]


@dataclass(frozen=True)
class _Frame:
    data: np.ndarray
    truth: object
    mask: np.ndarray


def _crop_frame(seq_dir: Path, seq, gt, index: int, y0: int, x0: int, size: int) -> _Frame:
    """Frame ``index`` of a dataset sequence cropped to ``size`` px at (y0, x0), its truth
    clipped to the crop and shifted to crop pixels, and its debris mask."""
    data = seq[index].clean[y0:y0 + size, x0:x0 + size]
    mask_path = seq_dir / "masks" / f"{index:06d}.png"
    if not mask_path.exists():
        raise InputError(f"{mask_path}: debris mask missing (needed to train RoI-FE, [SDT] eq. 8)")
    mask = np.asarray(Image.open(mask_path))[y0:y0 + size, x0:x0 + size] > 0
    rows = gt[gt["frame"] == index]
    x1, y1, x2, y2, ok = clip_segment(*(np.asarray(rows[c], float) - off for c, off in
                                        (("x1", x0), ("y1", y0), ("x2", x0), ("y2", y0))), (size, size))
    truth = Table({"id": np.asarray(rows["id"])[ok], "x1": x1[ok], "y1": y1[ok], "x2": x2[ok], "y2": y2[ok]})
    return _Frame(data, truth, mask)


def dataset_samples(root: str | Path, config: DataConfig = DataConfig(), *,
                    rng: np.random.Generator | int | None = None, norm: str = "asinh") -> Iterator[dict]:
    """Endless training samples cropped (``config.crop`` px) from consecutive frame pairs of
    the sidereal sequences under a dataset root (frames, ``gt.csv`` and ``masks/``)."""
    rng = np.random.default_rng(rng)
    seqs = find_sequences(root)  # raises InputError naming the root when there are none
    while True:
        seq_dir = seqs[int(rng.integers(len(seqs)))]
        seq = open_sequence(seq_dir)
        seq.require(2, "SDT-Net training needs frame pairs")
        ny, nx = seq.shape
        if min(ny, nx) < config.crop:
            raise InputError(f"{seq_dir}: frames {nx}x{ny} are smaller than the crop {config.crop}")
        gt = read_table(seq_dir / "gt.csv", "streak")
        t = int(rng.integers(1, len(seq)))
        y0, x0 = int(rng.integers(ny - config.crop + 1)), int(rng.integers(nx - config.crop + 1))
        prev, cur = (_crop_frame(seq_dir, seq, gt, i, y0, x0, config.crop) for i in (t - 1, t))
        yield make_sample(prev, cur, config=config, rng=rng, norm=norm)


def training_samples(config: DataConfig = DataConfig(), *, rng: np.random.Generator | int | None = None,
                     norm: str = "asinh", residual: bool = False) -> Iterator[dict]:
    """:func:`dataset_samples` when ``config.dataset`` is set, else :func:`simulated_samples`."""
    if config.dataset:
        if residual:
            raise InputError(f"{config.dataset}: a residual-input model trains on simulated scenes only "
                             "(a dataset's frame pairs have no static sky)")
        return dataset_samples(config.dataset, config, rng=rng, norm=norm)
    return simulated_samples(config, rng=rng, norm=norm, residual=residual)


def collate(samples: list[dict], device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Stack sample dicts into a batch of tensors on ``device``."""
    return {key: torch.from_numpy(np.stack([s[key] for s in samples])).to(device) for key in samples[0]}
