"""One simulated sequence in memory: its plan (drawn once) and its frames (drawn one at a time).

:func:`plan_sequence` draws everything fixed for a sequence (stars on the sky, objects and
their motion, the sky layout, hot pixels, the pointing model); :func:`render_frame` draws one
exposure from the plan with its own random generator, so frame ``k`` never depends on the
frames before it. :func:`iter_frames` chains both from a seed. All pure: no file is written.

Pixel convention: 0-based, x = column, y = row, centre of the first pixel = (0, 0). Ground
truth positions are at mid-exposure. Times are seconds after the first exposure start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time, TimeDelta

from ..io.tables import empty_table, normalize_streaks
from .background import background_files, fit_background, read_background, robust_sigma, shift_background
from .debris import Debris, clip_segment, draw_debris, sample_debris
from .nuisances import Nuisances, draw_nuisances, plan_nuisances
from .psf import add_segments, noise_equivalent_area
from .pointing import Pointing, make_pointing
from .scenes import SkyScene
from .sky import (SkyLayout, cosmic_rays, expose, flux_for_snr, hot_pixels, sky_fields, sky_layout,
                  star_magnitudes)

SeedLike = int | np.random.SeedSequence | None


@dataclass(frozen=True)
class Points:
    """Point-like targets (stare and target modes), arrays over the n objects.

    ``offset`` (n, 2): stare: pixel position; target: offset from the frame centre of the
    object's nominal place. ``drift`` (n, 2) px per frame. ``jitter`` (frames, n, 2) px per
    frame (stare). ``flux`` (n,) e-; ``snr`` (n,).
    """

    offset: np.ndarray
    drift: np.ndarray
    jitter: np.ndarray
    flux: np.ndarray
    snr: np.ndarray


@dataclass(frozen=True)
class SequencePlan:
    """Everything fixed in one sequence. Stars are on the sky (deg) with fluxes in e-;
    ``noise_var`` is the per-pixel background variance (e-^2) that the objects' SNRs refer to."""

    scene: SkyScene
    pointing: Pointing
    star_ra: np.ndarray
    star_dec: np.ndarray
    star_flux: np.ndarray
    layout: SkyLayout
    hot_index: np.ndarray
    hot_level: np.ndarray
    noise_var: float
    debris: Debris | None = None
    points: Points | None = None
    background: np.ndarray | None = field(default=None, repr=False)
    nuisances: Nuisances | None = field(default=None, repr=False)
    sky_objects: "SkyObjects | None" = None  # real catalogue objects (scene.tle), see simulate.catalogue

    def times(self, index: int) -> tuple[float, float, float]:
        """Start, middle and end of exposure ``index`` in s after the first start."""
        t0 = index * self.scene.cadence
        return t0, t0 + self.scene.exptime / 2, t0 + self.scene.exptime


@dataclass(frozen=True)
class SimFrame:
    """One simulated exposure.

    data : (ny, nx) float32 ADU. header : FITS header (times, camera, mid-exposure WCS).
    truth : ground-truth rows of this frame (DESIGN.md table; streaks or points).
    mask : (ny, nx) bool debris mask (sidereal) or None.
    stars : (m, 3) x, y (px, mid-exposure) and flux (ADU) of the stars inside the frame.
    """

    index: int
    data: np.ndarray
    header: fits.Header
    truth: Table
    mask: np.ndarray | None
    stars: np.ndarray


def seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """A SeedSequence from an int, a SeedSequence or None (fresh entropy)."""
    return seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)


def child_rng(ss: np.random.SeedSequence, *key: int) -> np.random.Generator:
    """Generator of the child ``key`` of ``ss``, independent of how many siblings exist."""
    return np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + key))


