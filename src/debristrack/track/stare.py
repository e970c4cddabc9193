"""Staring mode: GEO targets by min-stacking ([GEO]), with median and mean stacking baselines.

The pipeline, run once per block of ``window`` frames (the stack and the segmentation are
the expensive steps, so they run once per block, not once per frame):

1. stack the block: per-pixel minimum ([GEO] sec. 3), optionally over a local window
   ([GEO] sec. 5), or the median / mean baselines;
2. matched-filter significance, background removal, threshold segmentation, connected
   components, deblending, centroids and the spot-size constraint
   (:mod:`debristrack.detect.segmentation`);
3. single-frame verification ([GEO] sec. 5): on small cut-outs around each candidate, the
   position and brightness are measured in every frame of the block; a candidate is kept
   when it has a point-source shape (hot pixels have none), enough valid frames, enough
   brightness in the frames no star crosses, and there a position consistent with the
   stack's (:func:`verify`);
4. link the blocks' targets into tracks (Hungarian assignment within ``link_radius``); a
   known track is also measured ("forced") in later blocks where its stack significance
   dropped below the threshold; a track found in fewer than ``min_blocks`` disjoint blocks
   is dropped (a GEO target stays put, a coincidence of noise or stars does not); each
   track's per-frame positions are fitted with a straight line (GEO/GSO targets move
   uniformly over minutes), giving one row per frame per target.

Frames stream through a ring of ``window`` frames: no more than one window is ever held
(with the local-window min rule, the window's local maxima as well); the next frame is read,
and its local maximum taken, in a worker thread while the current one is processed.
Pixel convention: 0-based, ``x`` the column, ``y`` the row, centre of the first pixel (0, 0).
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
from astropy.table import Table
from scipy.optimize import linear_sum_assignment

from ..detect.segmentation import THRESHOLDS, Significance, Sources, segment, significance
from ..detect.stacking import block_starts, local_max, stack_frames, star_drift_rate, window_length
from ..errors import InputError
from ..io.masks import mask_bad_frame
from ..io.tables import empty_table

METHODS = ("minstack", "medianstack", "meanstack")
_STACK = {"minstack": "min", "medianstack": "median", "meanstack": "mean"}
# Fewest frames a staring-mode stack can work with: two to remove stars, one to spare.
MIN_FRAMES = 3


def _f(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class Config:
    """Parameters of the staring-mode methods (minstack, medianstack, meanstack)."""

    window: int | None = _f(None, "frames per stack; default: derived from the star drift (plate scale, "
                                  "declination, EXPTIME, cadence in the headers), else --default-window")
    default_window: int = _f(5, "frames per stack when the headers do not give the star drift")
    max_window: int = _f(20, "longest stack the drift rule may choose, frames")
    star_footprint: float = _f(10.0, "diameter of a bright star's spot along the drift, px (for the window rule)")
    dec: float | None = _f(None, "declination of the pointing, deg; default: WCS CRVAL2 or the DEC keyword, else 0")
    local_radius: int = _f(1, "minstack: half-width of the local window of the min rule, px "
                                 "([GEO] sec. 5; 0 = single pixel)")
    fwhm: float = _f(2.5, "PSF FWHM, px (matched filter and centroid window)")
    mesh: int = _f(64, "background mesh, px")
    threshold: float = _f(5.0, "detection threshold on the filtered stack, in units of its noise")
    threshold_mode: str = _f("adaptive", "adaptive (local background and noise maps) or global "
                                         "(one level, [GEO] sec. 3)")
    min_area: int = _f(3, "spot-size constraint: fewest pixels above threshold")
    max_area: int = _f(300, "spot-size constraint: most pixels above threshold after deblending")
    deblend_dip: float = _f(2.0, "split a spot when the significance dips by this much between two maxima")
    min_separation: float = _f(2.0, "least distance between two deblended maxima, px")
    cutout_radius: int = _f(5, "half-width of the verification cut-outs, px")
    max_offset: float = _f(1.5, "verification: largest per-frame offset from the stack position, px")
    min_consistent: float = _f(0.5, "verification: fraction of a block's steady frames (no star crossing) "
                                    "whose position must agree")
    min_sharpness: float = _f(0.2, "verification: least neighbour/peak ratio of a spot (hot pixels are ~0)")
    max_sharpness: float = _f(0.95, "verification: largest neighbour/peak ratio (flat, extended structure is ~1)")
    verify_snr: float = _f(4.5, "verification: least SNR of the mean single-frame flux over a stack's frames")
    edge: int = _f(2, "ignore candidates closer than this to the frame edge, px (clipped cut-outs, steep stray light)")
    min_valid: int = _f(2, "verification: fewest frames with a valid (non-NaN) pixel under a candidate")
    link_radius: float = _f(3.0, "largest distance between a target's positions in two blocks, px")
    min_blocks: int = _f(2, "a target must be found in at least this many disjoint stacks (all of them when fewer)")
    forced_threshold: float = _f(3.0, "a known target is measured in a later stack down to this significance")
    fit_tracks: bool = _f(True, "report per-frame positions from a straight-line fit to each track")

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first parameter out of range."""
        checks = [
            (self.window is None or self.window >= 2, "window must be at least 2 frames"),
            (self.default_window >= 2 and self.max_window >= 3, "default_window must be >= 2 and max_window >= 3"),
            (self.local_radius >= 0, "local_radius must be >= 0"),
            (self.fwhm > 0 and self.mesh >= 8, "fwhm must be positive and mesh at least 8 px"),
            (self.threshold_mode in THRESHOLDS, f"threshold_mode must be one of {', '.join(THRESHOLDS)}"),
            (0 <= self.min_area <= self.max_area, "need 0 <= min_area <= max_area"),
            (self.cutout_radius >= 2, "cutout_radius must be at least 2 px"),
            (0 < self.min_consistent <= 1, "min_consistent must be in (0, 1]"),
            (self.link_radius > 0 and self.max_offset > 0, "link_radius and max_offset must be positive"),
        ]
        for good, text in checks:
            if not good:
                raise InputError(f"stare Config: {text}")


