"""Predicted topocentric positions: from a TLE (SGP4, via skyfield) or a tabulated ephemeris.

The prediction ("C" of O-C, [TRK] sec. 5.3) is the astrometric topocentric position of the
object seen from the observer's site at each frame's mid-time: ICRS right ascension and
declination in degrees, and the range in metres. Astrometric, like a star-calibrated WCS:
both are referred to the same catalogue frame, so aberration cancels to first order.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io.fits import Header
from astropy.time import Time

from ..errors import InputError
from ..io.header import site as header_site


@dataclass(frozen=True)
class Site:
    """An observer on the WGS84 ellipsoid: latitude and longitude (deg, east +), height (m)."""

    lat_deg: float
    lon_deg: float
    height_m: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "Site":
        """``"lat,lon,height"`` (degrees, degrees east, metres)."""
        try:
            parts = [float(p) for p in text.split(",")]
        except ValueError:
            parts = []
        if len(parts) not in (2, 3) or not (-90 <= parts[0] <= 90):
            raise InputError(f"--site expects lat,lon[,height] in degrees and metres, got {text!r}")
        return cls(*parts)

    @classmethod
    def from_header(cls, header: Header) -> "Site | None":
        """From the header's site keywords (:func:`debristrack.io.header.site`), if present."""
        loc = header_site(header)
        return None if loc is None else cls(loc.lat_deg, loc.lon_deg, loc.height_m)


@dataclass(frozen=True)
class Prediction:
    """Predicted positions at the requested times: (n,) arrays; ``range_m`` may be None."""

    ra_deg: np.ndarray
    dec_deg: np.ndarray
    range_m: np.ndarray | None


def read_tle_sets(path: str | Path) -> list[tuple[str, str, str]]:
    """Every element set (name, line1, line2) of a TLE file (2- or 3-line form), in file order.

    A 2-line set is named by its NORAD number. The one TLE reader of the package: the catalogue
    (:mod:`debristrack.astrometry.catalogue`) and :func:`read_tle` both use it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such TLE file")
    lines = [ln.rstrip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    sets = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("1 ") and i + 1 < len(lines) and lines[i + 1].startswith("2 "):
            sets.append((lines[i][2:7].strip(), lines[i], lines[i + 1]))
            i += 2
        elif i + 2 < len(lines) and lines[i + 1].startswith("1 ") and lines[i + 2].startswith("2 "):
            name = lines[i][2:].strip() if lines[i].startswith("0 ") else lines[i].strip()
            sets.append((name, lines[i + 1], lines[i + 2]))
            i += 3
        else:
            raise InputError(f"{path}: line {i + 1} is not part of a two-line element set")
    if not sets:
        raise InputError(f"{path}: no two-line element sets")
    return sets


def read_tle(path: str | Path, *, select: str | None = None) -> tuple[str, str, str]:
    """One element set (name, line1, line2) from a TLE file (2- or 3-line form), validated
    (:func:`validate_tle`).

    ``select`` picks the object by name (case-insensitive, exact or prefix) or by NORAD
    catalogue number; without it the file must hold exactly one object.
    """
    path = Path(path)
    tle = _select(path, read_tle_sets(path), select)
    validate_tle(tle, path)
    return tle


def _select(path: Path, sets, select: str | None) -> tuple[str, str, str]:
    if select is None:
        if len(sets) > 1:
            raise InputError(f"{path}: {len(sets)} objects; choose one with --object NAME_OR_NORAD")
        return sets[0]
    key = select.strip().upper()
    for name, l1, l2 in sets:
        if key == l1[2:7].strip().lstrip("0") or key == l1[2:7].strip() or name.upper() == key:
            return name, l1, l2
    for name, l1, l2 in sets:
        if name.upper().startswith(key):
            return name, l1, l2
    raise InputError(f"{path}: no object {select!r}")


# Columns (0-based slices) of the numeric fields of a TLE, from the CelesTrak/NORAD format.
_FIELDS = {1: (("epoch year", 18, 20), ("epoch day", 20, 32), ("mean motion derivative", 33, 43)),
           2: (("inclination", 8, 16), ("RAAN", 17, 25), ("eccentricity", 26, 33),
               ("argument of perigee", 34, 42), ("mean anomaly", 43, 51), ("mean motion", 52, 63))}
EPOCH_WARN_DAYS = 3.0  # SGP4 errors grow by ~1-3 km a day from epoch (Vallado et al. 2006)


def tle_checksum(line: str) -> int:
    """The modulo-10 checksum of a TLE line's first 68 characters (digits, and 1 for each '-')."""
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


