"""Header adapters: one table of the keywords that capture programs and archives write.

Every quantity the tool reads from a header is looked up here, in the order of ``KEYS``
(the first keyword present with a usable value wins). README "Real observatory inputs" has the
same table and which capture programs write which keywords.

========== ============================================== ======================================
quantity   keywords, in order                             form
========== ============================================== ======================================
exposure   EXPTIME, EXPOSURE, EXP_TIME, ITIME, TEXP       seconds
start      DATE-OBS (+ TIME-OBS/UT/UTSTART), DATE-BEG,    ISO 8601 UTC; MJD
           DATE_OBS, MJD-OBS, MJD-BEG, MJD_OBS
mid        DATE-AVG, MIDPOINT, MJD-AVG                    used only in the middle half
end        DATE-END, MJD-END                              else start + exposure
site       OBSGEO-B/L/H, OBSGEO-X/Y/Z, SITELAT/SITELONG/  degrees (number or 'd m s'), east
           SITEELEV, OBSLAT/OBSLONG/OBSALT, LAT-OBS/      positive; metres. OBSGEO-X/Y/Z are
           LONG-OBS/ALT-OBS, OBS-LAT/OBS-LONG/OBS-ELEV,   ITRS metres; EPOS2_1/2/3 (NEOSSat)
           LATITUDE/LONGITUD/ALTITUDE, EPOS2_1/2/3        ECEF km at mid-exposure
pointing   OBJCTRA/OBJCTDEC, RA/DEC, TELRA/TELDEC,        RA in hours as text ('12 10 09.0',
           RA_OBS/DEC_OBS                                 '12:10:09'), in degrees as a number
gain       EGAIN, GAIN                                    e-/ADU (see :func:`gain`)
read noise RDNOISE, READNOIS, RON                         electrons
plate scale PIXSCALE, PIXSCAL1, SECPIX, SCALE; CD1_1..    arcsec/px; XPIXSZ is the binned pixel
           CD2_2; XPIXSZ (um) / FOCALLEN (mm)             (MaxIm DL/SBFITSEXT convention)
========== ============================================== ======================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from astropy.io.fits import Header

EXPTIME_KEYS = ("EXPTIME", "EXPOSURE", "EXP_TIME", "ITIME", "TEXP")
START_KEYS = ("DATE-OBS", "DATE-BEG", "DATE_OBS")  # DATE_OBS: LBC
START_MJD_KEYS = ("MJD-OBS", "MJD-BEG", "MJD_OBS")
MID_KEYS = ("DATE-AVG", "MIDPOINT")
MID_MJD_KEYS = ("MJD-AVG",)
END_KEYS = ("DATE-END",)
END_MJD_KEYS = ("MJD-END",)
# Geodetic (lat, lon, height) or geocentric (x, y, z, metres per unit) keyword sets, in order.
SITE_KEYS = (("OBSGEO-B", "OBSGEO-L", "OBSGEO-H"), ("OBSGEO-X", "OBSGEO-Y", "OBSGEO-Z", 1.0),
             ("SITELAT", "SITELONG", "SITEELEV"), ("OBSLAT", "OBSLONG", "OBSALT"),
             ("LAT-OBS", "LONG-OBS", "ALT-OBS"), ("OBS-LAT", "OBS-LONG", "OBS-ELEV"),
             ("LATITUDE", "LONGITUD", "ALTITUDE"), ("EPOS2_1", "EPOS2_2", "EPOS2_3", 1000.0))
POINTING_KEYS = (("OBJCTRA", "OBJCTDEC"), ("RA", "DEC"), ("TELRA", "TELDEC"), ("RA_OBS", "DEC_OBS"))
GAIN_KEYS = ("EGAIN", "GAIN")
READ_NOISE_KEYS = ("RDNOISE", "READNOIS", "RON")
PLATE_SCALE_KEYS = ("PIXSCALE", "PIXSCAL1", "SECPIX", "SCALE")
# Capture programs for CMOS cameras write GAIN as the camera's gain setting (0-600), not e-/ADU.
CMOS_PROGRAMS = ("SHARPCAP", "N.I.N.A", "NINA", "SEESTAR", "ASIAIR", "ZWO", "DWARF", "APT", "SEQUENCE GENERATOR",
                 "KSTARS", "EKOS", "FIRECAPTURE")

_FIELDS = re.compile(r"[\s:dhms'\"]+")


def number(header: Header, key: str) -> float | None:
    """A header value as a finite float (numbers and numeric strings like ``'1.10'``), else None."""
    value = header.get(key)
    if isinstance(value, bool) or value is None:
        return None
    try:
        value = float(str(value).strip()) if isinstance(value, str) else float(value)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def parse_angle(value, *, hours: bool = False) -> float | None:
    """Degrees from a number or sexagesimal text (``'-21 35 56.5'``, ``'12:10:09.0'``, ``'+46:52:00.4'``).

    ``hours``: sexagesimal text is in hours (right ascension) and is multiplied by 15; numbers,
    and numbers written as text, are always degrees (every program that writes RA as a number
    writes degrees).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if np.isfinite(value) else None
    text = str(value).strip()
    try:
        return float(text)  # a number written as text is degrees
    except ValueError:
        pass
    sign = -1.0 if text.startswith("-") else 1.0
    fields = [f for f in _FIELDS.split(text.lstrip("+-").strip()) if f]
    if len(fields) == 4 and fields[3].isdigit():  # PRISM: '-22:57:08:99' is 08.99 seconds
        fields = [fields[0], fields[1], f"{fields[2]}.{fields[3]}"]
    if not 1 <= len(fields) <= 3:
        return None
    try:
        parts = [float(f) for f in fields] + [0.0] * (3 - len(fields))
    except ValueError:
        return None
    angle = sign * (parts[0] + parts[1] / 60.0 + parts[2] / 3600.0)
    return angle * 15.0 if hours else angle


