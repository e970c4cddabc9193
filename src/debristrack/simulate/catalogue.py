"""Simulated truth from a real TLE catalogue: the objects that really cross the field.

With a scene's ``tle`` set, the sequence's objects are not drawn at random: the whole
catalogue is propagated with SGP4 (:func:`debristrack.astrometry.catalogue.topocentric`) at
every exposure's start, middle and end as seen from ``site``, and every object above the
horizon whose path crosses a frame is drawn at its predicted positions, through the WCS of
each instant (so streaks have the length and rate the orbit gives: ``v x EXPTIME``, the next
one ``v x cadence`` later; GEO objects stay put in stare mode). In target mode the mount
follows the catalogue object nearest ``(ra, dec)`` at the start (or ``follow``): the
pointing's motion is that object's mean motion over the sequence, plus the following error.

``unknown`` adds objects absent from the catalogue, on circular orbits that pass through the
field at mid-sequence: LEO or MEO with a random direction (sidereal, target), inclined
geosynchronous (stare: drifting slowly like a GEO object). Their NORAD id in the ground
truth is 0; identification must call them UCT. Not modelled: whether an object is sunlit,
its brightness from its size and phase (each object draws an SNR from the scene's range).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from astropy.time import Time, TimeDelta

from ..astrometry.catalogue import Catalogue, load_catalogue, observer_gcrs_km, topocentric, vectors_to_sky
from ..astrometry.ephemeris import Site
from ..errors import InputError
from .debris import clip_segment
from .pointing import FollowingError, Pointing

GM_EARTH = 398600.4418  # km^3/s^2
EARTH_ROTATION = 7.2921150e-5  # rad/s, sidereal
GEO_RADIUS = 42164.2  # km


@dataclass(frozen=True)
class SkyObjects:
    """The objects of one sequence: pixel positions (frames, n, 2) at exposure start, middle
    and end (in that instant's WCS), NORAD number (0 = absent from the catalogue), SNR, flux (e-
    of a point, or of one FWHM of streak), width of a streak (px)."""

    norad: np.ndarray
    names: tuple[str, ...]
    start: np.ndarray
    mid: np.ndarray
    end: np.ndarray
    snr: np.ndarray
    flux: np.ndarray
    width: np.ndarray

    def streaks(self, frame: int, shape: tuple[int, int], margin: float, fwhm: float) -> "FrameStreaks":
        """Frame ``frame``'s streaks, cut to the image plus ``margin`` (fast objects cross far outside)."""
        ny, nx = shape
        a, b = self.start[frame], self.end[frame]
        x1, y1, x2, y2, ok = clip_segment(a[:, 0] + margin, a[:, 1] + margin, b[:, 0] + margin, b[:, 1] + margin,
                                          (ny + 2 * margin, nx + 2 * margin))
        x1, y1, x2, y2 = (np.where(ok, v - margin, -1e6) for v in (x1, y1, x2, y2))
        length = np.where(ok, np.hypot(x2 - x1, y2 - y1), 0.0)
        # as [SDT] streaks: the SNR is per FWHM of length, the flux grows with the length drawn
        flux = self.flux * np.maximum(length, fwhm) / fwhm
        return FrameStreaks(x1, y1, x2, y2, np.maximum(length, 1e-3), self.width, flux, self.snr)

    def points(self, frame: int) -> dict[str, np.ndarray]:
        """Ground truth of frame ``frame`` for point targets (mid-exposure; all objects)."""
        return {"x": self.mid[frame, :, 0], "y": self.mid[frame, :, 1]}


@dataclass(frozen=True)
class FrameStreaks:
    """One frame's streaks in the form :func:`debristrack.simulate.debris.draw_debris` draws."""

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    length: np.ndarray
    width: np.ndarray
    flux: np.ndarray
    snr: np.ndarray

    def ends(self, frame: int):
        return self.x1, self.y1, self.x2, self.y2


def scene_site(scene) -> Site:
    if not scene.site:
        raise InputError("simulate --tle needs the observer's --site LAT,LON[,HEIGHT]")
    return Site.parse(scene.site)


def scene_catalogue(scene) -> Catalogue:
    return load_catalogue([p.strip() for p in str(scene.tle).split(",") if p.strip()])