def validate_tle(tle: tuple[str, str, str], path: str | Path = "TLE") -> None:
    """Raise :class:`InputError` for a line cut short, a bad checksum, mismatched catalogue
    numbers or a field that is not a number; the message names the file, object and line."""
    name, line1, line2 = tle
    where = f"{path}: {name!r}"
    for k, line in ((1, line1), (2, line2)):
        if len(line) != 69:
            raise InputError(f"{where}: line {k} has {len(line)} characters, a TLE line has 69 (cut short?)")
        if not line[68].isdigit() or int(line[68]) != tle_checksum(line):
            raise InputError(f"{where}: line {k} checksum is {line[68]!r}, the line sums to {tle_checksum(line)}")
        for field_name, a, b in _FIELDS[k]:
            text = line[a:b].strip()
            try:
                float(("0." + text) if field_name == "eccentricity" else text.replace(" ", ""))
            except ValueError:
                raise InputError(f"{where}: line {k} {field_name} (columns {a + 1}-{b}) is not a number: "
                                 f"{line[a:b]!r}") from None
    if line1[2:7] != line2[2:7]:
        raise InputError(f"{where}: catalogue numbers differ: {line1[2:7]!r} on line 1, {line2[2:7]!r} on line 2")


def tle_epoch(tle: tuple[str, str, str]) -> Time:
    """The element set's epoch (UTC): two-digit year (57-99 -> 19xx) and fractional day of year."""
    year = int(tle[1][18:20])
    year += 1900 if year >= 57 else 2000
    day = float(tle[1][20:32])
    return Time(f"{year}-01-01T00:00:00", format="isot", scale="utc") + (day - 1.0) * u.day


def epoch_warning(tle: tuple[str, str, str], times: Time) -> str | None:
    """A warning when the frames lie more than EPOCH_WARN_DAYS from the TLE epoch, else None."""
    epoch = tle_epoch(tle)
    days = float(np.max(np.abs((times - epoch).to_value("day"))))
    if days <= EPOCH_WARN_DAYS:
        return None
    return (f"TLE {tle[0]!r} epoch {epoch.isot[:10]} is {days:,.0f} days from the frames; SGP4 drifts by km a "
            "day from epoch, so the residuals measure the TLE's age more than the astrometry")


def predict_tle(tle: tuple[str, str, str], times: Time, site: Site) -> Prediction:
    """Topocentric astrometric RA/Dec (ICRS) and range of a TLE object seen from ``site``."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    name, line1, line2 = tle
    try:
        sat = EarthSatellite(line1, line2, name, ts)
    except ValueError as exc:
        raise InputError(f"TLE {name!r}: {exc}") from None
    t = ts.from_astropy(times.utc)
    topo = (sat - wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.height_m)).at(t)
    ra, dec, distance = topo.radec()
    return Prediction(np.atleast_1d(ra.degrees), np.atleast_1d(dec.degrees), np.atleast_1d(distance.m))


def read_ephemeris(path: str | Path) -> tuple[Time, np.ndarray, np.ndarray, np.ndarray | None]:
    """A tabulated ephemeris: CSV with ``time`` (ISO UTC), ``ra``, ``dec`` (deg) and optional ``range_km``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such ephemeris file")
    with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's byte-order mark
        reader = csv.DictReader(fh)
        missing = {"time", "ra", "dec"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(f"{path}: missing column(s) {','.join(sorted(missing))}")
        rows = list(reader)
    if len(rows) < 2:
        raise InputError(f"{path}: an ephemeris needs at least 2 rows")
    try:
        t = Time([r["time"] for r in rows], format="isot", scale="utc")
        ra = np.array([float(r["ra"]) for r in rows])
        dec = np.array([float(r["dec"]) for r in rows])
        rng = np.array([float(r["range_km"]) * 1e3 for r in rows]) if "range_km" in rows[0] else None
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
    order = np.argsort(t.mjd)
    return t[order], ra[order], dec[order], None if rng is None else rng[order]


def interpolate_ephemeris(eph, times: Time) -> Prediction:
    """Linear interpolation of a tabulated ephemeris on the unit sphere (safe across RA = 0)."""
    t_tab, ra, dec, rng = eph
    x = times.mjd
    if x.min() < t_tab.mjd[0] or x.max() > t_tab.mjd[-1]:
        raise InputError("the track's times lie outside the ephemeris' time span")
    r, d = np.radians(ra), np.radians(dec)
    vec = np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])
    v = np.stack([np.interp(x, t_tab.mjd, c) for c in vec])
    v /= np.linalg.norm(v, axis=0)
    ra_i = np.degrees(np.arctan2(v[1], v[0])) % 360.0
    dec_i = np.degrees(np.arcsin(np.clip(v[2], -1, 1)))
    rng_i = None if rng is None else np.interp(x, t_tab.mjd, rng)
    return Prediction(ra_i, dec_i, rng_i)
