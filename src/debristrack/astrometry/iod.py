"""Observer formats of the satobs.org pages: IOD (G. D. Lewis), UK (RGO) and R.D.E. lines.

One measured position per line, written from the published column tables:

- IOD, 80 columns (George D. Lewis, 1998, clarified 2002; the format stvid writes): object
  number and international designator (1-15), station (17-20), sky condition (22), UTC
  date and time to the millisecond (24-40), time uncertainty as mantissa/exponent M*10^(X-8) s
  (42-43), angle format 2 = RA ``HHMMmmm`` / Dec ``+DDMMmm`` and epoch code 5 = J2000 (45-46),
  position (48-61), position uncertainty M*10^(X-8) deg (63-64), optical behaviour (66).
- UK ("RGO" coding of 1973, as posted by D. Brierley): designator in numerical form (1-7),
  station (8-11), date YYMMDD (12-17), time HHMMSSssss (18-27), time accuracy S.ssss
  (28-32), time standard (33), coordinate code 1 = RA ``HHMMSSss`` / Dec ``xDDMMSSs`` and
  accuracy ``SSSs`` arcsec (34-54), epoch 5 = 2000.0 (55), appearance (80).
- R.D.E. (R. D. Eberst's shortened UK format): a header line per station and month
  (site, YYMM, time accuracy T.t, time standard, position code 1 = ``HHMMSS+DDMMSS``,
  accuracy in arcsec, epoch code), a line with the day of month, then one line per position
  (designator 1-7, time ``HHMMSS.ss`` 9-17, position 19-31); ``999`` closes the report.

Uncatalogued objects are numbered as stvid numbers them: object 99999, 99998, ... and a
designator made of the year, the day of year + 500, piece A.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from astropy.time import Time

from ..errors import InputError
from ..io.tables import detections_only
from .export import sky_positions
from .identify import gnomonic

PIECE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # COSPAR pieces skip I and O
SKY_CODES = "EGFPBT"


@dataclass(frozen=True)
class Position:
    """One measured position to report."""

    norad: int
    designator: str  # "98067A" (launch year, launch number, piece)
    time: Time  # UTC
    ra_deg: float  # J2000 / ICRS
    dec_deg: float
    time_sigma_s: float
    position_sigma_deg: float


def mantissa_exponent(value: float) -> str:
    """Two digits MX with value ~ M * 10^(X - 8), M in 1..9 (IOD uncertainties), rounded up."""
    if not value > 0:
        raise ValueError("an uncertainty must be positive")
    for x in range(0, 10):
        m = math.ceil(round(value / 10.0 ** (x - 8), 9))
        if m <= 9:
            return f"{max(m, 1)}{x}"
    return "99"


def split_designator(designator: str) -> tuple[int, int, str]:
    """(launch year 2 digits, launch number, piece letters) of ``"98067A"``."""
    d = designator.strip().replace(" ", "").replace("-", "")
    if len(d) < 6 or not d[:5].isdigit() or not d[5:].isalpha():
        raise InputError(f"international designator {designator!r} is not YYNNNP[PP]")
    return int(d[:2]), int(d[2:5]), d[5:].upper()


def piece_number(piece: str) -> int:
    """COSPAR piece letters as a number: A = 1 ... Z = 24, AA = 25, ... (I and O are not used)."""
    n = 0
    for ch in piece:
        if ch not in PIECE_LETTERS:
            raise InputError(f"piece {piece!r} has a letter COSPAR does not use")
        n = n * 24 + PIECE_LETTERS.index(ch) + 1
    return n


def uct_designator(time: Time) -> str:
    """stvid's designator for an unidentified object: year, day of year + 500, piece A."""
    dt = time.utc.to_datetime()
    return f"{dt.year % 100:02d}{dt.timetuple().tm_yday + 500:03d}A"


def _ra_hm(ra_deg: float, decimals: int) -> tuple[int, int, int]:
    """RA as (hours, minutes, fraction of a minute in units of 10^-decimals), rounded with carry."""
    units = round(ra_deg % 360.0 / 15.0 * 60.0 * 10**decimals) % (24 * 60 * 10**decimals)
    return units // (60 * 10**decimals), (units // 10**decimals) % 60, units % 10**decimals


def _dec_dm(dec_deg: float, decimals: int) -> tuple[str, int, int, int]:
    """Dec as (sign, degrees, arcminutes, fraction of an arcminute in 10^-decimals), rounded with carry."""
    units = round(abs(dec_deg) * 60.0 * 10**decimals)
    return ("-" if dec_deg < 0 else "+"), units // (60 * 10**decimals), (units // 10**decimals) % 60, units % 10**decimals


