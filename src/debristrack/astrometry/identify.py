"""Which catalogue object is a track? Identification against a whole TLE catalogue.

For each track with sky positions and times, every object of the catalogue is propagated at
the track's times in one vectorised call (:func:`debristrack.astrometry.catalogue.topocentric`),
and compared with the track in the tangent plane at the track's centre, stvid's way
(cbassa/stvid: a prediction matches when the cross-track offset is < 0.1 deg, the along-track
offset < 2 s of the predicted motion, the direction within 2 deg and the rate within 5 %):

- cross-track offset: the observed position's distance from the predicted path (deg);
- along-track time offset: how much later (> 0) or earlier the prediction reaches the
  observed position than the observation time (s). For a streak, the observed segment is
  compared with the predicted path over the exposure: a streak clipped by the frame edge
  only has to lie inside the predicted exposure path, the offset is the least shift that
  puts it there (0 when it fits);
- direction: angle between the measured and predicted motion on the sky (deg); a track of
  one streak has no sign of motion, so it is compared modulo 180 deg;
- rate: measured / predicted angular rate - 1. One streak measures only a lower bound of the
  rate (its length over the exposure; the frame edge may clip it): it must not exceed the
  prediction by more than the tolerance.

A short track measures its direction and rate poorly: those two tests widen to 3 sigma of
what the track's extent allows for positions good to ``position_sigma`` when that is wider
than stvid's numbers (a 30" streak measured to 2" has a direction good to ~5 deg). A track of
one point shows no motion and is never identified.

Row medians make the offsets robust to a few bad rows. Among the objects passing all four
tests the one with the least normalised sum of squares wins; a track that none passes is
uncorrelated (``UCT``), reported with its measured rate and direction. Objects below
``min_altitude`` are never candidates. For speed, a track of more than three times is first
compared with the whole catalogue at three of them (first, centre, last; one vectorised
call, wide gates), and only the objects near it are propagated at all its times and, when
their first offsets are seconds off, once more at the time they reach the observed position.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from astropy.table import Table
from astropy.time import Time, TimeDelta

from ..errors import InputError
from ..io.tables import detections_only, table_kind
from .catalogue import Catalogue, topocentric
from .ephemeris import Site

UCT = "UCT"


def _f(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class IdentifyConfig:
    """Match criteria (defaults: stvid's)."""

    max_cross_track: float = _f(0.1, "largest cross-track offset from the predicted path, deg (stvid: 0.1)")
    max_time_offset: float = _f(2.0, "largest along-track time offset, s (stvid: 2)")
    max_direction: float = _f(2.0, "largest difference of direction of motion, deg (stvid: 2)")
    max_rate: float = _f(0.05, "largest relative difference of angular rate (stvid: 0.05, i.e. 5 percent)")
    min_altitude: float = _f(0.0, "objects below this altitude (deg) are not candidates")
    position_sigma: float = _f(2.0, "uncertainty of one measured position, arcsec: a short track's direction and "
                                    "rate tests widen to 3 sigma of what its extent allows")

    def validate(self) -> None:
        for name in ("max_cross_track", "max_time_offset", "max_direction", "max_rate", "position_sigma"):
            if not getattr(self, name) > 0:
                raise InputError(f"--{name.replace('_', '-')} must be positive")
        if not -90 <= self.min_altitude <= 90:
            raise InputError(f"--min-altitude must be in [-90, 90] deg, got {self.min_altitude}")


@dataclass(frozen=True)
class TrackSky:
    """One track's measured sky positions. Times in s after ``t0``; positions in ICRS deg.

    ``ends`` (k, 2, 2): a streak's two endpoints (ra, dec), order unknown; None for points.
    ``exptime`` (k,) s.
    """

    id: int
    t0: Time
    t: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    ends: np.ndarray | None
    exptime: np.ndarray


@dataclass(frozen=True)
class Identification:
    """The result for one track. Offsets are NaN for a UCT; rate/direction are measured."""

    id: int
    status: str  # "ID" or "UCT"
    norad: int  # 0 for a UCT
    name: str
    designator: str
    rows: int
    time: str  # ISO UTC of the track's centre row
    ra: float
    dec: float
    rate_arcsec_s: float  # measured; a lower bound for a one-streak track
    direction_deg: float  # position angle of the motion, east of north; modulo 180 for one streak
    cross_track_deg: float = float("nan")
    along_track_s: float = float("nan")
    direction_diff_deg: float = float("nan")
    rate_diff: float = float("nan")
    predicted_rate_arcsec_s: float = float("nan")
    candidates: int = 0  # objects passing all four tests

    def as_dict(self) -> dict:
        return asdict(self)


def tracks_from_table(table: Table) -> list[TrackSky]:
    """Per-track sky measurements from a tracks table with ``time`` and ra/dec columns."""
    table = detections_only(table)
    kind = table_kind(table.colnames)
    need = ("time", "ra", "dec") if kind == "point" else ("time", "ra1", "dec1", "ra2", "dec2")
    missing = [c for c in need if c not in table.colnames]
    if missing:
        raise InputError(f"the tracks table has no {','.join(missing)} column(s): run track on frames with a "
                         "WCS and DATE-OBS, or give --wcs FILE")
    if len(table) == 0:
        return []
    times = Time(list(np.asarray(table["time"]).astype(str)), format="isot", scale="utc")
    t0 = times.min()
    secs = (times - t0).to_value("s")
    if kind == "streak":
        r1, d1, r2, d2 = (np.asarray(table[c], float) for c in ("ra1", "dec1", "ra2", "dec2"))
        ra, dec = _mean_direction(r1, d1, r2, d2)
        if "time_start" in table.colnames and "time_end" in table.colnames:
            ts = Time(list(np.asarray(table["time_start"]).astype(str)), format="isot", scale="utc")
            te = Time(list(np.asarray(table["time_end"]).astype(str)), format="isot", scale="utc")
            exptime = (te - ts).to_value("s")
        else:
            raise InputError("the streak table has no time_start/time_end columns (the exposure of each row)")
    else:
        ra, dec = np.asarray(table["ra"], float), np.asarray(table["dec"], float)
        exptime = np.zeros(len(table))
    ids = np.asarray(table["id"])
    ok = np.isfinite(ra) & np.isfinite(dec)
    out = []
    for track_id in np.unique(ids[ok]):
        rows = np.flatnonzero((ids == track_id) & ok)
        rows = rows[np.argsort(secs[rows], kind="stable")]
        ends = None
        if kind == "streak":
            ends = np.stack([np.column_stack([r1[rows], d1[rows]]), np.column_stack([r2[rows], d2[rows]])], axis=1)
        out.append(TrackSky(int(track_id), t0, secs[rows], ra[rows], dec[rows], ends, exptime[rows]))
    return out


def _unit(ra, dec):
    r, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], axis=-1)


