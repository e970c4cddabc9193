"""A frame's celestial WCS from its header: repaired where astropy can, else the reason why not.

Archives write units wcslib does not parse (``CUNIT1 = 'degree'`` in HSC cutouts) and, now and
then, a CTYPE that names no projection. astropy's WCS ``fix`` repairs many headers but runs
after wcslib has refused such a unit, so a unit that :mod:`astropy.units` understands is
rewritten in its FITS spelling first. What still cannot be read is returned as one line that
names the key, so the user hears "CTYPE1 'RA---XYZ' ..." rather than "no WCS".
"""

from __future__ import annotations

import re
import warnings

from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from ..errors import one_line

_WCSLIB_PREFIX = re.compile(r"ERROR \d+ in \w+\(\) at line \d+ of file \S+:\s*")
_CELESTIAL = re.compile(r"^(RA|DEC|GLON|GLAT|ELON|ELAT)-*", re.IGNORECASE)


def read_wcs(header: fits.Header) -> tuple[WCS | None, str | None]:
    """(celestial WCS, None), or (None, why) when the header has none or a broken one.

    ``why`` is None when the header simply has no WCS keywords (no CTYPE1).
    """
    if not str(header.get("CTYPE1", "")).strip():
        return None, None
    header = _fix_units(header)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception as exc:  # wcslib raises several types on malformed keywords
            keys = " ".join(f"{k}={header[k]!r}" for k in ("CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2") if k in header)
            return None, f"{keys}: {_WCSLIB_PREFIX.sub('', one_line(exc))}"
    if not wcs.has_celestial:
        ctypes = [str(header.get(f"CTYPE{k}", "")).strip() for k in (1, 2)]
        bad = [f"CTYPE{k}={c!r}" for k, c in zip((1, 2), ctypes) if not _CELESTIAL.match(c)]
        return None, f"{' '.join(bad) or 'CTYPE1/CTYPE2'} not a celestial axis pair (RA---TAN/DEC--TAN ...)"
    return wcs, None


def _fix_units(header: fits.Header) -> fits.Header:
    """A copy with CUNIT1/2 in FITS spelling when astropy.units can read them ('degree' -> 'deg')."""
    import astropy.units as u

    fixed = header
    for k in (1, 2):
        key = f"CUNIT{k}"
        value = header.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            unit = u.Unit(value.strip(), parse_strict="raise")
            text = unit.to_string("fits")
        except (ValueError, TypeError):
            continue  # left as it is: wcslib's message will name the key
        if text != value:
            if fixed is header:
                fixed = header.copy()
            fixed[key] = text
    return fixed