def _star_region(pointing: Pointing, times: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box (lo, hi) in the first frame's pixels of everything any frame sees."""
    ny, nx = pointing.shape
    if pointing.mode == "target":
        centres = pointing.centre_in_ref(times)
    else:
        centres = pointing.ref.wcs_world2pix(pointing.crval(times), 0)
    half = np.array([nx / 2, ny / 2]) + margin
    return centres.min(axis=0) - half, centres.max(axis=0) + half


def plan_sequence(scene: SkyScene, rng: np.random.Generator, *,
                  background: np.ndarray | None = None) -> SequencePlan:
    """Draw the fixed parts of one sequence.

    Parameters
    ----------
    scene : a scene dataclass (see :func:`debristrack.simulate.make_scene`).
    rng : random generator for the plan.
    background : optional real image (any size) to use as the sky; it replaces the simulated
        sky, stars, hot pixels and read noise and is resampled/cropped to the frame.
    """
    scene.validate()
    shape = scene.shape
    ny, nx = shape
    pointing = make_pointing(scene, rng)
    layout = sky_layout(shape, clouds=scene.clouds if scene.cloud > 0 else 0, rng=rng)
    area = noise_equivalent_area(scene.fwhm, psf=scene.psf, beta=scene.moffat_beta)
    fitted = None
    if background is not None:
        fitted = fit_background(background, shape, scale=scene.background_scale, rng=rng)
        noise_var = (robust_sigma(fitted) * scene.gain) ** 2
    else:
        noise_var = scene.sky_level + scene.read_noise**2

    starts = np.arange(scene.frames) * scene.cadence
    times = np.concatenate([starts, starts + scene.exptime])
    debris = points = sky_objects = None
    extra_xy, extra_mag = np.zeros((0, 2)), np.zeros(0)
    if scene.tle:
        from .catalogue import plan_catalogue_objects

        sky_objects, pointing = plan_catalogue_objects(
            scene, pointing, rng, flux_for_snr=lambda s: flux_for_snr(s, noise_var=noise_var, area=area))
    elif scene.mode == "sidereal":
        debris = sample_debris(scene, frames=scene.frames, rng=rng,
                               flux_per_fwhm=lambda s: flux_for_snr(s, noise_var=noise_var, area=area))
    else:
        n = int(rng.integers(scene.objects[0], scene.objects[1] + 1))
        snr = rng.uniform(scene.snr[0], scene.snr[1], n)
        flux = flux_for_snr(snr, noise_var=noise_var, area=area)
        if scene.mode == "stare":
            border = 3 * scene.fwhm + 2
            offset = np.column_stack([rng.uniform(border, nx - 1 - border, n),
                                      rng.uniform(border, ny - 1 - border, n)])
            a = rng.uniform(0, 2 * math.pi, n)
            drift = scene.geo_drift * np.column_stack([np.cos(a), np.sin(a)])
            # [GEO] sec. 2: random turbulence jitter up to ~0.38 px that does not accumulate.
            r = scene.jitter * np.sqrt(rng.random((scene.frames, n)))
            phi = rng.uniform(0, 2 * math.pi, (scene.frames, n))
            jitter = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=-1)
        else:
            reach = scene.offset * np.array([nx, ny])
            offset = rng.uniform(-1, 1, (n, 2)) * reach
            a = rng.uniform(0, 2 * math.pi, n)
            drift = rng.uniform(0, scene.comoving_drift, n)[:, None] * np.column_stack([np.cos(a), np.sin(a)])
            drift[:1] = 0.0  # the first object is the one the mount follows
            jitter = np.zeros((scene.frames, n, 2))
            # [TRK] fig. 10: now and then a star passes over the target.
            for j in range(n):
                for _ in range(rng.poisson(scene.collisions)):
                    f = int(rng.integers(scene.frames))
                    t_mid = f * scene.cadence + scene.exptime / 2
                    pos = (pointing.centre_in_ref(t_mid) - pointing.error(t_mid) + offset[j]
                           + drift[j] * (t_mid / scene.cadence))
                    extra_xy = np.vstack([extra_xy, pos + rng.uniform(-0.7, 0.7, 2)])
                    extra_mag = np.append(extra_mag, rng.uniform(scene.mag_limit - 4, scene.mag_limit - 1))
        points = Points(offset=offset, drift=drift, jitter=jitter, flux=flux, snr=snr)

    if fitted is None:
        lo, hi = _star_region(pointing, times, margin=3 * scene.fwhm + 8)
        n_stars = rng.poisson(scene.star_density * (hi - lo).prod() / 1e6)
        xy = rng.uniform(lo, hi, (n_stars, 2))
        mag = star_magnitudes(n_stars, bright=scene.mag_bright, faint=scene.mag_limit, rng=rng)
        xy, mag = np.vstack([xy, extra_xy]), np.concatenate([mag, extra_mag])
        hot_index, hot_level = hot_pixels(shape, fraction=scene.hot_pixels, rng=rng)
    else:
        xy, mag = extra_xy, extra_mag
        hot_index, hot_level = np.zeros(0, np.int64), np.zeros(0)
    ra, dec = pointing.ref.wcs_pix2world(xy[:, 0], xy[:, 1], 0) if len(xy) else (np.zeros(0), np.zeros(0))
    # Zero point: a star at mag_limit has SNR limit_snr.
    f_limit = float(flux_for_snr(scene.limit_snr, noise_var=scene.sky_level + scene.read_noise**2, area=area))
    star_flux = f_limit * 10.0 ** (-0.4 * (mag - scene.mag_limit))
    nuisances = None
    if getattr(scene, "nuisances", False):  # drawn last, so scenes without them keep their random stream
        nuisances = plan_nuisances(scene.shape, frames=scene.frames, sky_level=scene.sky_level,
                                   saturate_e=(scene.saturate - scene.bias) * scene.gain, fwhm=scene.fwhm, rng=rng)
    return SequencePlan(scene=scene, pointing=pointing, star_ra=np.asarray(ra), star_dec=np.asarray(dec),
                        star_flux=star_flux, layout=layout, hot_index=hot_index, hot_level=hot_level,
                        noise_var=float(noise_var), debris=debris, points=points, background=fitted,
                        nuisances=nuisances, sky_objects=sky_objects)


