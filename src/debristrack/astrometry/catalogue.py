"""A TLE catalogue propagated all at once: topocentric RA/Dec of every object at many times.

The whole catalogue goes through sgp4's vectorised ``SatrecArray`` in one call (C++ loop
over objects x times); skyfield supplies the frames: its TEME -> GCRS rotation (the one
``EarthSatellite`` uses) and the observer's GCRS position on the WGS84 ellipsoid. Positions
are geometric topocentric directions in GCRS axes, i.e. the same astrometric ICRS RA/Dec as
:func:`debristrack.astrometry.ephemeris.predict_tle` (no light time, no aberration), so the
two agree to well below a milliarcsecond.

TLE text is parsed in one place, :func:`debristrack.astrometry.ephemeris.read_tle_sets`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.time import Time

from ..errors import InputError
from .ephemeris import Site, read_tle_sets


@dataclass(frozen=True)
class Catalogue:
    """Element sets of n objects, in load order (one per NORAD number: the latest epoch)."""

    norad: np.ndarray  # (n,) int
    names: tuple[str, ...]
    designators: tuple[str, ...]  # international designator of TLE line 1, e.g. "98067A"
    lines: tuple[tuple[str, str], ...]
    satrecs: tuple = field(repr=False)
    _array: object = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.norad)

    @property
    def array(self):
        """The sgp4 ``SatrecArray`` of all objects (built once)."""
        if self._array is None:
            from sgp4.api import SatrecArray

            object.__setattr__(self, "_array", SatrecArray(list(self.satrecs)))
        return self._array

    def subset(self, index) -> "Catalogue":
        index = np.atleast_1d(np.asarray(index, dtype=int))
        return Catalogue(self.norad[index], tuple(self.names[i] for i in index),
                         tuple(self.designators[i] for i in index), tuple(self.lines[i] for i in index),
                         tuple(self.satrecs[i] for i in index))

    def index_of(self, norad: int) -> int:
        hits = np.flatnonzero(self.norad == int(norad))
        if not len(hits):
            raise InputError(f"NORAD {norad} is not in the catalogue")
        return int(hits[0])


def catalogue_from_sets(sets: list[tuple[str, str, str]], *, source: str = "catalogue") -> Catalogue:
    """A catalogue from (name, line1, line2) sets; a NORAD number seen twice keeps its latest epoch."""
    from sgp4.api import SGP4_ERRORS, Satrec

    best: dict[int, tuple[float, str, str, str, object]] = {}
    for name, l1, l2 in sets:
        try:
            sat = Satrec.twoline2rv(l1, l2)
        except Exception as exc:  # sgp4 raises ValueError (and others) on malformed lines
            raise InputError(f"{source}: TLE {name!r}: {exc}") from None
        if sat.error:  # sgp4's own initialisation check (e.g. a negative mean motion)
            raise InputError(f"{source}: TLE {name!r}: SGP4 cannot use it ({SGP4_ERRORS.get(sat.error, sat.error)})")
        epoch = sat.jdsatepoch + sat.jdsatepochF
        if sat.satnum not in best or epoch > best[sat.satnum][0]:
            best[sat.satnum] = (epoch, name, l1, l2, sat)
    if not best:
        raise InputError(f"{source}: no element sets")
    rows = list(best.items())
    return Catalogue(np.array([k for k, _ in rows], dtype=np.int64), tuple(v[1] for _, v in rows),
                     tuple(v[2][9:17].strip() for _, v in rows), tuple((v[2], v[3]) for _, v in rows),
                     tuple(v[4] for _, v in rows))


def load_catalogue(paths) -> Catalogue:
    """Read one or more TLE files into one catalogue."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise InputError("give at least one TLE file (--tle FILE)")
    sets = []
    for p in paths:
        sets += read_tle_sets(p)
    return catalogue_from_sets(sets, source=", ".join(map(str, paths)))


@functools.lru_cache(maxsize=1)
def _timescale():
    from skyfield.api import load

    return load.timescale(builtin=True)


def skyfield_times(times: Time):
    return _timescale().from_astropy(times.utc)