def instants(scene) -> np.ndarray:
    """(frames, 3) seconds after the first start: each exposure's start, middle and end."""
    starts = np.arange(scene.frames) * scene.cadence
    return np.stack([starts, starts + scene.exptime / 2, starts + scene.exptime], axis=1)


def _pixels(pointing: Pointing, secs: np.ndarray, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Pixel positions (..., 2) of sky positions (n, m) at the m instants ``secs``, each in its own WCS."""
    out = np.empty(ra.shape + (2,))
    for j, t in enumerate(secs):
        out[:, j] = np.column_stack(pointing.wcs(float(t)).wcs_world2pix(ra[:, j], dec[:, j], 0))
    return out


def follow_pointing(scene, pointing: Pointing, catalogue: Catalogue, site: Site, rng: np.random.Generator,
                    t0: Time) -> tuple[Pointing, int]:
    """Target mode: the pointing that follows a catalogue object; returns it and the object's index."""
    secs = np.array([0.0, (scene.frames - 1) * scene.cadence + scene.exptime])
    sky = topocentric(catalogue, t0 + TimeDelta(secs, format="sec"), site)
    if scene.follow is not None:
        k = catalogue.index_of(scene.follow)
    else:
        r0, d0 = np.radians(scene.ra), np.radians(scene.dec)
        r, d = np.radians(sky.ra_deg[:, 0]), np.radians(sky.dec_deg[:, 0])
        cos_sep = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(r - r0)
        cos_sep = np.where(sky.ok[:, 0] & (sky.alt_deg[:, 0] > 0), cos_sep, -2.0)
        k = int(np.argmax(cos_sep))
    if not (sky.ok[k].all() and sky.alt_deg[k, 0] > 0):
        raise InputError(f"NORAD {catalogue.norad[k]} is below the horizon at --start-time: nothing to follow")
    ref = dataclasses.replace(pointing, ra=float(sky.ra_deg[k, 0]), dec=float(sky.dec_deg[k, 0]))
    x, y = ref.ref.wcs_world2pix(sky.ra_deg[k], sky.dec_deg[k], 0)
    velocity = ((x[1] - x[0]) / secs[1], (y[1] - y[0]) / secs[1])
    return dataclasses.replace(ref, velocity=velocity, error=FollowingError.draw(scene.following_error, rng)), k


def unknown_orbits(scene, n: int, pointing: Pointing, site: Site, rng: np.random.Generator, t0: Time):
    """(ra, dec) (n, frames * 3) of ``n`` circular orbits absent from the catalogue, through the field."""
    secs = instants(scene).ravel()
    ny, nx = scene.shape
    ras, decs = [], []
    for _ in range(n):
        # the orbit passes a random point of the field in the middle of a random exposure
        t_pass = float(instants(scene)[int(rng.integers(scene.frames)), 1])
        times = t0 + TimeDelta(np.append(secs, t_pass), format="sec")
        obs, up = observer_gcrs_km(site, times)
        o_mid = obs[:, -1]
        px = rng.uniform(0.15, 0.85, 2) * np.array([nx - 1, ny - 1])
        ra, dec = pointing.wcs(t_pass).wcs_pix2world([px[0]], [px[1]], 0)
        u = np.array([math.cos(math.radians(dec[0])) * math.cos(math.radians(ra[0])),
                      math.cos(math.radians(dec[0])) * math.sin(math.radians(ra[0])), math.sin(math.radians(dec[0]))])
        if scene.mode == "stare":
            radius = GEO_RADIUS
        else:  # LEO or MEO
            radius = rng.uniform(7000.0, 8500.0) if rng.random() < 0.5 else rng.uniform(20000.0, 30000.0)
        b = float(o_mid @ u)
        disc = b * b - float(o_mid @ o_mid) + radius**2
        rho = -b + math.sqrt(disc)  # the far root is the one in front of the observer
        r = o_mid + rho * u
        e1 = r / np.linalg.norm(r)
        if scene.mode == "stare":
            # inclined geosynchronous: co-rotating east-west, the rest north or south
            omega = np.array([0.0, 0.0, EARTH_ROTATION])
            east = np.cross(omega, r)
            q = np.cross(e1, east / np.linalg.norm(east))
            sin_lat = e1[2]
            v = east + rng.choice([-1.0, 1.0]) * EARTH_ROTATION * radius * abs(sin_lat) * q
            rate = EARTH_ROTATION
        else:
            a = rng.normal(size=3)
            v = a - (a @ e1) * e1
            rate = math.sqrt(GM_EARTH / radius**3)
        e2 = v / np.linalg.norm(v)
        tau = (times - times[-1]).to_value("day")
        phase = rate * tau * 86400.0
        pos = radius * (np.cos(phase)[:, None] * e1 + np.sin(phase)[:, None] * e2)
        ra_u, dec_u, _, _ = vectors_to_sky((pos - obs.T)[None], up)
        ras.append(ra_u[0, :-1])
        decs.append(dec_u[0, :-1])
    return np.array(ras).reshape(n, -1), np.array(decs).reshape(n, -1)


def plan_catalogue_objects(scene, pointing: Pointing, rng: np.random.Generator, *,
                           flux_for_snr) -> tuple[SkyObjects, Pointing]:
    """The catalogue objects crossing the field (and the unknowns), and the pointing (target mode).

    ``flux_for_snr``: (n,) SNR -> flux (e-) of a point source (or of one FWHM of streak).
    """
    catalogue = scene_catalogue(scene)
    site = scene_site(scene)
    t0 = Time(scene.start_time, format="isot", scale="utc")
    followed = None
    if scene.mode == "target":
        pointing, followed = follow_pointing(scene, pointing, catalogue, site, rng, t0)
    secs = instants(scene)
    sky = topocentric(catalogue, t0 + TimeDelta(secs.ravel(), format="sec"), site)
    # Pre-select objects within 45 deg of the field centre in some instant (a TAN WCS is
    # meaningless far away), then follow each exposure's path in pixels.
    centre = pointing.crval(secs.ravel())
    r0, d0 = np.radians(centre[:, 0]), np.radians(centre[:, 1])
    r, d = np.radians(sky.ra_deg), np.radians(sky.dec_deg)
    cos_sep = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(r - r0)
    near = np.flatnonzero((cos_sep > math.cos(math.radians(45))).all(axis=1) & sky.ok.all(axis=1)
                          & (sky.alt_deg > 0).all(axis=1))
    pix = _pixels(pointing, secs.ravel(), sky.ra_deg[near], sky.dec_deg[near]).reshape(len(near), scene.frames, 3, 2)
    ny, nx = scene.shape
    seen = np.zeros(len(near), bool)
    for f in range(scene.frames):
        a, m, b = pix[:, f, 0], pix[:, f, 1], pix[:, f, 2]
        for p, q in ((a, m), (m, b)):
            *_, ok = clip_segment(p[:, 0], p[:, 1], q[:, 0], q[:, 1], (ny, nx))
            seen |= ok
    keep = near[seen]
    if followed is not None and followed not in keep:
        keep = np.append(keep, followed)
    pix_keep = _pixels(pointing, secs.ravel(), sky.ra_deg[keep], sky.dec_deg[keep]).reshape(len(keep), scene.frames, 3, 2)
    norad = catalogue.norad[keep]
    names = tuple(catalogue.names[i] for i in keep)
    if scene.unknown:
        ra_u, dec_u = unknown_orbits(scene, scene.unknown, pointing, site, rng, t0)
        pix_u = _pixels(pointing, secs.ravel(), ra_u, dec_u).reshape(scene.unknown, scene.frames, 3, 2)
        pix_keep = np.concatenate([pix_keep, pix_u])
        norad = np.concatenate([norad, np.zeros(scene.unknown, np.int64)])
        names = names + ("UNKNOWN",) * scene.unknown
    n = len(norad)
    snr = rng.uniform(scene.snr[0], scene.snr[1], n)
    width = rng.uniform(*scene.width, n) if hasattr(scene, "width") else np.zeros(n)
    pix_keep = pix_keep.transpose(1, 2, 0, 3)  # (frames, 3, n, 2)
    return SkyObjects(norad=np.asarray(norad, np.int64), names=names, start=pix_keep[:, 0], mid=pix_keep[:, 1],
                      end=pix_keep[:, 2], snr=snr, flux=np.asarray(flux_for_snr(snr), float),
                      width=width), pointing