def _mean_direction(r1, d1, r2, d2):
    v = _unit(r1, d1) + _unit(r2, d2)
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    return np.degrees(np.arctan2(v[..., 1], v[..., 0])) % 360.0, np.degrees(np.arcsin(np.clip(v[..., 2], -1, 1)))


def gnomonic(ra, dec, ra0: float, dec0: float):
    """Standard coordinates (xi east, eta north; deg) about (ra0, dec0), and cos of the distance."""
    r, d = np.radians(ra), np.radians(dec)
    r0, d0 = np.radians(ra0), np.radians(dec0)
    cosc = np.sin(d0) * np.sin(d) + np.cos(d0) * np.cos(d) * np.cos(r - r0)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = np.cos(d) * np.sin(r - r0) / cosc
        eta = (np.cos(d0) * np.sin(d) - np.sin(d0) * np.cos(d) * np.cos(r - r0)) / cosc
    return np.degrees(xi), np.degrees(eta), cosc


def _cross2(a, b):
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


@dataclass(frozen=True)
class _Measured:
    centre: int  # row index of the tangent point
    obs: np.ndarray  # (k, 2) standard coordinates of the rows, deg
    ends: np.ndarray | None  # (k, 2, 2)
    velocity: np.ndarray  # (2,) deg/s; NaN when unknown
    signed: bool  # False: direction known modulo 180 (one streak)
    lower_bound: bool  # True: the rate is a lower bound (streaks the frame edge may have cut)
    extent_deg: float  # length of sky over which the motion was measured