def _point_positions(plan: SequencePlan, index: int, wcs_at) -> tuple[np.ndarray, ...]:
    """Pixel positions (n, 2) of the point targets at exposure start, middle and end."""
    pts, pointing = plan.points, plan.pointing
    if plan.scene.mode == "stare":
        p = pts.offset + pts.drift * index + pts.jitter[index]
        return p, p, p
    out = []
    for t, w in zip(plan.times(index), wcs_at):
        ref_pix = pointing.centre_in_ref(t) - pointing.error(t) + pts.offset + pts.drift * (t / plan.scene.cadence)
        world = pointing.ref.wcs_pix2world(ref_pix, 0)
        out.append(w.wcs_world2pix(world, 0))
    return tuple(out)


def _inside(x, y, shape, pad: float = 0.0) -> np.ndarray:
    ny, nx = shape
    return (x >= -0.5 - pad) & (x <= nx - 0.5 + pad) & (y >= -0.5 - pad) & (y <= ny - 0.5 + pad)


def frame_header(plan: SequencePlan, index: int, wcs) -> fits.Header:
    """FITS header of exposure ``index``: DATE-OBS (start, UTC), EXPTIME, DT_MODE, PIXSCALE,
    SATURATE, GAIN, RDNOISE and the mid-exposure TAN WCS."""
    s = plan.scene
    start = Time(s.start_time, format="isot", scale="utc") + TimeDelta(plan.times(index)[0], format="sec")
    hdr = fits.Header()
    hdr["DATE-OBS"] = (start.isot, "start of exposure, UTC")
    hdr["EXPTIME"] = (float(s.exptime), "exposure time, s")
    hdr["DT_MODE"] = (s.mode, "observing mode: sidereal|stare|target")
    hdr["PIXSCALE"] = (float(s.pixscale), "plate scale, arcsec/px")
    hdr["SATURATE"] = (float(s.saturate), "saturation level, ADU")
    hdr["GAIN"] = (float(s.gain), "e-/ADU")
    hdr["RDNOISE"] = (float(s.read_noise), "read noise, e-")
    hdr["BUNIT"] = "adu"
    hdr["FRAME"] = (index, "0-based index in the sequence")
    hdr["SIMULATD"] = (True, "simulated by debristrack")
    if s.site:
        lat, lon, *h = (float(v) for v in s.site.split(","))
        hdr["OBSGEO-B"], hdr["OBSGEO-L"], hdr["OBSGEO-H"] = lat, lon, (h[0] if h else 0.0)
    hdr.extend(wcs.to_header(), update=True)
    return hdr