def _sexagesimal(value: float, decimals: int, wrap: int | None = None) -> tuple[int, int, int, int]:
    """|value| (hours or degrees) as (units, minutes, seconds, fraction of a second in 10^-decimals)."""
    scale = 10**decimals
    total = round(abs(value) * 3600.0 * scale)
    if wrap is not None:
        total %= wrap * 3600 * scale
    return total // (3600 * scale), (total // (60 * scale)) % 60, (total // scale) % 60, total % scale


def _stamp(time: Time, decimals: int) -> str:
    """ISO UTC with ``decimals`` digits of seconds, rounded (astropy carries into the minute, day...)."""
    return Time(time, precision=decimals).utc.isot


def iod_line(p: Position, *, station: str, sky: str = "G", behaviour: str = "S") -> str:
    """One 80-column IOD line (angle format 2, epoch J2000)."""
    if sky not in SKY_CODES:
        raise InputError(f"sky condition must be one of {', '.join(SKY_CODES)}, got {sky!r}")
    year, launch, piece = split_designator(p.designator)
    stamp = _stamp(p.time, 3)
    digits = stamp.replace("-", "").replace("T", "").replace(":", "").replace(".", "")
    hh, mm, frac = _ra_hm(p.ra_deg, 3)
    sign, dd, dm, dfrac = _dec_dm(p.dec_deg, 2)
    obj = f"{p.norad:05d} {year:02d} {launch:03d}{piece:<3s}"
    line = (f"{obj} {station:>4s} {sky} {digits} {mantissa_exponent(p.time_sigma_s)} 25 "
            f"{hh:02d}{mm:02d}{frac:03d}{sign}{dd:02d}{dm:02d}{dfrac:02d} "
            f"{mantissa_exponent(p.position_sigma_deg)} {behaviour}")
    return line.rstrip()


def _piece_columns(designator: str, piece: str) -> str:
    """The 2 piece columns of the UK and R.D.E. formats: the piece number, or letters above 99."""
    n = piece_number(piece)
    if n <= 99:
        return f"{n:02d}"
    if len(piece) == 2:
        return piece
    raise InputError(f"{designator}: a piece of {len(piece)} letters does not fit the 2 columns of the UK/RDE formats")


def uk_line(p: Position, *, station: str, appearance: str = "S") -> str:
    """One 80-column UK (RGO) line, coordinate code 1 (RA HHMMSSss, Dec xDDMMSSs), epoch 2000."""
    year, launch, piece = split_designator(p.designator)
    piece_text = _piece_columns(p.designator, piece)
    stamp = _stamp(p.time, 4)  # "YYYY-MM-DDTHH:MM:SS.ssss", rounded with carry
    date = stamp[2:4] + stamp[5:7] + stamp[8:10]
    clock = stamp[11:13] + stamp[14:16] + stamp[17:19] + stamp[20:24]
    rh, rm, rs, rf = _sexagesimal(p.ra_deg / 15.0, 2, wrap=24)
    dsign = "-" if p.dec_deg < 0 else "+"
    dd, dm, ds, df = _sexagesimal(p.dec_deg, 1)
    t_acc = min(round(p.time_sigma_s * 1e4), 99999)
    a_acc = min(round(p.position_sigma_deg * 3600.0 * 10), 9999)
    line = (f"{year:02d}{launch:03d}{piece_text}{station:>4s}{date}{clock}"
            f"{t_acc:05d}1"  # time standard 1: radio (GPS) time
            f"1{rh:02d}{rm:02d}{rs:02d}{rf:02d}{dsign}{dd:02d}{dm:02d}{ds:02d}{df:01d}{a_acc:04d}5")
    return line.ljust(79) + appearance


def rde_report(positions: list[Position], *, station: str) -> list[str]:
    """R.D.E. lines: per month a header, per day its number, one line per position, then ``999``."""
    if not positions:
        return []
    positions = sorted(positions, key=lambda p: p.time.utc.mjd)
    lines: list[str] = []
    month = day = None
    for p in positions:
        stamp = _stamp(p.time, 2)
        ym, d = stamp[2:4] + stamp[5:7], int(stamp[8:10])
        if ym != month:
            if month is not None:
                lines.append("999")
            month, day = ym, None
            same = [q for q in positions if _stamp(q.time, 2)[2:7].replace("-", "") == ym]
            t_acc = min(max(q.time_sigma_s for q in same), 9.9)
            p_acc = min(round(max(q.position_sigma_deg for q in same) * 3600.0), 999)
            lines.append(f"{station:>4s} {ym} {t_acc:3.1f}11 {p_acc:03d}5")
        if d != day:
            day = d
            lines.append(f"{day:02d}")
        year, launch, piece = split_designator(p.designator)
        piece_text = _piece_columns(p.designator, piece)
        rh, rm, rs, _ = _sexagesimal(p.ra_deg / 15.0, 0, wrap=24)
        dsign = "-" if p.dec_deg < 0 else "+"
        dd, dm, ds, _ = _sexagesimal(p.dec_deg, 0)
        lines.append(f"{year:02d}{launch:03d}{piece_text} {stamp[11:13]}{stamp[14:16]}{stamp[17:22]} "
                     f"{rh:02d}{rm:02d}{rs:02d}{dsign}{dd:02d}{dm:02d}{ds:02d}")
    lines.append("999")
    return lines


