"""Frame times from FITS headers: exposure start (DATE-OBS), exposure (EXPTIME), mid-time.

DESIGN.md: a frame's mid-time is DATE-OBS + EXPTIME/2, in UTC. Real headers spell the start
in several ways; we accept the ones seen in archives:

- ISO 8601 ``2020-11-20T01:04:29.222`` (the FITS standard);
- a date alone ``2021-12-12`` with the clock time in ``TIME-OBS``, ``UT`` or ``UTSTART``;
- the pre-2000 FITS form ``dd/mm/yy`` (years since 1900; ``26/07/102`` is 2002-07-26);
- ``MJD-OBS`` when no DATE-OBS is present.
"""

from __future__ import annotations

import re

from astropy.io.fits import Header
from astropy.time import Time, TimeDelta

EXPTIME_KEYS = ("EXPTIME", "EXPOSURE", "ITIME", "TEXP")
CLOCK_KEYS = ("TIME-OBS", "UT", "UTSTART", "UT-START")

_OLD_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{2,3})\s*$")
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def exposure_time(header: Header) -> float | None:
    """Exposure in seconds from EXPTIME (or EXPOSURE, ITIME, TEXP), None if absent or invalid."""
    for key in EXPTIME_KEYS:
        value = header.get(key)
        if value is None:
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if value >= 0:
            return value
    return None


def start_time(header: Header) -> Time | None:
    """Start of exposure (UTC) from the header, or None if no usable date is given."""
    date = header.get("DATE-OBS")
    if isinstance(date, str) and date.strip():
        date = date.strip()
        old = _OLD_DATE.match(date)
        if old:
            day, month, year = (int(g) for g in old.groups())
            date = f"{1900 + year:04d}-{month:02d}-{day:02d}"
        if _ISO_DATE.match(date):
            clock = next((header[k] for k in CLOCK_KEYS if isinstance(header.get(k), str)), None)
            date = f"{date}T{clock.strip()}" if clock else f"{date}T00:00:00"
        try:
            return Time(date.replace(" ", "T"), format="isot", scale="utc")
        except ValueError:
            pass
    mjd = header.get("MJD-OBS")
    if mjd is not None:
        try:
            return Time(float(mjd), format="mjd", scale="utc")
        except (TypeError, ValueError):
            return None
    return None


def mid_time(header: Header) -> Time | None:
    """Mid-exposure time: start + EXPTIME/2 (start alone when EXPTIME is missing)."""
    start = start_time(header)
    if start is None:
        return None
    exptime = exposure_time(header) or 0.0
    return start + TimeDelta(exptime / 2.0, format="sec")


def time_problem(header: Header) -> str | None:
    """Why :func:`start_time` gives None for this header ("DATE-OBS='...' is not a date"), else None."""
    if start_time(header) is not None:
        return None
    date, mjd = header.get("DATE-OBS"), header.get("MJD-OBS")
    if date is not None and str(date).strip():
        return f"DATE-OBS={date!r} is not an ISO 8601 date (like 2020-11-20T01:04:29.2)"
    if mjd is not None:
        return f"MJD-OBS={mjd!r} is not a number"
    return "no DATE-OBS (or MJD-OBS) keyword"