# --------------------------------------------------------------------------- window rule


def derive_window(*, plate_scale: float | None, dec: float, exptime: float | None,
                  cadence: float | None, stack: str, config: Config) -> int | None:
    """Stack length from the star drift ([GEO] sec. 2-3), or None when the headers cannot tell.

    Parameters
    ----------
    plate_scale : arcsec/px. dec : pointing declination, deg.
    exptime : exposure, s. cadence : time between exposure starts, s.
    """
    if not plate_scale or (exptime is None and cadence is None):
        return None
    rate = star_drift_rate(plate_scale, dec)
    cadence = cadence if cadence else exptime
    trail = rate * (exptime if exptime is not None else cadence)
    return window_length(rate * cadence, trail, config.star_footprint, stack=stack, longest=config.max_window)


def _pointing_dec(seq) -> float | None:
    wcs = seq.wcs(0)
    if wcs is not None:
        cel = wcs.celestial.wcs
        dec = float(cel.crval[cel.lat])
        if math.isfinite(dec):
            return dec
    header = seq.header(0)
    for key in ("CRVAL2", "DEC", "OBJCTDEC", "TELDEC"):
        value = header.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None


def sequence_window(seq, *, method: str, config: Config) -> int:
    """The stack length for a sequence: ``config.window``, else the drift rule, else the default."""
    if config.window is not None:
        return max(2, int(config.window))
    times = seq.times
    cadence = None
    if times is not None and len(times) > 1:
        steps = np.diff(times.unix)
        steps = steps[steps > 0]
        cadence = float(np.median(steps)) if steps.size else None
    dec = config.dec if config.dec is not None else (_pointing_dec(seq) or 0.0)
    window = derive_window(plate_scale=seq.plate_scale(), dec=dec, exptime=seq.exptime(0),
                           cadence=cadence, stack=_STACK[method], config=config)
    return window if window is not None else config.default_window


# --------------------------------------------------------------------------- one block