def measure(track: TrackSky) -> _Measured:
    """The track in the tangent plane of its centre row, and its measured motion.

    Points: a straight-line fit of position against time. Streaks: the frame edge shortens a
    streak and moves its midpoint, so the rows of full length (within 10 % of the longest)
    carry the motion; with two or more at different times, their midpoints are fitted, else
    the direction comes from all the midpoints (or the one streak, modulo 180 deg) and the
    rate from the longest streak over the exposure, a lower bound.
    """
    k = len(track.t)
    c = int(np.argmin(np.abs(track.t - np.median(track.t))))
    xi, eta, _ = gnomonic(track.ra, track.dec, track.ra[c], track.dec[c])
    obs = np.column_stack([xi, eta])
    nan = np.full(2, np.nan)
    if track.ends is None:
        if k >= 2 and np.ptp(track.t) > 0:
            v = np.array([np.polyfit(track.t, obs[:, j], 1)[0] for j in range(2)])
            return _Measured(c, obs, None, v, True, False, float(np.linalg.norm(v) * np.ptp(track.t)))
        return _Measured(c, obs, None, nan, True, False, 0.0)
    exi, eeta, _ = gnomonic(track.ends[..., 0], track.ends[..., 1], track.ra[c], track.dec[c])
    ends = np.stack([exi, eeta], axis=-1)
    seg = ends[:, 1] - ends[:, 0]
    length = np.linalg.norm(seg, axis=1)
    full = length >= 0.9 * length.max()
    if full.sum() >= 2 and np.ptp(track.t[full]) > 0:
        v = np.array([np.polyfit(track.t[full], obs[full, j], 1)[0] for j in range(2)])
        return _Measured(c, obs, ends, v, True, False, float(np.linalg.norm(v) * np.ptp(track.t[full])))
    longest = int(np.argmax(length))
    if not track.exptime[longest] > 0:
        return _Measured(c, obs, ends, nan, True, False, 0.0)
    rate = length[longest] / track.exptime[longest]
    if k >= 2 and np.ptp(track.t) > 0:
        d = np.array([np.polyfit(track.t, obs[:, j], 1)[0] for j in range(2)])
        signed = True
    else:
        d, signed = seg[longest], False
    v = d / max(np.linalg.norm(d), 1e-12) * rate
    return _Measured(c, obs, ends, v, signed, True, float(length[longest]))


def position_angle(v) -> float:
    """Position angle (deg, east of north) of a tangent-plane vector (xi, eta)."""
    return float(np.degrees(np.arctan2(v[0], v[1])) % 360.0)


