"""Trail validator: is a candidate streak the trail of a moving object, or sky structure?

A streak detector answers "is there a line of excess light here?"; on real frames many
things are lines of excess light that no satellite made. Every candidate is measured on
the background-subtracted frame and rejected, with one countable reason, when it is:

- ``too_thin``: its cross-profile is narrower than the frame's own PSF (FWHM measured from
  its stars, :func:`frame_fwhm`): a cosmic-ray track, a hot column, a bad row. A trail is
  the PSF dragged along a line, so it is at least PSF-wide (wider when defocused);
- ``step``: there is no ridge with background on both sides: one side is as bright as the
  crest (a nebula edge, a chip edge, a cloud boundary is a step, not a ridge);
- ``faint_ridge``: the crest is not significantly above the brighter side;
- ``knot``: the light is concentrated in a short piece of the length (a star, a galaxy, a
  clump of hot pixels that the line filter smeared into a line), or most of the length
  has no signal;
- ``blob``: not elongated: length under ``min_aspect`` times its width (a galaxy);
- ``curved``: the crest wanders off the straight line along the length (a star trailed
  by platform drift or a mount error, an arc of stray light); a satellite's trail is
  straight over one exposure;
- ``saturated_star``: the segment lies inside the halo of a saturated star (rings, wings);
- ``spike``: it runs through a saturated star's core (a diffraction spike);
- ``bleed``: a bleed column: axis-aligned and through saturated pixels;
- ``bad_line``: axis-aligned and its image row/column is offset from its neighbours beyond
  its ends, or it runs along the frame's border, or exactly along one row across the frame.

Then :func:`suppress_duplicates` removes the parallel copies that the detector finds along
the edges of a wide trail. Pure functions on arrays; the caller counts the reasons.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ...io.masks import saturation_mask
from ..extract import bright_objects
from .background import subtract_background
from .geometry import as_segments, lengths

REASONS = ("too_thin", "step", "faint_ridge", "knot", "blob", "curved", "saturated_star", "spike", "bleed", "bad_line")
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


@dataclass(frozen=True)
class ValidatorParams:
    """Thresholds of :func:`validate_trails` (tuned on ``../shared/real-dev`` and the simulator)."""

    RANGES = {  # valid interval of each parameter (config.check_ranges)
        "min_width": "[0, inf)", "min_contrast": "[0, 1]", "min_crest_snr": "[0, inf)", "max_knot": "(0, 1]",
        "min_filled": "[0, 1]", "min_aspect": "[0, inf)", "halo_scale": "(0, inf)", "max_bend": "[0, inf)",
        "axis_tol": "[0, 45]", "short_length": "[0, inf)"}

    min_width: float = field(default=0.6, metadata={
        "help": "validator: smallest cross-profile FWHM, in units of the frame's PSF FWHM"})
    min_contrast: float = field(default=0.5, metadata={
        "help": "validator: crest above the brighter side / crest above the fainter side (1 = ridge, 0 = step)"})
    min_crest_snr: float = field(default=4.0, metadata={
        "help": "validator: crest above the brighter side, in noise units of the along-line median"})
    max_knot: float = field(default=0.6, metadata={
        "help": "validator: largest fraction of the light in the brightest fifth of the length"})
    min_filled: float = field(default=0.35, metadata={
        "help": "validator: smallest fraction of the length with signal"})
    min_aspect: float = field(default=6.0, metadata={"help": "validator: smallest length / width"})
    halo_scale: float = field(default=6.0, metadata={
        "help": "validator: halo radius of a saturated star, in its saturated-core radii plus one PSF FWHM"})
    max_bend: float = field(default=1.5, metadata={
        "help": "validator: largest crest offset from the straight line along the length, px (plus a quarter width)"})
    axis_tol: float = field(default=1.0, metadata={
        "help": "validator: degrees from a row/column within which bleed and bad-line tests apply"})
    short_length: float = field(default=8.0, metadata={
        "help": "shortest candidate searched for slow objects, px: under the detector's min_length (or "
                "under min_aspect widths) it is 'short', a track only when 3 frames in a row show it moving"})


@dataclass(frozen=True)
class Verdicts:
    """Per candidate: ``keep`` (N,) bool, ``reason`` (N,) str ('' when kept), measured ``width``
    (cross-profile FWHM, px), ``crest`` (crest above the brighter side, noise units of the
    along-line median) and ``fwhm`` the frame's PSF FWHM used."""

    keep: np.ndarray
    reason: np.ndarray
    width: np.ndarray
    crest: np.ndarray
    fwhm: float

    def counts(self) -> Counter:
        """Rejections per reason."""
        return Counter(str(r) for r in self.reason if r)