def render_frame(plan: SequencePlan, index: int, rng: np.random.Generator) -> SimFrame:
    """Draw exposure ``index`` of ``plan`` (pure; ``rng`` drives only this frame's noise).

    Steps: sky background and cloud transmission; stars as trails between their pixel
    positions at exposure start and end (through the WCS of each instant); the mode's
    objects; cloud extinction; hot pixels and cosmic rays; photon and read noise, gain,
    bias, saturation.
    """
    s = plan.scene
    shape = s.shape
    ny, nx = shape
    t_start, t_mid, t_end = plan.times(index)
    wcs_at = [plan.pointing.wcs(t) for t in (t_start, t_mid, t_end)]
    signal = np.zeros(shape, dtype=np.float32)
    psf = dict(fwhm=s.fwhm, psf=s.psf, beta=s.moffat_beta)
    radius = 3 * s.fwhm + 2

    stars = np.zeros((0, 3))
    if len(plan.star_ra):
        (xa, ya), (xm, ym), (xb, yb) = (w.wcs_world2pix(plan.star_ra, plan.star_dec, 0) for w in wcs_at)
        # Trails whose bounding box (padded by the PSF) meets the frame.
        near = ((np.minimum(xa, xb) <= nx - 0.5 + radius) & (np.maximum(xa, xb) >= -0.5 - radius)
                & (np.minimum(ya, yb) <= ny - 0.5 + radius) & (np.maximum(ya, yb) >= -0.5 - radius))
        nz = plan.nuisances
        if nz is not None and index == nz.jitter_frame:  # the mount jumped mid-exposure: doubled stars
            dx, dy = nz.jitter
            for ox, oy in ((0.0, 0.0), (dx, dy)):
                add_segments(signal, xa[near] + ox, ya[near] + oy, xb[near] + ox, yb[near] + oy,
                             0.5 * plan.star_flux[near], **psf)
        else:
            add_segments(signal, xa[near], ya[near], xb[near], yb[near], plan.star_flux[near], **psf)
        seen = _inside(xm, ym, shape)
        stars = np.column_stack([xm[seen], ym[seen], plan.star_flux[seen] / s.gain])

    mask = None
    objects = plan.sky_objects
    if s.mode == "sidereal":
        debris = plan.debris if objects is None else objects.streaks(index, shape, radius, s.fwhm)
        labels, mask = draw_debris(signal, debris, index, brightness_noise=s.brightness_noise,
                                   gap_prob=s.gap_prob, rng=rng, **psf)
        if objects is not None:
            labels["norad"] = objects.norad[labels["id"] - 1]
        if plan.nuisances is not None:
            meteor = draw_nuisances(signal, plan.nuisances, index, fwhm=s.fwhm, sky_level=s.sky_level)
            if meteor is not None:
                x1, y1, x2, y2, ok = clip_segment(*(np.array([meteor[k]]) for k in ("x1", "y1", "x2", "y2")), shape)
                if ok[0]:
                    extra = {"id": meteor["id"], "x1": x1[0], "y1": y1[0], "x2": x2[0], "y2": y2[0], "snr": 50.0,
                             "width": 0.0, "norad": 0}
                    labels = {k: np.concatenate([np.asarray(v), [extra[k]]]) for k, v in labels.items()}
        truth = _table("streak", index, labels)
    elif objects is not None:
        start, mid, end = objects.start[index], objects.mid[index], objects.end[index]
        add_segments(signal, start[:, 0], start[:, 1], end[:, 0], end[:, 1], objects.flux, **psf)
        ids = np.flatnonzero(_inside(mid[:, 0], mid[:, 1], shape))
        truth = _table("point", index, {"id": ids + 1, "x": mid[ids, 0], "y": mid[ids, 1],
                                        "flux": objects.flux[ids] / s.gain, "snr": objects.snr[ids],
                                        "norad": objects.norad[ids]})
    else:
        start, mid, end = _point_positions(plan, index, wcs_at)
        add_segments(signal, start[:, 0], start[:, 1], end[:, 0], end[:, 1], plan.points.flux, **psf)
        seen = _inside(mid[:, 0], mid[:, 1], shape)
        ids = np.flatnonzero(seen)
        truth = _table("point", index, {"id": ids + 1, "x": mid[ids, 0], "y": mid[ids, 1],
                                        "flux": plan.points.flux[ids] / s.gain, "snr": plan.points.snr[ids]})

    cr_index, cr_level = cosmic_rays(shape, rate=s.cosmic_rate, rng=rng)
    if plan.background is None:
        sky, trans = sky_fields(shape, plan.layout, frame=index, sky_level=s.sky_level, gradient=s.gradient,
                                straylight=s.straylight, cloud=s.cloud, cloud_glow=s.cloud_glow,
                                cloud_speed=s.cloud_speed)
        signal *= trans
        signal += sky
        flat = signal.reshape(-1)
        flat[plan.hot_index] += plan.hot_level.astype(np.float32)
        np.add.at(flat, cr_index, cr_level.astype(np.float32))
        data = expose(signal, rng=rng, read_noise=s.read_noise, gain=s.gain, bias=s.bias, saturate=s.saturate)
        if plan.nuisances is not None:
            data[plan.nuisances.zero_row, :] = 0.0  # a dead row
    else:
        np.add.at(signal.reshape(-1), cr_index, cr_level.astype(np.float32))
        noisy = expose(signal, rng=rng, read_noise=0.0, gain=s.gain, bias=0.0, saturate=np.inf)
        # The real sky moves with the stars: by where the first frame's centre is now.
        ref_centre = plan.pointing.ref.wcs_pix2world([plan.pointing.centre], 0)
        dx, dy = wcs_at[1].wcs_world2pix(ref_centre, 0)[0] - plan.pointing.centre
        data = (shift_background(plan.background, float(dx), float(dy)) + noisy).astype(np.float32)
    return SimFrame(index=index, data=data, header=frame_header(plan, index, wcs_at[1]), truth=truth,
                    mask=mask, stars=stars)


