"""Where the telescope points: the TAN WCS of every exposure instant, per observing mode.

- ``sidereal``: the mount tracks the stars, the pointing is fixed.
- ``stare`` ([GEO] sec. 2): the mount is fixed to the Earth, so the RA of the frame centre
  grows at the sidereal rate (15.04 arcsec/s); stars drift towards +x (east is left) at
  15.04 cos(dec) / pixscale px/s.
- ``target`` ([TRK] sec. 3-4): the mount follows a target moving against the stars at
  ``track_rate``; its pointing is the target's sky track plus the following error, so the
  stars move together across the frame and the target stays within the following error.

Times are seconds after the start of the first exposure. Pixel convention: 0-based, x =
column, y = row; the frame centre is ((nx - 1) / 2, (ny - 1) / 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS

from ..geometry import SIDEREAL_RATE


def make_wcs(shape: tuple[int, int], crval: tuple[float, float], pixscale: float) -> WCS:
    """A TAN WCS centred on the frame, north up, east left, ``pixscale`` arcsec/px."""
    ny, nx = shape
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crpix = [(nx - 1) / 2 + 1, (ny - 1) / 2 + 1]  # FITS pixels are 1-based
    w.wcs.cdelt = [-pixscale / 3600.0, pixscale / 3600.0]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.radesys = "ICRS"
    w.wcs.crval = [float(crval[0]) % 360.0, float(crval[1])]
    return w


@dataclass(frozen=True)
class FollowingError:
    """The mount's following error: two sinusoids per axis whose amplitudes sum to at most
    ``peak / sqrt(2)`` per axis, so ``|e(t)| <= peak`` px ([TRK] sec. 3, equivalent sine).

    ``amp``, ``omega`` (rad/s) and ``phase`` are (2, 2): axis x, y by sinusoid.
    """

    amp: np.ndarray
    omega: np.ndarray
    phase: np.ndarray

    @classmethod
    def draw(cls, peak: float, rng: np.random.Generator) -> "FollowingError":
        split = rng.uniform(0.3, 0.7, 2)
        amp = peak / math.sqrt(2.0) * np.column_stack([split, 1.0 - split])
        period = rng.uniform(15.0, 90.0, (2, 2))
        return cls(amp=amp, omega=2 * math.pi / period, phase=rng.uniform(0, 2 * math.pi, (2, 2)))

    def __call__(self, t) -> np.ndarray:
        """Error in px at times ``t`` (s): array (..., 2) of (ex, ey)."""
        t = np.asarray(t, dtype=np.float64)[..., None, None]
        return (self.amp * np.sin(self.omega * t + self.phase)).sum(axis=-1)


@dataclass(frozen=True)
class Pointing:
    """The pointing model of one sequence.

    ``ref`` is the WCS of the first exposure start; ``velocity`` (px/s, in ``ref`` pixels)
    is how the frame centre moves over the sky in target mode; ``error`` the following error.
    """

    mode: str
    shape: tuple[int, int]
    pixscale: float
    ra: float
    dec: float
    velocity: tuple[float, float] = (0.0, 0.0)
    error: FollowingError | None = None

    @property
    def ref(self) -> WCS:
        return make_wcs(self.shape, (self.ra, self.dec), self.pixscale)

    @property
    def centre(self) -> np.ndarray:
        ny, nx = self.shape
        return np.array([(nx - 1) / 2, (ny - 1) / 2])

    def centre_in_ref(self, t) -> np.ndarray:
        """Frame centre at times ``t`` in the pixels of ``ref`` (target mode only), (..., 2).

        The centre moves with the target's sky track and wobbles by the following error.
        """
        t = np.asarray(t, dtype=np.float64)
        pos = self.centre + t[..., None] * np.asarray(self.velocity)
        if self.error is not None:
            pos = pos + self.error(t)
        return pos

    def crval(self, t) -> np.ndarray:
        """(RA, Dec) of the frame centre in degrees at times ``t``, (..., 2)."""
        t = np.asarray(t, dtype=np.float64)
        if self.mode == "sidereal":
            return np.broadcast_to(np.array([self.ra, self.dec]), t.shape + (2,)).copy()
        if self.mode == "stare":
            ra = self.ra + SIDEREAL_RATE / 3600.0 * t
            return np.stack([ra % 360.0, np.full_like(ra, self.dec)], axis=-1)
        pix = self.centre_in_ref(t).reshape(-1, 2)
        world = self.ref.wcs_pix2world(pix, 0)
        return world.reshape(t.shape + (2,))

    def wcs(self, t: float) -> WCS:
        """The TAN WCS of the instant ``t``."""
        return make_wcs(self.shape, tuple(self.crval(t)), self.pixscale)


def make_pointing(scene, rng: np.random.Generator) -> Pointing:
    """The pointing model of ``scene`` (target mode draws its direction and following error)."""
    if scene.mode != "target":
        return Pointing(scene.mode, scene.shape, scene.pixscale, scene.ra, scene.dec)
    angle = rng.uniform(0, 360.0) if scene.track_angle is None else scene.track_angle
    rate = scene.track_rate / scene.pixscale  # px/s of the stars across the frame
    a = math.radians(angle)
    # The target moves against the stars opposite to the stars' apparent motion.
    velocity = (-rate * math.cos(a), -rate * math.sin(a))
    return Pointing("target", scene.shape, scene.pixscale, scene.ra, scene.dec, velocity=velocity,
                    error=FollowingError.draw(scene.following_error, rng))