def frame_fwhm(residual: np.ndarray, sigma: float, *, mask: np.ndarray | None = None,
               default: float = 2.5, objects: np.ndarray | None = None) -> float:
    """PSF FWHM of a frame (px) from its own stars.

    sep sources above 10 sigma (:func:`~debristrack.detect.extract.bright_objects`; ``objects``:
    those, when extracted already), unflagged (not blended, not touching saturated or masked
    pixels), round (a/b < 1.3) and larger than a pixel (cosmic rays are sharper than the PSF):
    FWHM = 2.355 x sqrt(a b) of a Gaussian with those second moments, the median over the
    stars. ``default`` when fewer than 5 such stars.
    """
    objs = objects if objects is not None else bright_objects(residual, sigma, mask)
    if objs is None:
        return float(default)
    ok = (objs["flag"] == 0) & (objs["a"] < 1.3 * objs["b"]) & (objs["b"] > 0.6)
    if np.count_nonzero(ok) < 5:
        return float(default)
    return float(np.median(FWHM_PER_SIGMA * np.sqrt(objs["a"][ok] * objs["b"][ok])))


def saturated_cores(image: np.ndarray, level: float | None = None) -> np.ndarray:
    """Saturated blobs of a frame: ``(K, 3)`` ``x, y, radius`` (px; radius of the blob's area).

    Pixels at or above ``level`` (header SATURATE) or, without a level, a plateau at the
    frame maximum (:func:`debristrack.io.masks.saturation_mask`); blobs of at least 3 pixels.
    """
    sat = saturation_mask(image, level=level)
    if not sat.any():
        return np.zeros((0, 3))
    labels, n = ndimage.label(sat, structure=np.ones((3, 3), bool))
    area = np.bincount(labels.ravel())[1:]
    cy, cx = np.array(ndimage.center_of_mass(sat, labels, np.arange(1, n + 1))).reshape(-1, 2).T
    big = area >= 3
    return np.column_stack([cx[big], cy[big], np.sqrt(area[big] / np.pi)])


def _profiles(residual, hidden, seg, half_width, step=1.0):
    """Samples of ``residual`` on a grid along ``seg`` (rows) x across it (columns, offsets
    ``-half_width..half_width``); hidden samples are NaN."""
    p0, p1 = seg[0:2], seg[2:4]
    length = float(np.hypot(*(p1 - p0)))
    u = (p1 - p0) / max(length, 1e-9)
    nrm = np.array([-u[1], u[0]])
    t = np.arange(0.0, length + 0.5 * step, step)
    d = np.arange(-half_width, half_width + 0.5)
    px = p0[0] + t[:, None] * u[0] + d[None, :] * nrm[0]
    py = p0[1] + t[:, None] * u[1] + d[None, :] * nrm[1]
    ny, nx = residual.shape
    inside = (px >= 0) & (px <= nx - 1) & (py >= 0) & (py <= ny - 1)
    vals = ndimage.map_coordinates(residual, [py.ravel(), px.ravel()], order=1, mode="nearest").reshape(px.shape)
    if hidden is not None:
        h = ndimage.map_coordinates(hidden, [py.ravel(), px.ravel()], order=0, mode="nearest").reshape(px.shape)
        inside &= h < 0.5
    vals[~inside] = np.nan
    return vals, d