@dataclass(frozen=True)
class SiteLocation:
    """Geodetic site: latitude, east longitude (degrees), height (m); and the keywords it came from."""

    lat_deg: float
    lon_deg: float
    height_m: float
    source: str


def site(header: Header) -> SiteLocation | None:
    """The observer's location from the first complete keyword set of ``SITE_KEYS``."""
    for keys in SITE_KEYS:
        loc = _geocentric(header, *keys) if len(keys) == 4 else _geodetic(header, *keys)
        if loc is not None:
            return loc
    return None


def _geodetic(header: Header, lat_k: str, lon_k: str, h_k: str) -> SiteLocation | None:
    lat, lon = parse_angle(header.get(lat_k)), parse_angle(header.get(lon_k))
    if lat is None or lon is None or not -90 <= lat <= 90:
        return None
    h = number(header, h_k)
    return SiteLocation(lat, (lon + 180.0) % 360.0 - 180.0, h if h is not None else 0.0, f"{lat_k}/{lon_k}")


def _geocentric(header: Header, x_k: str, y_k: str, z_k: str, scale: float) -> SiteLocation | None:
    xyz = [number(header, k) for k in (x_k, y_k, z_k)]
    if any(v is None for v in xyz) or np.hypot(xyz[0], xyz[1]) == 0:
        return None
    import astropy.units as u
    from astropy.coordinates import EarthLocation
    lon, lat, h = EarthLocation.from_geocentric(*(np.array(xyz) * scale), unit=u.m).to_geodetic("WGS84")
    return SiteLocation(float(lat.deg), float(lon.deg), float(h.to_value(u.m)), f"{x_k}/{y_k}/{z_k}")


def pointing(header: Header) -> tuple[float, float, str] | None:
    """(RA, Dec) in degrees where the telescope pointed, and the keywords, or None.

    Text RA is in hours (``'12 10 09.0'``); a number is degrees (N.I.N.A., Seestar, SDSS).
    """
    for ra_k, dec_k in POINTING_KEYS:
        ra_v, dec_v = header.get(ra_k), header.get(dec_k)
        if ra_v is None or dec_v is None:
            continue
        ra = parse_angle(ra_v, hours=True)
        dec = parse_angle(dec_v)
        if ra is None or dec is None or not (0 <= ra < 360 and -90 <= dec <= 90):
            continue
        return ra, dec, f"{ra_k}/{dec_k}"
    return None


