"""Frame times from FITS headers: exposure start, mid-time and end.

DESIGN.md: frames carry the start of their exposure (DATE-OBS); the mid-time is start +
EXPTIME/2, in UTC. The keywords are those of :mod:`debristrack.io.header`. Real headers spell
the start in several ways; we accept the ones seen in archives:

- ISO 8601 ``2020-11-20T01:04:29.222`` (the FITS standard), in ``DATE-OBS`` or ``DATE-BEG``;
- a date alone ``2021-12-12`` with the clock time in ``TIME-OBS``, ``UT`` or ``UTSTART``;
- the pre-2000 FITS form ``dd/mm/yy`` (years since 1900; ``26/07/102`` is 2002-07-26);
- ``MJD-OBS`` (or ``MJD-BEG``) when no date is present.

A mid-time written by the capture program (``DATE-AVG``, ``MIDPOINT``, ``MJD-AVG``) is used
when it lies in the middle half of the exposure (a flux-weighted mid-time does; SharpCap 4.1
writes DATE-AVG 0.7 ms after DATE-OBS for a 20 s exposure: that is not a mid-time and is
ignored). ``offset`` (seconds, ``--time-offset``) is added to every time: capture programs
stamp the moment they commanded the exposure, and a camera's shutter opens a known latency
later.
"""

from __future__ import annotations

import re

from astropy.io.fits import Header
from astropy.time import Time, TimeDelta

from .header import (END_KEYS, END_MJD_KEYS, EXPTIME_KEYS, MID_KEYS, MID_MJD_KEYS, START_KEYS, START_MJD_KEYS,
                     exposure_time, number)

__all__ = ["EXPTIME_KEYS", "exposure_time", "start_time", "mid_time", "end_time"]

CLOCK_KEYS = ("TIME-OBS", "UT", "UTSTART", "UT-START")

_OLD_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{2,3})\s*$")
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def _date(header: Header, key: str, *, clock: bool) -> Time | None:
    date = header.get(key)
    if not isinstance(date, str) or not date.strip():
        return None
    date = date.strip()
    old = _OLD_DATE.match(date)
    if old:
        day, month, year = (int(g) for g in old.groups())
        date = f"{1900 + year:04d}-{month:02d}-{day:02d}"
    if _ISO_DATE.match(date):
        if not clock:
            return None
        text = next((header[k] for k in CLOCK_KEYS if isinstance(header.get(k), str)), None)
        date = f"{date}T{text.strip()}" if text else f"{date}T00:00:00"
    try:
        return Time(date.replace(" ", "T"), format="isot", scale="utc")
    except ValueError:
        return None


def _first_time(header: Header, date_keys, mjd_keys, *, clock: bool = False) -> Time | None:
    for key in date_keys:
        t = _date(header, key, clock=clock)
        if t is not None:
            return t
    for key in mjd_keys:
        mjd = number(header, key)
        if mjd is not None:
            return Time(mjd, format="mjd", scale="utc")
    return None


def _shift(t: Time | None, offset: float) -> Time | None:
    return t if t is None or not offset else t + TimeDelta(offset, format="sec")


def start_time(header: Header, offset: float = 0.0) -> Time | None:
    """Start of exposure (UTC) from the header (plus ``offset`` s), or None if no usable date."""
    return _shift(_first_time(header, START_KEYS, START_MJD_KEYS, clock=True), offset)


def end_time(header: Header, offset: float = 0.0) -> Time | None:
    """End of exposure: DATE-END/MJD-END when after the start, else start + EXPTIME."""
    start = start_time(header)
    if start is None:
        return None
    end = _first_time(header, END_KEYS, END_MJD_KEYS)
    if end is None or end <= start:
        end = start + TimeDelta(exposure_time(header) or 0.0, format="sec")
    return _shift(end, offset)


def mid_time(header: Header, offset: float = 0.0) -> Time | None:
    """Mid-exposure: DATE-AVG/MIDPOINT/MJD-AVG when in the middle half, else start + EXPTIME/2."""
    start = start_time(header)
    if start is None:
        return None
    exptime = exposure_time(header) or 0.0
    mid = _first_time(header, MID_KEYS, MID_MJD_KEYS)
    if mid is None or not 0.25 * exptime <= (mid - start).to_value("s") <= 0.75 * exptime or not exptime:
        mid = start + TimeDelta(exptime / 2.0, format="sec")
    return _shift(mid, offset)


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