def _nanmedian(a, axis=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        return np.nanmedian(a, axis=axis)


def _half_width(profile, d, i0, level):
    """FWHM of the crest at index ``i0`` of ``profile`` at ``level``, interpolated (px)."""
    def walk(step):
        i = i0
        while 0 <= i + step < len(profile) and profile[i + step] > level:
            i += step
        j = i + step
        if not 0 <= j < len(profile):
            return float(abs(d[i] - d[i0]))
        frac = (profile[i] - level) / max(profile[i] - profile[j], 1e-12)
        return float(abs(d[i] - d[i0]) + frac)
    return walk(-1) + walk(+1)


def _axis_aligned(seg, tol_deg):
    ang = np.degrees(np.arctan2(seg[3] - seg[1], seg[2] - seg[0])) % 90.0
    return min(ang, 90.0 - ang) <= tol_deg


def _bad_line(residual, sigma, seg, min_outside=20, edge_band=8):
    """An axis-aligned segment whose image row/column stands out from its neighbours' by more
    than 3 sigma (median along the line) *beyond the segment's ends*: a bad row/column runs on
    past the candidate, a trail does not. Without ``min_outside`` px beyond the ends only the
    width test can tell. Also a bad line: an axis-aligned segment within ``edge_band`` px of the
    parallel frame border, and one lying exactly on one row/column across the whole frame."""
    vertical = abs(seg[2] - seg[0]) < abs(seg[3] - seg[1])
    img = residual.T if vertical else residual
    k = int(round(0.5 * (seg[0] + seg[2]) if vertical else 0.5 * (seg[1] + seg[3])))
    lo, hi = sorted((seg[1], seg[3]) if vertical else (seg[0], seg[2]))
    if min(k, img.shape[0] - 1 - k) < edge_band:
        return True  # a column/row along the frame's border: the chip's edge, an overscan seam
    exact = abs((seg[0] - seg[2]) if vertical else (seg[1] - seg[3])) < 0.5
    if exact and hi - lo >= 0.9 * (img.shape[1] - 1):
        return True  # one row/column exactly, across the whole frame: a read-out defect, not an orbit
    outside = np.ones(img.shape[1], bool)
    outside[max(0, int(lo) - 3):int(np.ceil(hi)) + 4] = False
    if outside.sum() < min_outside:
        return False
    if not 2 <= k < img.shape[0] - 2:
        return True  # the frame's edge row/column
    med = np.median(img[k - 2:k + 3][:, outside], axis=1)
    noise = 1.2533 * sigma / np.sqrt(outside.sum())
    return abs(med[2] - 0.5 * (med[0] + med[4])) > 3.0 * noise


def validate_trails(residual: np.ndarray, sigma: float, segs: np.ndarray, *, fwhm: float,
                    saturated: np.ndarray | None = None, hidden: np.ndarray | None = None,
                    params: ValidatorParams | None = None) -> Verdicts:
    """Judge every candidate streak (see the module docstring for the tests and reasons).

    Parameters
    ----------
    residual : (ny, nx) background-subtracted frame (not star-masked). sigma : its noise rms.
    segs : (N, >=4) candidates ``x1, y1, x2, y2[, score]``, px.
    fwhm : the frame's PSF FWHM, px (:func:`frame_fwhm`).
    saturated : (K, 3) saturated cores ``x, y, radius`` (:func:`saturated_cores`).
    hidden : (ny, nx) float/bool, 1 = pixel not to read (bad pixels, masked stars).

    Returns
    -------
    :class:`Verdicts`.
    """
    p = params or ValidatorParams()
    segs = as_segments(segs)
    n = len(segs)
    reason = np.full(n, "", dtype=object)
    width = np.zeros(n)
    crest_snr = np.zeros(n)
    sat = np.zeros((0, 3)) if saturated is None else np.asarray(saturated, float).reshape(-1, 3)
    hid = None if hidden is None else np.asarray(hidden, np.float32)
    half = max(8.0 * fwhm, 20.0)
    for i, s in enumerate(segs):
        length = float(lengths(s[None, :4])[0])
        r = _saturation_reason(s, length, sat, fwhm, p)
        if r:
            reason[i] = r
            continue
        vals, d = _profiles(residual, hid, s[:4], half)
        seen = np.isfinite(vals)
        if seen.sum() < 10:
            reason[i] = "knot"
            continue
        prof = _nanmedian(vals, axis=0)
        n_along = max(1, int(np.median(seen.sum(axis=0))))
        noise = 1.2533 * sigma / np.sqrt(n_along)
        centre = np.abs(d) <= max(1.0, 0.75 * fwhm)
        i0 = int(np.flatnonzero(centre)[np.nanargmax(np.where(np.isfinite(prof[centre]), prof[centre], -np.inf))])
        crest = prof[i0]
        sides = np.abs(d) >= half / 2
        left = _nanmedian(prof[sides & (d < 0)])
        right = _nanmedian(prof[sides & (d > 0)])
        if not np.isfinite(left) or not np.isfinite(right):  # at the frame edge: one side only
            left = right = np.nanmin([left, right]) if np.isfinite([left, right]).any() else 0.0
        hi, lo = max(left, right), min(left, right)
        crest_snr[i] = (crest - hi) / noise
        if crest - hi < p.min_crest_snr * noise:
            reason[i] = "step" if crest - lo >= p.min_crest_snr * noise else "faint_ridge"
            continue
        if (crest - hi) < p.min_contrast * (crest - lo):
            reason[i] = "step"
            continue
        base = 0.5 * (left + right)
        prof_f = np.where(np.isfinite(prof), prof, base)
        width[i] = _half_width(prof_f, d, i0, base + 0.5 * (crest - base))
        if width[i] < p.min_width * fwhm:
            reason[i] = "too_thin"
            continue
        if length < p.min_aspect * width[i]:
            reason[i] = "blob"
            continue
        if _knotted(vals, d, base, max(width[i], fwhm), sigma, p):
            reason[i] = "knot"
            continue
        if _bend(vals, d, width[i], fwhm) > p.max_bend + 0.25 * width[i]:
            reason[i] = "curved"
            continue
        if _bends_beyond(residual, hid, s[:4], length, sigma, fwhm, p):
            reason[i] = "curved"
            continue
        if _axis_aligned(s, p.axis_tol) and _bad_line(residual, sigma, s):
            reason[i] = "bad_line"
    return Verdicts(keep=reason == "", reason=reason, width=width, crest=crest_snr, fwhm=float(fwhm))


def _saturation_reason(s, length, sat, fwhm, p):
    """'saturated_star', 'spike' or 'bleed' when the segment belongs to a saturated star."""
    if not len(sat):
        return ""
    a, b = s[0:2], s[2:4]
    u = (b - a) / max(length, 1e-9)
    rel = sat[:, :2] - a
    t = rel @ u
    perp = np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])
    closest = np.hypot(*(sat[:, :2] - (a + np.clip(t, 0, length)[:, None] * u)).T)
    halo = p.halo_scale * (sat[:, 2] + fwhm)
    far = np.maximum(np.hypot(*(sat[:, :2] - a).T), np.hypot(*(sat[:, :2] - b).T))
    if np.any(far <= halo):
        return "saturated_star"
    through = (perp <= sat[:, 2] + fwhm) & (closest <= halo)
    if np.any(through):
        return "bleed" if _axis_aligned(s, p.axis_tol) else "spike"
    return ""