def track_scatter_deg(ra, dec, t) -> float:
    """RMS distance (deg) of a track's positions from a straight uniform motion; NaN under 3 rows."""
    if len(t) < 3 or np.ptp(t) <= 0:
        return float("nan")
    c = len(t) // 2
    xi, eta, _ = gnomonic(np.asarray(ra), np.asarray(dec), ra[c], dec[c])
    res = [v - np.polyval(np.polyfit(t, v, 1), t) for v in (xi, eta)]
    # the fit takes 2 of the n degrees of freedom per axis
    return float(np.sqrt((np.sum(res[0] ** 2) + np.sum(res[1] ** 2)) / (2 * (len(t) - 2))))


def positions_from_table(table: Table, *, time_sigma_s: float = 0.1,
                         default_position_sigma_deg: float = 0.0003) -> list[Position]:
    """One Position per measured row of a tracks table identified by ``debristrack identify``.

    Needs ``norad`` (0 = UCT) and ``designator`` columns besides time and sky positions. The
    position uncertainty of a track is its scatter about uniform motion (3 rows or more),
    else ``default_position_sigma_deg``. UCT tracks get stvid's 99999, 99998, ... numbers.
    """
    table = detections_only(table)
    missing = [c for c in ("norad", "designator") if c not in table.colnames]
    if missing:
        raise InputError(f"the tracks table has no {','.join(missing)} column(s): run debristrack identify "
                         "--tracks-out (or track --identify) first")
    ra, dec = sky_positions(table)
    times = Time(list(np.asarray(table["time"]).astype(str)), format="isot", scale="utc")
    ids = np.asarray(table["id"])
    out = []
    uct = 0
    for track_id in np.unique(ids):
        rows = np.flatnonzero((ids == track_id) & np.isfinite(ra) & np.isfinite(dec))
        if not len(rows):
            continue
        rows = rows[np.argsort(times[rows].mjd)]
        secs = (times[rows] - times[rows[0]]).to_value("s")
        sigma = track_scatter_deg(ra[rows], dec[rows], secs)
        # a tracker that smooths its positions scatters less than it measures: never below the floor
        sigma = max(sigma, default_position_sigma_deg) if sigma == sigma else default_position_sigma_deg
        norad = int(table["norad"][rows[0]])
        designator = str(table["designator"][rows[0]]).strip()
        if norad == 0:
            norad, designator = 99999 - uct, uct_designator(times[rows[0]])
            uct += 1
        for r in rows:
            out.append(Position(norad, designator, times[r], float(ra[r]), float(dec[r]), time_sigma_s, sigma))
    return out


def write_observer_formats(table: Table, *, station: str, iod=None, uk=None, rde=None, sky: str = "G",
                           time_sigma_s: float = 0.1, default_position_sigma_deg: float = 0.0003):
    """Write the requested formats of an identified tracks table; yields (format, path, positions)."""
    from ..io.atomic import atomic_write

    if not time_sigma_s > 0 or not default_position_sigma_deg > 0:
        raise InputError("--time-uncertainty and --position-uncertainty must be positive")
    positions = positions_from_table(table, time_sigma_s=time_sigma_s,
                                     default_position_sigma_deg=default_position_sigma_deg)
    if not positions:
        raise InputError("no rows with sky coordinates to export")
    positions.sort(key=lambda p: (p.norad, p.time.utc.mjd))
    writers = (("IOD", iod, lambda: [iod_line(p, station=station, sky=sky) for p in positions]),
               ("UK", uk, lambda: [uk_line(p, station=station) for p in positions]),
               ("RDE", rde, lambda: rde_report(positions, station=station)))
    for fmt, path, lines in writers:
        if path is None:
            continue
        text = "\n".join(lines()) + "\n"
        with atomic_write(path, "w", encoding="ascii") as fh:
            fh.write(text)
        yield fmt, path, len(positions)