def detect_stack(frames, *, method: str, config: Config, work: np.ndarray | None = None,
                 local_max_done: bool = False) -> tuple[Sources, Significance]:
    """Candidates in one block: stack, significance, segmentation ([GEO] sec. 3).

    Parameters
    ----------
    frames : sequence of T float32 (ny, nx) frames (NaN = no value).
    work : optional float32 (4, ny, nx) scratch reused from block to block (fresh large
        arrays cost page faults, a noticeable part of the time on 4096x4096 frames).
    local_max_done : the frames are already the local maxima of the min rule
        (:func:`debristrack.detect.stacking.local_max` with ``config.local_radius``).

    Returns
    -------
    (sources, significance of the stack); the significance lives in ``work``.
    """
    stack = _STACK[method]
    if work is None:
        work = np.empty((4,) + frames[0].shape, np.float32)
    radius = config.local_radius if stack == "min" and not local_max_done else 0
    stacked = stack_frames(frames, stack=stack, local_radius=radius,
                           min_valid=config.min_valid, out=work[0], scratch=work[1])
    sig = significance(stacked, fwhm=config.fwhm, mesh=config.mesh, threshold=config.threshold_mode,
                       out=work[2])
    sources = segment(sig, threshold=config.threshold, min_area=config.min_area, max_area=config.max_area,
                      deblend_dip=config.deblend_dip, min_separation=config.min_separation, scratch=work[3])
    return sources, sig


@dataclass(frozen=True)
class Verified:
    """Single-frame measurements of a block's candidates: (n,) or (n, T) arrays.

    ``x``, ``y``: per-frame centroid, px; ``flux``: per-frame PSF-fit flux (image units);
    ``flux_err``: its noise; ``ok``: per-frame position agrees with the stack's;
    ``keep``: the candidate passed verification; ``sharpness``: neighbour/peak ratio;
    ``xb``, ``yb``: the block position (median of the agreeing frames); ``score``: stack
    significance.
    """

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    ok: np.ndarray
    keep: np.ndarray
    sharpness: np.ndarray
    xb: np.ndarray
    yb: np.ndarray
    score: np.ndarray