def _bend(vals, d, width, fwhm, pieces=5):
    """Largest offset (px) of the crest from the segment's line over ``pieces`` stretches of
    its length: the crest of each stretch (median profile) found within one width of the line."""
    near = np.abs(d) <= max(width, 2.0 * fwhm)
    offs = []
    for chunk in np.array_split(vals[:, near], pieces):
        if len(chunk) < 3:
            continue
        prof = _nanmedian(chunk, axis=0)
        if not np.isfinite(prof).any():
            continue
        prof = np.convolve(np.nan_to_num(prof, nan=np.nanmin(prof)), np.ones(3) / 3, mode="same")
        offs.append(abs(d[near][int(np.argmax(prof))]))
    return max(offs) if offs else 0.0


def _bends_beyond(residual, hidden, seg, length, sigma, fwhm, p, reach=60.0, piece=12.0):
    """Whether the light continues past an end of the segment but bends away from its line: the
    detector cut a straight piece out of a curved trail (a star smeared by a platform drift).
    Beyond each end, pieces of ``piece`` px out to ``reach`` px are searched for a crest within
    12 px of the extended line; a crest 3 sigma (along-piece median) above the sides in at
    least two pieces, offset from the line by more than ``max_bend`` px and growing, is a bend."""
    a, b = seg[0:2], seg[2:4]
    u = (b - a) / max(length, 1e-9)
    for start, direction in ((b, u), (a, -u)):
        ext = np.array([*start, *(start + direction * reach)])
        vals, d = _profiles(residual, hidden, ext, 12.0)
        offs = []
        for chunk in np.array_split(vals, max(1, int(reach // piece))):
            prof = _nanmedian(chunk, axis=0)
            if not np.isfinite(prof).all():
                break
            prof = np.convolve(prof, np.ones(3) / 3, mode="same")
            k = int(np.argmax(prof[2:-2])) + 2
            side = np.median(np.concatenate([prof[:3], prof[-3:]]))
            noise = 1.2533 * sigma / np.sqrt(max(1, len(chunk)) * 3)
            if prof[k] - side < 3.0 * noise:
                break
            offs.append(abs(d[k]))
        if len(offs) >= 2 and offs[-1] > p.max_bend + 1.0 and offs[-1] >= offs[0]:
            return True
    return False


def _knotted(vals, d, base, width, sigma, p):
    """Light concentrated in a short stretch, or most of the length empty."""
    core = np.abs(d) <= max(1.0, width / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (hidden samples) give NaN
        flux = np.nanmean(vals[:, core], axis=1) - base
    flux = flux[np.isfinite(flux)]
    if flux.size < 5:
        return True
    nb = min(20, max(5, flux.size // 3))
    bins = np.array([b.mean() for b in np.array_split(flux, nb)])
    per_bin = sigma / np.sqrt(max(1, core.sum()) * flux.size / nb)
    pos = np.clip(bins, 0, None)
    total = pos.sum()
    if total <= 0:
        return True
    top = np.sort(pos)[::-1][:max(1, int(round(nb / 5)))].sum()
    filled = np.mean(bins > 2.0 * per_bin)
    return top / total > p.max_knot or filled < p.min_filled


def suppress_duplicates(segs: np.ndarray, width: np.ndarray, crest: np.ndarray, *, fwhm: float,
                        angle_tol: float = 5.0) -> np.ndarray:
    """Indices of the segments to keep once the parallel copies within a stronger segment's
    measured width are removed (the detector finds both edges of a wide, defocused trail).

    ``segs`` (N, >=4); ``width`` (N,) cross-profile FWHM, px; ``crest`` (N,) crest SNR: the
    candidate on the trail's centre line has the highest crest, so it is visited first.
    Returns kept indices, by decreasing crest.
    """
    segs = as_segments(segs)
    order = np.argsort(-np.asarray(crest, float), kind="stable")
    kept: list[int] = []
    ang = np.arctan2(segs[:, 3] - segs[:, 1], segs[:, 2] - segs[:, 0])
    for i in order:
        dup = False
        for j in kept:
            da = abs((ang[i] - ang[j] + np.pi / 2) % np.pi - np.pi / 2)
            if np.degrees(da) > angle_tol:
                continue
            a, b = segs[j, 0:2], segs[j, 2:4]
            u = (b - a) / max(np.hypot(*(b - a)), 1e-9)
            reach = max(width[j], width[i]) + fwhm
            ends = segs[i, [0, 1]], segs[i, [2, 3]]
            perp = [abs((e - a)[0] * u[1] - (e - a)[1] * u[0]) for e in ends]
            along = [(e - a) @ u for e in ends]
            length_j = np.hypot(*(b - a))
            overlap = min(max(along), length_j) - max(min(along), 0.0)
            if max(perp) <= reach and overlap > 0.5 * (max(along) - min(along)):
                dup = True
                break
        if not dup:
            kept.append(int(i))
    return np.asarray(kept, dtype=int)


def validated(image: np.ndarray | None, mask: np.ndarray | None, segs: np.ndarray, *,
              saturation: float | None = None, default_fwhm: float = 2.5, params: ValidatorParams | None = None,
              residual: tuple[np.ndarray, float] | None = None, fwhm: float | None = None,
              saturated: np.ndarray | None = None) -> tuple[np.ndarray, Verdicts]:
    """The candidates of one frame that pass :func:`validate_trails`, without duplicates.

    ``image`` is the frame (``frame.clean``): its stars give the PSF FWHM and its saturated
    pixels the saturated cores (or they are given: ``fwhm``, ``saturated``, measured once per
    frame, :func:`debristrack.detect.streaks.trails.frame_facts`; ``image`` may then be None
    when ``residual`` is given). The candidates are measured on ``residual``
    ``(image, sigma)`` when given (in a sequence: the frame minus its static sky), else on
    the background-subtracted ``image``. Returns the kept ``(M, 5)`` segments and the
    verdicts of all candidates (duplicates counted as reason ``duplicate``).
    """
    segs = as_segments(segs)
    own = None
    if fwhm is None or residual is None:
        own = subtract_background(image, mask)
    if fwhm is None:
        fwhm = frame_fwhm(*own, mask=mask, default=default_fwhm)
    if saturated is None:
        saturated = saturated_cores(image, saturation)
    res, sigma = residual if residual is not None else own
    v = validate_trails(res, sigma, segs, fwhm=fwhm, saturated=saturated, hidden=mask, params=params)
    ok = np.flatnonzero(v.keep)
    keep = ok[suppress_duplicates(segs[ok], v.width[ok], v.crest[ok], fwhm=fwhm)] if len(ok) else ok
    reason = v.reason.copy()
    reason[np.setdiff1d(ok, keep)] = "duplicate"
    return segs[np.sort(keep)], Verdicts(keep=reason == "", reason=reason, width=v.width, crest=v.crest, fwhm=v.fwhm)


def curved_chains(segs: np.ndarray, *, reach: float = 12.0, min_bend: float = 6.0, max_bend: float = 60.0,
                  min_length: float = 30.0, off_line: float = 3.0) -> np.ndarray:
    """(N,) bool: segments that continue end to end into another at a bend of ``min_bend`` to
    ``max_bend`` degrees: the straight pieces a detector cuts out of one curved trail (stars
    smeared by a platform drift all draw the same arc). Both pieces are at least
    ``min_length`` px and the far end of each lies more than ``off_line`` px off the other's
    line (collinear fragments of one straight trail are not a bend). A satellite trail is
    straight; two different trails meet end to end at an angle only by chance."""
    segs = as_segments(segs)
    n = len(segs)
    out = np.zeros(n, bool)
    if n < 2:
        return out
    ends = np.stack([segs[:, 0:2], segs[:, 2:4]], axis=1)  # (N, 2, 2)
    ang = np.arctan2(segs[:, 3] - segs[:, 1], segs[:, 2] - segs[:, 0])
    long_enough = lengths(segs) >= min_length

    def off(i, j):  # largest distance of j's ends from i's line
        u = np.array([np.cos(ang[i]), np.sin(ang[i])])
        rel = ends[j] - ends[i][0]
        return float(np.max(np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])))

    for i in np.flatnonzero(long_enough):
        for j in np.flatnonzero(long_enough):
            if j <= i:
                continue
            gap = np.min(np.hypot(*(ends[i][:, None, :] - ends[j][None, :, :]).transpose(2, 0, 1)))
            bend = np.degrees(abs((ang[i] - ang[j] + np.pi / 2) % np.pi - np.pi / 2))
            if gap <= reach and min_bend <= bend <= max_bend and min(off(i, j), off(j, i)) > off_line:
                out[i] = out[j] = True
    return out