def residuals(track: TrackSky, m: _Measured, catalogue: Catalogue, site: Site, *,
              shift: float = 0.0) -> dict[str, np.ndarray]:
    """The four residuals of every catalogue object against the track, (n,) arrays.

    The catalogue is propagated at the track's distinct times (plus one second when there is
    only one), so the predicted motion at each row comes from the same call. With ``shift``
    the predictions are taken ``shift`` seconds later and the along-track offset returned
    includes the shift (the refinement of :func:`identify_track`).
    """
    times_s = np.unique(track.t)
    if len(times_s) == 1:
        times_s = np.append(times_s, times_s[0] + 1.0)
    sky = topocentric(catalogue, track.t0 + TimeDelta(times_s + shift, format="sec"), site)
    c = m.centre
    xi, eta, cosc = gnomonic(sky.ra_deg, sky.dec_deg, track.ra[c], track.dec[c])
    usable = sky.ok & (cosc > np.cos(np.radians(60.0)))  # the tangent plane holds only the near sky
    pred = np.stack([xi, eta], axis=-1)  # (n, m, 2)
    vel = np.gradient(pred, times_s, axis=1)
    row = np.searchsorted(times_s, track.t)
    p, v, ok = pred[:, row], vel[:, row], usable[:, row]  # (n, k, ...)
    rate = np.linalg.norm(v, axis=-1)
    u = v / np.maximum(rate, 1e-12)[..., None]
    if m.ends is None:
        d = m.obs[None] - p
        along_s = np.einsum("nki,nki->nk", d, u) / np.maximum(rate, 1e-12)
        cross = _cross2(u, d)
    else:
        half = track.exptime[None, :, None] / 2
        start = p - v * half
        proj = [np.einsum("nki,nki->nk", m.ends[None, :, j] - start, u) / np.maximum(rate, 1e-12) for j in (0, 1)]
        lo, hi = np.minimum(*proj), np.maximum(*proj)
        s_min, s_max = hi - track.exptime[None], lo
        along_s = np.where(s_min <= s_max, np.clip(0.0, s_min, s_max), (s_min + s_max) / 2)
        cross = _cross2(u, m.obs[None] - p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: objects out of the tangent plane
        cross_deg = np.abs(np.nanmedian(np.where(ok, cross, np.nan), axis=1))
        along = np.nanmedian(np.where(ok, along_s, np.nan), axis=1) + shift
    v_c, rate_c = v[:, c], rate[:, c]
    if np.all(np.isfinite(m.velocity)):
        v_obs = m.velocity
        cosang = (v_c @ v_obs) / np.maximum(rate_c * np.linalg.norm(v_obs), 1e-12)
        ang = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
        direction = ang if m.signed else np.minimum(ang, 180.0 - ang)
        rate_diff = np.linalg.norm(v_obs) / np.maximum(rate_c, 1e-12) - 1.0
    else:
        direction = rate_diff = np.full(len(catalogue), np.nan)
    alt = sky.alt_deg[:, row[c]]
    return {"cross": cross_deg, "along": along, "direction": direction, "rate": rate_diff,
            "pred_rate": rate_c, "alt": alt, "ok": ok.all(axis=1)}


def tolerances(m: _Measured, config: IdentifyConfig) -> tuple[float, float]:
    """(direction deg, relative rate) allowed for this track: stvid's, or 3 sigma of what the
    track's extent measures when that is wider (sigma = position_sigma * sqrt(2) / extent)."""
    if not m.extent_deg > 0:
        return config.max_direction, config.max_rate
    rel = 3.0 * np.sqrt(2.0) * config.position_sigma / 3600.0 / m.extent_deg
    return max(config.max_direction, float(np.degrees(np.arctan(rel)))), max(config.max_rate, float(rel))


def passes(res: dict[str, np.ndarray], config: IdentifyConfig, m: _Measured) -> np.ndarray:
    """Which objects pass all four tests. A track that shows no motion (one point) passes none."""
    max_dir, max_rate = tolerances(m, config)
    rate = res["rate"]
    with np.errstate(invalid="ignore"):
        rate_ok = (rate <= max_rate) if m.lower_bound else (np.abs(rate) <= max_rate)
        return (res["ok"] & (res["alt"] >= config.min_altitude)
                & (res["cross"] <= config.max_cross_track) & (np.abs(res["along"]) <= config.max_time_offset)
                & (res["direction"] <= max_dir) & rate_ok)


def _loose(config: IdentifyConfig) -> IdentifyConfig:
    """Wide gates for the candidates that are propagated again (never narrower than the real tests)."""
    return replace(config, max_cross_track=max(5 * config.max_cross_track, 1.0),
                   max_time_offset=3 * config.max_time_offset + 2.0, max_direction=max(10 * config.max_direction, 20.0),
                   max_rate=max(3 * config.max_rate, 0.3), position_sigma=3 * config.position_sigma)


def _rows(track: TrackSky, rows) -> TrackSky:
    rows = np.unique(rows)
    return TrackSky(track.id, track.t0, track.t[rows], track.ra[rows], track.dec[rows],
                    None if track.ends is None else track.ends[rows], track.exptime[rows])


def identify_track(track: TrackSky, catalogue: Catalogue, site: Site, config: IdentifyConfig) -> Identification:
    """Identify one track against the whole catalogue."""
    m = measure(track)
    c = m.centre
    rate_obs = float(np.linalg.norm(m.velocity) * 3600.0) if np.all(np.isfinite(m.velocity)) else float("nan")
    pa = position_angle(m.velocity) if np.all(np.isfinite(m.velocity)) else float("nan")
    if not m.signed and pa == pa:
        pa %= 180.0
    when = (track.t0 + TimeDelta(track.t[c], format="sec")).isot
    base = dict(id=track.id, rows=len(track.t), time=when, ra=float(track.ra[c]), dec=float(track.dec[c]),
                rate_arcsec_s=rate_obs, direction_deg=pa)
    if len(catalogue) == 0:
        return Identification(status=UCT, norad=0, name=UCT, designator="", **base)
    if not np.all(np.isfinite(m.velocity)):  # one point: nothing to test the motion against
        return Identification(status=UCT, norad=0, name=UCT, designator="", **base)
    loose = _loose(config)
    index = np.arange(len(catalogue))
    if len(np.unique(track.t)) > 3:
        # Gate the whole catalogue on three of the track's times (first, centre, last) in one
        # call; only the objects near the track are propagated at all its times.
        sub = _rows(track, [0, c, len(track.t) - 1])
        m_sub = replace(measure(sub), velocity=m.velocity, signed=m.signed, lower_bound=m.lower_bound,
                        extent_deg=m.extent_deg)
        index = np.flatnonzero(passes(residuals(sub, m_sub, catalogue, site), loose, m_sub))
        if not len(index):
            return Identification(status=UCT, norad=0, name=UCT, designator="", **base)
    near = catalogue.subset(index) if len(index) < len(catalogue) else catalogue
    res = residuals(track, m, near, site)
    # The first pass extrapolates each prediction linearly to the observed position; objects
    # near enough are propagated again at the time they reach it, which makes the offsets exact
    # also when they are many seconds (degrees, for a LEO object) apart.
    for j in np.flatnonzero(passes(res, loose, m)):
        one = near.subset([j])
        shift = float(res["along"][j])
        for _ in range(2):
            again = residuals(track, m, one, site, shift=shift)
            shift = float(again["along"][0])
        for key in res:
            res[key][j] = again[key][0]
    good = np.flatnonzero(passes(res, config, m))
    if not len(good):
        return Identification(status=UCT, norad=0, name=UCT, designator="", **base)
    max_dir, max_rate = tolerances(m, config)
    terms = [(res["cross"][good] / config.max_cross_track) ** 2, (res["along"][good] / config.max_time_offset) ** 2,
             (res["direction"][good] / max_dir) ** 2, (res["rate"][good] / max_rate) ** 2]
    best = int(good[np.argmin(np.sum(terms, axis=0))])
    return Identification(status="ID", norad=int(near.norad[best]), name=near.names[best],
                          designator=near.designators[best], cross_track_deg=float(res["cross"][best]),
                          along_track_s=float(res["along"][best]), direction_diff_deg=float(res["direction"][best]),
                          rate_diff=float(res["rate"][best]),
                          predicted_rate_arcsec_s=float(res["pred_rate"][best] * 3600.0),
                          candidates=int(len(good)), **base)


def identify_table(table: Table, catalogue: Catalogue, site: Site,
                   config: IdentifyConfig | None = None) -> list[Identification]:
    """Identify every track of a tracks table."""
    config = config or IdentifyConfig()
    config.validate()
    return [identify_track(t, catalogue, site, config) for t in tracks_from_table(table)]


def annotate(table: Table, results: list[Identification]) -> Table:
    """A copy of the tracks table with ``norad`` (0 for a UCT), ``name`` and ``designator`` per row."""
    out = table.copy()
    by_id = {r.id: r for r in results}
    ids = np.asarray(out["id"]) if len(out) else np.zeros(0, int)
    out["norad"] = np.array([by_id[int(i)].norad if int(i) in by_id else 0 for i in ids], dtype=np.int64)
    out["name"] = np.array([by_id[int(i)].name if int(i) in by_id else "" for i in ids], dtype="U64")
    out["designator"] = np.array([by_id[int(i)].designator if int(i) in by_id else "" for i in ids], dtype="U64")
    return out


@dataclass(frozen=True)
class FieldFrame:
    """One exposure of the field: its WCS (mid-exposure), image shape (ny, nx) and start/end times."""

    wcs: object
    shape: tuple[int, int]
    start: Time
    end: Time


def frames_of_sequence(seq, wcs_for=None) -> list[FieldFrame]:
    """The field of every frame of a sequence (needs DATE-OBS and a WCS in each frame).

    ``wcs_for``: frame index -> WCS (default: each frame's header), e.g. a stare-mode
    :func:`debristrack.astrometry.sky.wcs_source`.
    """
    wcs_for = wcs_for or seq.wcs
    times = seq.times
    if times is None:
        raise InputError(f"{seq.path}: frames have no DATE-OBS: cannot predict what crosses the field")
    out = []
    for i in range(len(seq)):
        w = wcs_for(i)
        if w is None:
            raise InputError(f"{seq.path}: frame {i} has no WCS: cannot predict what crosses the field")
        half = TimeDelta((seq.exptime(i) or 0.0) / 2, format="sec")
        out.append(FieldFrame(w, tuple(seq.shape), times[i] - half, times[i] + half))
    return out


def predicted_in_field(catalogue: Catalogue, frames: list[FieldFrame], site: Site, *, samples: int = 9,
                       min_altitude: float = 0.0) -> dict[int, list[int]]:
    """NORAD -> frames in which the object's predicted path crosses the image, above ``min_altitude``.

    The whole catalogue is propagated at each exposure's start, middle and end at once; the
    path is followed at ``samples`` points along the exposure in pixel space.
    """
    if not frames or len(catalogue) == 0:
        return {}
    t = Time([x for f in frames for x in (f.start, f.start + (f.end - f.start) / 2, f.end)])
    sky = topocentric(catalogue, t, site)
    hits: dict[int, list[int]] = {}
    frac = np.linspace(0.0, 1.0, samples)
    for k, f in enumerate(frames):
        cols = slice(3 * k, 3 * k + 3)
        ra, dec = sky.ra_deg[:, cols], sky.dec_deg[:, cols]
        ra0, dec0 = f.wcs.wcs.crval
        _, _, cosc = gnomonic(ra, dec, ra0, dec0)
        near = np.flatnonzero((cosc > np.cos(np.radians(45.0))).all(axis=1) & sky.ok[:, cols].all(axis=1)
                              & (sky.alt_deg[:, cols] >= min_altitude).any(axis=1))
        if not len(near):
            continue
        x, y = f.wcs.all_world2pix(ra[near].ravel(), dec[near].ravel(), 0)
        x, y = x.reshape(-1, 3), y.reshape(-1, 3)
        # the path: start -> middle -> end, each half followed in pixel space
        xs = np.concatenate([x[:, :1] + (x[:, 1:2] - x[:, :1]) * frac, x[:, 1:2] + (x[:, 2:3] - x[:, 1:2]) * frac], axis=1)
        ys = np.concatenate([y[:, :1] + (y[:, 1:2] - y[:, :1]) * frac, y[:, 1:2] + (y[:, 2:3] - y[:, 1:2]) * frac], axis=1)
        ny, nx = f.shape
        inside = ((xs >= -0.5) & (xs <= nx - 0.5) & (ys >= -0.5) & (ys <= ny - 0.5)).any(axis=1)
        for j in near[inside]:
            hits.setdefault(int(catalogue.norad[j]), []).append(k)
    return hits


def not_seen(catalogue: Catalogue, predicted: dict[int, list[int]], results: list[Identification]) -> list[dict]:
    """Objects predicted in the field that no track was identified with: norad, name, frames."""
    seen = {r.norad for r in results if r.status == "ID"}
    rows = []
    for norad, frames in sorted(predicted.items()):
        if norad in seen:
            continue
        i = catalogue.index_of(norad)
        rows.append({"norad": norad, "name": catalogue.names[i], "designator": catalogue.designators[i],
                     "frames": frames})
    return rows


RESULT_COLUMNS = ("id", "status", "norad", "name", "designator", "rows", "time", "ra", "dec", "rate_arcsec_s",
                  "direction_deg", "cross_track_deg", "along_track_s", "direction_diff_deg", "rate_diff",
                  "predicted_rate_arcsec_s", "candidates")


def results_csv(results) -> str:
    """Identification results as CSV text, one line per track (:data:`RESULT_COLUMNS`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(RESULT_COLUMNS)
    for r in results:
        d = r.as_dict()
        w.writerow("" if isinstance(d[c], float) and d[c] != d[c] else
                   (f"{d[c]:.6g}" if isinstance(d[c], float) else d[c]) for c in RESULT_COLUMNS)
    return buf.getvalue()