def exposure_time(header: Header) -> float | None:
    """Exposure in seconds from the first of ``EXPTIME_KEYS`` with a value >= 0, else None."""
    for key in EXPTIME_KEYS:
        value = number(header, key)
        if value is not None and value >= 0:
            return value
    return None


def _program(header: Header) -> str:
    return " ".join(str(header.get(k, "")) for k in ("SWCREATE", "CREATOR", "PROGRAM", "ORIGIN")).upper()


def gain(header: Header) -> float | None:
    """Electrons per ADU: ``EGAIN``, else ``GAIN`` unless a CMOS capture program wrote the file.

    Observatory headers (NOAO, NEOSSat, LBC, ccdproc) give e-/ADU in GAIN; SharpCap, N.I.N.A.,
    ASIAIR and the Seestar write the camera's gain *setting* there (45, 80, 120), not e-/ADU.
    """
    value = number(header, "EGAIN")
    if value is not None and value > 0:
        return value
    value = number(header, "GAIN")
    if value is None or value <= 0 or any(p in _program(header) for p in CMOS_PROGRAMS):
        return None
    return value


def read_noise(header: Header) -> float | None:
    """Read noise in electrons from ``READ_NOISE_KEYS``, else None."""
    for key in READ_NOISE_KEYS:
        value = number(header, key)
        if value is not None and value > 0:
            return value
    return None


def plate_scale(header: Header) -> float | None:
    """Arcsec per pixel from a scale keyword, else the CD matrix, else the binned pixel size over
    the focal length.

    ``FOCALLEN`` below 10 mm is taken as unset (SharpCap writes 1, MaxIm DL 0).
    """
    for key in PLATE_SCALE_KEYS:
        value = number(header, key)
        if value is not None and 0 < value < 3600:
            return value
    cd = [number(header, k) for k in ("CD1_1", "CD1_2", "CD2_1", "CD2_2")]
    if all(v is not None for v in cd) and abs(cd[0] * cd[3] - cd[1] * cd[2]) > 0:  # a WCS astropy cannot read
        return float(np.sqrt(abs(cd[0] * cd[3] - cd[1] * cd[2])) * 3600.0)
    pixel_um, focal_mm = number(header, "XPIXSZ"), number(header, "FOCALLEN")
    if pixel_um and focal_mm and pixel_um > 0 and focal_mm >= 10:
        return 206.264806 * pixel_um / focal_mm  # arcsec per radian x um / mm / 1000
    return None


# WCSNAME values or comments that mark a WCS as the telescope's pointing, not a fit to stars
# (NEOSSat: "Est. based on spacecraft attitude determination").
_POINTING_WORDS = ("ATTITUDE", "EST.", "ESTIMATE", "POINTING", "NOMINAL", "APPROX", "MOUNT")


def wcs_kind(header: Header) -> str:
    """``"none"``, ``"pointing"`` (a celestial WCS from the mount or attitude only, one with a
    degenerate matrix, or one astropy cannot read) or ``"solved"``: whether the header's WCS can
    be trusted for stars."""
    import warnings

    from astropy.wcs import WCS

    if not str(header.get("CTYPE1", "")).strip():
        return "none"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wcs = WCS(header, naxis=2)
        except Exception:  # astropy raises several types on malformed WCS keywords
            celestial = str(header.get("CTYPE1", "")).upper().startswith(("RA", "GLON", "ELON"))
            return "pointing" if celestial else "none"
    if not wcs.has_celestial:
        return "none"
    m = wcs.celestial.pixel_scale_matrix
    if not np.all(np.isfinite(m)) or abs(np.linalg.det(m)) < 1e-20:
        return "pointing"
    text = f"{header.get('WCSNAME', '')} {header.comments['WCSNAME'] if 'WCSNAME' in header else ''}".upper()
    return "pointing" if any(w in text for w in _POINTING_WORDS) else "solved"