def cutouts(frames, x: np.ndarray, y: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Square cut-outs around (x, y) from every frame, clipped at the frame edge.

    Returns
    -------
    cut : float32 (n, T, S, S), S = 2 radius + 1; xs, ys : (n, S) pixel coordinates of the
    cut-out columns and rows.
    """
    ny, nx = frames[0].shape
    d = np.arange(-radius, radius + 1)
    ys = np.clip(np.rint(y).astype(int)[:, None] + d, 0, ny - 1)
    xs = np.clip(np.rint(x).astype(int)[:, None] + d, 0, nx - 1)
    cut = np.stack([f[ys[:, :, None], xs[:, None, :]] for f in frames], axis=1)
    return cut, xs, ys


def verify(frames, sources: Sources, *, config: Config) -> Verified:
    """[GEO] sec. 5 single-frame verification of stack candidates, on cut-outs only.

    For each candidate and frame: the local background is the median of the cut-out's
    border, the noise the median over frames of the borders' MAD; the position is a Gaussian-windowed
    centroid (window sigma = FWHM / 2.355) iterated from the stack position, kept within
    ``cutout_radius - 1`` px; the flux is the PSF-weighted (optimal) flux at that position.
    A candidate is kept when:

    - its spot has a point-source shape on the per-pixel median of the block's cut-outs:
      the mean of the 8 neighbours of the brightest central pixel is at least
      ``min_sharpness`` times that pixel (a hot pixel, fixed like a GEO target, has ~0; a
      Gaussian of FWHM 2.5 px has ~0.5), a dark- and flat-free rule, and at most
      ``max_sharpness`` (flat, extended structure such as a cloud edge has ~1);
    - its central pixel is valid (not NaN) in at least ``min_valid`` frames;
    - the mean single-frame flux (frames no star crosses) has an SNR of at least
      ``verify_snr``, and the candidate lies at least ``edge`` px inside the frame;
    - "grayscale consistency": a frame is *steady* when its flux is within 4 sigma + 50 %
      of the star-free brightness (the median of the low cluster of the per-frame fluxes:
      a star crossing the target only adds light, and the min stack shows the target
      without it); at least a third of the frames (one at least) must be steady;
    - "positional correlation": in at least ``min_consistent`` of the steady frames the
      centroid lies within ``max_offset`` px of the stack position and the flux is positive.

    Parameters
    ----------
    frames : sequence of T float32 (ny, nx) frames of the block.
    sources : the block's candidates (:func:`detect_stack`).
    """
    n, T = len(sources), len(frames)
    r = config.cutout_radius
    cut, xs, ys = cutouts(frames, sources.x, sources.y, r)
    S = 2 * r + 1
    edge = np.ones((S, S), bool)
    edge[1:-1, 1:-1] = False
    border = cut[:, :, edge]  # (n, T, 4S-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cut-out borders
        back = np.nanmedian(border, axis=2)  # (n, T)
        # Per-frame MAD, then the median over frames: a star trailing through the border of
        # one frame does not inflate the noise of the others.
        sigma = np.nanmedian(1.4826 * np.nanmedian(np.abs(border - back[:, :, None]), axis=2), axis=1)
    valid = np.isfinite(cut[:, :, r - 1:r + 2, r - 1:r + 2]).all(axis=(2, 3))  # (n, T) frames with data
    centre_valid = valid.sum(axis=1)
    sub = np.nan_to_num(cut - back[:, :, None, None], nan=0.0)
    coadd = np.median(sub, axis=1)  # (n, S, S)
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, 1.0)

    # Shape: neighbours / peak around the brightest of the central 3x3 pixels.
    centre = coadd[:, r - 1:r + 2, r - 1:r + 2].reshape(n, 9)
    best = np.argmax(centre, axis=1)
    cy, cx = r - 1 + best // 3, r - 1 + best % 3
    idx = np.arange(n)
    peak = coadd[idx, cy, cx]
    ring = sum(coadd[idx, cy + dy, cx + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx) / 8.0
    sharpness = np.where(peak > 0, ring / np.where(peak > 0, peak, 1.0), 0.0)

    # Per-frame windowed centroid and PSF flux.
    s_w = config.fwhm / 2.3548
    X = xs[:, None, None, :].astype(np.float64)  # (n, 1, 1, S)
    Y = ys[:, None, :, None].astype(np.float64)  # (n, 1, S, 1)
    x0 = np.broadcast_to(sources.x[:, None], (n, T)).astype(np.float64)
    y0 = np.broadcast_to(sources.y[:, None], (n, T)).astype(np.float64)
    xc, yc = x0.copy(), y0.copy()
    pos = np.clip(sub, 0.0, None)
    for _ in range(6):
        w = np.exp(-((X - xc[:, :, None, None]) ** 2 + (Y - yc[:, :, None, None]) ** 2) / (2 * s_w**2)) * pos
        wsum = w.sum(axis=(2, 3))
        good = wsum > 0
        nx_ = np.where(good, (w * X).sum(axis=(2, 3)) / np.where(good, wsum, 1), xc)
        ny_ = np.where(good, (w * Y).sum(axis=(2, 3)) / np.where(good, wsum, 1), yc)
        xc = np.clip(nx_, x0 - (r - 1), x0 + (r - 1))
        yc = np.clip(ny_, y0 - (r - 1), y0 + (r - 1))
    g = np.exp(-((X - xc[:, :, None, None]) ** 2 + (Y - yc[:, :, None, None]) ** 2) / (2 * s_w**2))
    g /= 2 * np.pi * s_w**2
    g2 = (g**2).sum(axis=(2, 3))
    flux = np.where(valid, (g * sub).sum(axis=(2, 3)) / g2, np.nan)

    flux_err = sigma[:, None] / np.sqrt(g2)
    # The star-free brightness is the low cluster of the per-frame fluxes (a star crossing
    # the target only adds light), as in the min stack; frames far above it are crossed.
    tol = lambda ref: 4 * flux_err + 0.5 * np.abs(ref)  # noqa: E731
    low = np.nanmin(np.where(valid, flux, np.inf), axis=1, keepdims=True)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a candidate with no valid frame
        f_ref = np.nanmedian(np.where(flux <= low + tol(low), flux, np.nan), axis=1, keepdims=True)
        steady = np.abs(flux - f_ref) <= tol(f_ref)
    ok = (np.hypot(xc - x0, yc - y0) <= config.max_offset) & (flux > 0) & steady
    # Brightness over the block's single frames: mean flux of the frames no star crosses.
    n_steady = np.maximum(steady.sum(axis=1), 1)
    mean_flux = np.where(steady, flux, 0.0).sum(axis=1) / n_steady
    block_snr = mean_flux / (np.median(flux_err, axis=1) / np.sqrt(n_steady))
    ny, nx = frames[0].shape
    inside = ((sources.x >= config.edge) & (sources.x <= nx - 1 - config.edge)
              & (sources.y >= config.edge) & (sources.y <= ny - 1 - config.edge))
    keep = (inside & (block_snr >= config.verify_snr)
            & (sharpness >= config.min_sharpness) & (sharpness <= config.max_sharpness)
            & (centre_valid >= min(config.min_valid, T))
            & (steady.sum(axis=1) >= max(1, math.ceil(T / 3)))
            & (ok.sum(axis=1) >= config.min_consistent * steady.sum(axis=1)))
    any_ok = ok.any(axis=1)
    xm = np.where(ok, xc, np.nan)
    ym = np.where(ok, yc, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        xb = np.where(any_ok, np.nanmedian(xm, axis=1), sources.x)
        yb = np.where(any_ok, np.nanmedian(ym, axis=1), sources.y)
    return Verified(x=xc, y=yc, flux=flux, flux_err=flux_err, ok=ok, keep=keep, sharpness=sharpness,
                    xb=xb, yb=yb, score=sources.peak.astype(np.float64))


# --------------------------------------------------------------------------- linking


def link(track_pos: np.ndarray, new_pos: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assign new positions to existing tracks (Hungarian, gated by ``radius`` px).

    Parameters
    ----------
    track_pos : (m, 2) last (x, y) of each track. new_pos : (n, 2).

    Returns
    -------
    matches : (k, 2) int array of (track index, new index); unmatched_tracks : (m-k,);
    unmatched_new : (n-k,).
    """
    m, n = len(track_pos), len(new_pos)
    if m == 0 or n == 0:
        return np.zeros((0, 2), int), np.arange(m), np.arange(n)
    d = np.hypot(track_pos[:, None, 0] - new_pos[None, :, 0], track_pos[:, None, 1] - new_pos[None, :, 1])
    cost = np.where(d <= radius, d, 1e9)
    rows, cols = linear_sum_assignment(cost)
    good = cost[rows, cols] <= radius
    matches = np.stack([rows[good], cols[good]], axis=1)
    return matches, np.setdiff1d(np.arange(m), matches[:, 0]), np.setdiff1d(np.arange(n), matches[:, 1])


def _fit_line(t: np.ndarray, v: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Values of a straight line fitted to ``v[use]`` over ``t`` (one 3-MAD clipping pass)."""
    if use.sum() < 3:
        centre = np.median(v[use]) if use.any() else np.median(v)
        return np.full_like(v, centre)
    for _ in range(2):
        coef = np.polyfit(t[use], v[use], 1)
        resid = v - np.polyval(coef, t)
        mad = 1.4826 * np.median(np.abs(resid[use])) + 1e-3
        clipped = use & (np.abs(resid) <= 3 * mad)
        if clipped.sum() < 3 or clipped.sum() == use.sum():
            break
        use = clipped
    return np.polyval(coef, t)


# --------------------------------------------------------------------------- pipeline


def track_frames(frames: Iterable[np.ndarray], n_frames: int, *, window: int, method: str = METHODS[0],
                 config: Config | None = None, progress: Callable[[int, int], None] | None = None) -> Table:
    """Run the staring-mode pipeline over a stream of frames (pure arrays, no I/O).

    Parameters
    ----------
    frames : iterable of ``n_frames`` float32 (ny, nx) frames in time order (NaN = no value).
    n_frames : number of frames the iterable yields.
    window : frames per stack (clipped to ``n_frames``).
    method : one of :data:`METHODS`.
    config : parameters (defaults if None).
    progress : ``progress(done_frames, total_frames)``, called after each frame.

    Returns
    -------
    Points table ``frame,id,x,y,flux,score`` (DESIGN.md), one row per frame per target.
    """
    config = config or Config()
    config.validate()
    if method not in METHODS:
        raise InputError(f"unknown stare method {method!r}; use one of {', '.join(METHODS)}")
    window = max(2, min(int(window), n_frames))
    starts = block_starts(n_frames, window)
    ends = {s + window - 1: s for s in starts}
    ring: deque = deque(maxlen=window)
    # The min rule's local maxima are computed with the reading, in the worker thread.
    prepare = None
    if method == "minstack" and config.local_radius > 0:
        prepare = _LocalMaxPool(config.local_radius, window + 2)
        prepared: deque = deque(maxlen=window)
    work = None
    done_until = 0  # frames before this index are reported
    track_pos = np.zeros((0, 2))
    track_rows: list[list[tuple]] = []
    track_blocks: list[int] = []  # disjoint blocks each track was found in
    track_until: list[int] = []   # end of the last block counted for each track
    for t, (frame, local) in enumerate(_prefetch(frames, prepare)):
        ring.append(frame)
        if prepare is not None:
            prepared.append(local)
        if t in ends:
            block = list(ring)
            if work is None:
                work = np.empty((4,) + block[0].shape, np.float32)
            sources, sig = detect_stack(list(prepared) if prepare is not None else block, method=method,
                                        config=config, work=work, local_max_done=prepare is not None)
            sources = _with_forced(sources, track_pos, sig, config=config)
            if len(sources):
                v = verify(block, sources, config=config)
                kept = np.flatnonzero(v.keep)
                new_pos = np.stack([v.xb[kept], v.yb[kept]], axis=1)
                matches, _, unmatched = link(track_pos, new_pos, config.link_radius)
                ids = np.empty(len(kept), int)
                ids[matches[:, 1]] = matches[:, 0]
                for j in unmatched:
                    ids[j] = len(track_rows)
                    track_rows.append([])
                    track_blocks.append(0)
                    track_until.append(0)
                    track_pos = np.vstack([track_pos, new_pos[j]])
                track_pos[ids] = new_pos
                first = ends[t]
                for j, k in zip(ids, kept):
                    if first >= track_until[j]:  # the overlapping last block confirms nothing new
                        track_blocks[j] += 1
                        track_until[j] = t + 1
                    for i in range(max(0, done_until - first), window):
                        track_rows[j].append((first + i, v.x[k, i], v.y[k, i], v.flux[k, i], v.score[k],
                                              bool(v.ok[k, i]), v.xb[k], v.yb[k]))
            done_until = t + 1
        if progress is not None:
            progress(t + 1, n_frames)
    # [GEO] targets stay put: one seen in a single block of several is a coincidence of
    # noise or of stars, not a target.
    disjoint = len(starts) - (1 if len(starts) > 1 and starts[-1] % window else 0)
    need = min(config.min_blocks, disjoint)
    return _table([r for r, n in zip(track_rows, track_blocks) if n >= need], fit=config.fit_tracks)


def _with_forced(sources: Sources, track_pos: np.ndarray, sig: Significance, *, config: Config) -> Sources:
    """Add the known tracks' positions that no new source is near, as forced candidates.

    A confirmed target is measured in every block even when its stack significance falls
    below ``threshold`` (it stays above ``forced_threshold``, the best of the 3x3 pixels).
    """
    if len(track_pos) == 0:
        return sources
    if len(sources):
        d = np.hypot(track_pos[:, None, 0] - sources.x[None, :], track_pos[:, None, 1] - sources.y[None, :])
        lone = d.min(axis=1) > config.link_radius
    else:
        lone = np.ones(len(track_pos), bool)
    pos = track_pos[lone]
    if len(pos) == 0:
        return sources
    ny, nx = sig.shape
    xi = np.clip(np.rint(pos[:, 0]).astype(np.int64)[:, None] + np.array([-1, 0, 1]), 0, nx - 1)
    yi = np.clip(np.rint(pos[:, 1]).astype(np.int64)[:, None] + np.array([-1, 0, 1]), 0, ny - 1)
    peak = sig.at((yi[:, :, None] * nx + xi[:, None, :]).reshape(-1)).reshape(len(pos), -1).max(axis=1)
    ok = peak >= config.forced_threshold
    forced = Sources(pos[ok, 0], pos[ok, 1], peak[ok], np.zeros(ok.sum(), np.int64),
                     np.full(ok.sum(), -1, np.int64))
    return Sources(*(np.concatenate([getattr(sources, f), getattr(forced, f)])
                     for f in ("x", "y", "peak", "area", "label")))


def _table(track_rows: list[list[tuple]], *, fit: bool) -> Table:
    rows = []
    for tid, tr in enumerate((r for r in track_rows if r), start=1):  # ids from 1, as in every mode
        a = np.array(tr, dtype=float)
        frame, x, y, flux, score, ok, xb, yb = a.T
        ok = ok.astype(bool)
        if fit:
            x, y = _fit_line(frame, x, ok), _fit_line(frame, y, ok)
        else:
            x, y = np.where(ok, x, xb), np.where(ok, y, yb)
        rows.append(np.stack([frame, np.full_like(frame, tid), x, y, flux, score], axis=1))
    if not rows:
        return empty_table("point", extra=("flux", "score"))
    a = np.concatenate(rows)
    return Table([a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2], a[:, 3], a[:, 4], a[:, 5]],
                 names=("frame", "id", "x", "y", "flux", "score"))


def track_sequence(seq, *, method: str = METHODS[0], config: Config | None = None, progress=None) -> Table:
    """Detect and track GEO targets in a staring-mode FITS sequence.

    Parameters
    ----------
    seq : :class:`debristrack.io.sequence.FrameSequence`.
    method : ``"minstack"`` ([GEO]), ``"medianstack"`` or ``"meanstack"`` (baselines).
    config : :class:`Config`; defaults if None.
    progress : None or ``progress(done_frames, total_frames)``.

    Returns
    -------
    Points table ``frame,id,x,y,flux,score`` (frame = index in ``seq``; flux in image units;
    score = peak significance in the stack).

    Raises
    ------
    InputError
        when the sequence has fewer than 3 frames.
    """
    config = config or Config()
    seq.require(MIN_FRAMES, f"{method} needs at least {MIN_FRAMES} frames")
    window = sequence_window(seq, method=method, config=config)
    notes: list[str] = []

    def masked(frame):  # a bad frame is masked (all NaN) and reported; its block keeps the others
        data, why = mask_bad_frame(frame.data)
        if why:
            notes.append(f"{seq.frame_path(frame.index)} ({frame.name}): bad frame, masked: {why}")
        return data

    table = track_frames((masked(frame) for frame in seq), len(seq), window=window, method=method,
                         config=config, progress=progress)
    table.meta["notes"] = notes
    return table


class _LocalMaxPool:
    """Local maxima (:func:`local_max`) written into a cycle of ``n`` reused buffers.

    A fresh 64 MB array per 4096x4096 frame costs its page faults every time; the ring of
    ``window`` prepared frames plus the one being made needs ``window + 1`` buffers.
    """

    def __init__(self, radius: int, n: int):
        self.radius, self.n = radius, n
        self.buffers: list[np.ndarray] = []
        self.k = 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if len(self.buffers) < self.n:
            self.buffers.append(np.empty_like(frame))
        out = self.buffers[self.k % self.n]
        self.k += 1
        return local_max(frame, self.radius, out=out)


def _prefetch(frames: Iterable[np.ndarray], prepare: Callable[[np.ndarray], np.ndarray] | None):
    """Yield ``(frame, prepare(frame))`` (or ``(frame, None)``), the next pair made in a thread.

    Reading a FITS frame (byte swapping, copying) and the local maximum release the GIL, so
    on two cores they run while the previous frame is stacked; one frame ahead at most.
    """
    it = iter(frames)

    def load():
        frame = next(it, None)
        if frame is None:
            return None
        frame = np.asarray(frame, dtype=np.float32)
        return frame, (prepare(frame) if prepare is not None else None)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load)
        while (item := pending.result()) is not None:
            pending = pool.submit(load)
            yield item