def observer_gcrs_km(site: Site, times: Time) -> tuple[np.ndarray, np.ndarray]:
    """(position (3, m) km, unit local vertical (3, m)) of the observer in GCRS axes."""
    from skyfield.api import wgs84

    t = skyfield_times(times)
    pos = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.height_m).at(t).position.km
    above = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.height_m + 1000.0).at(t).position.km
    up = above - pos
    return np.atleast_2d(pos.T).T.reshape(3, -1), (up / np.linalg.norm(up, axis=0)).reshape(3, -1)


@dataclass(frozen=True)
class SkyPositions:
    """Topocentric positions of n objects at m times: (n, m) arrays; ``ok`` False where SGP4 failed."""

    ra_deg: np.ndarray
    dec_deg: np.ndarray
    range_km: np.ndarray
    alt_deg: np.ndarray
    ok: np.ndarray


def vectors_to_sky(topo: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, ...]:
    """(ra, dec, range, altitude) of topocentric GCRS vectors ``topo`` (..., m, 3) km."""
    rng = np.linalg.norm(topo, axis=-1)
    unit = topo / rng[..., None]
    ra = np.degrees(np.arctan2(unit[..., 1], unit[..., 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(unit[..., 2], -1, 1)))
    alt = np.degrees(np.arcsin(np.clip(np.einsum("...mi,im->...m", unit, up), -1, 1)))
    return ra, dec, rng, alt


def topocentric(catalogue: Catalogue, times: Time, site: Site) -> SkyPositions:
    """RA/Dec (ICRS deg), range (km) and altitude (deg) of every object at every time, at once."""
    from skyfield.sgp4lib import TEME

    times = Time(np.atleast_1d(times.utc.jd1), np.atleast_1d(times.utc.jd2), format="jd", scale="utc")
    # SGP4 takes the UTC Julian date split in two (AIAA 2006-6753), as skyfield passes it.
    err, r_teme, _ = catalogue.array.sgp4(np.asarray(times.jd1, float), np.asarray(times.jd2, float))
    t = skyfield_times(times)
    rot = TEME.rotation_at(t)  # (3, 3, m): GCRS -> TEME; its transpose takes TEME to GCRS
    if rot.ndim == 2:
        rot = rot[:, :, None]
    r_gcrs = np.einsum("jim,nmj->nmi", rot, r_teme)
    obs, up = observer_gcrs_km(site, times)
    ra, dec, rng, alt = vectors_to_sky(r_gcrs - obs.T[None], up)
    ok = (err == 0) & np.isfinite(rng)
    return SkyPositions(ra, dec, rng, alt, ok)


def tle_checksum(line: str) -> int:
    """The modulo-10 checksum of a TLE line's first 68 columns (digits count, '-' counts 1)."""
    return sum(int(ch) if ch.isdigit() else (1 if ch == "-" else 0) for ch in line[:68]) % 10


def shifted_elements(line1: str, line2: str, *, raan_deg: float = 0.0, mean_anomaly_deg: float = 0.0,
                     norad: int | None = None) -> tuple[str, str]:
    """The same element set with its RAAN and mean anomaly turned (and a new NORAD number).

    Line 2 columns 18-25 (RAAN) and 44-51 (mean anomaly), checksums recomputed: used to build
    large test catalogues from real ones and to perturb a TLE by a known amount.
    """
    raan = (float(line2[17:25]) + raan_deg) % 360.0
    ma = (float(line2[43:51]) + mean_anomaly_deg) % 360.0
    l1, l2 = line1[:68], line2[:68]
    l2 = f"{l2[:17]}{raan:8.4f}{l2[25:43]}{ma:8.4f}{l2[51:]}"
    if norad is not None:
        num = f"{norad:05d}" if norad < 100000 else None
        if num is None:
            raise ValueError("NORAD numbers above 99999 do not fit a TLE")
        l1, l2 = f"{l1[:2]}{num}{l1[7:]}", f"{l2[:2]}{num}{l2[7:]}"
    return f"{l1}{tle_checksum(l1)}", f"{l2}{tle_checksum(l2)}"