def _table(kind: str, index: int, labels: dict[str, np.ndarray]) -> Table:
    extra = tuple(k for k in labels if k not in ("id", "x", "y", "x1", "y1", "x2", "y2"))
    table = empty_table(kind, extra)
    n = len(labels["id"])
    if n:
        cols = {"frame": np.full(n, index, np.int64), **labels}
        table = Table([np.asarray(cols[c], dtype=table[c].dtype) for c in table.colnames], names=table.colnames)
    if kind == "streak":
        normalize_streaks(table)  # (x1, y1) is the left endpoint in memory too, not only in gt.csv
    return table


def load_background(background, ss: np.random.SeedSequence) -> np.ndarray | None:
    """Read the background image of one sequence: ``background`` is None, an array, a FITS
    file or a folder of FITS files (one picked with the sequence's seed)."""
    if background is None or isinstance(background, np.ndarray):
        return background
    files = background_files(Path(background))
    pick = files[int(child_rng(ss, 2).integers(len(files)))]
    return read_background(pick)


def iter_frames(scene: SkyScene, *, seed: SeedLike = None, background=None) -> Iterator[SimFrame]:
    """Simulate one sequence frame by frame, in memory.

    Parameters
    ----------
    scene : scene dataclass (:func:`debristrack.simulate.make_scene`).
    seed : int or SeedSequence; the same seed gives the same frames bit for bit.
    background : None, a (h, w) array, a FITS file or a folder of FITS files.

    Yields
    ------
    SimFrame, one per exposure, in order.
    """
    ss = seed_sequence(seed)
    image = load_background(background, ss)
    plan = plan_sequence(scene, child_rng(ss, 0), background=image)
    for k in range(scene.frames):
        yield render_frame(plan, k, child_rng(ss, 1, k))


def check_background(background) -> None:
    """Raise :class:`InputError` early for a background path that cannot be used (reads its
    first file)."""
    if background is None or isinstance(background, np.ndarray):
        return
    read_background(background_files(Path(background))[0])
