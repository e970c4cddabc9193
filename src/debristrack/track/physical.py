"""Physical streak linking for sidereal mode: a streak is the object's motion during its exposure.

A streak of length ``L`` in an exposure of ``EXPTIME`` s gives the object's direction (up to
its sign) and rate ``r = L / EXPTIME`` (px/s) on the frame. The next streak therefore lies on
the same line, starts ``r x (t_next - t_end)`` beyond this one's leading end (``t`` = exposure
start times from DATE-OBS) and is ``r x EXPTIME_next`` long: consecutive streaks lie end to end
with a gap, never overlapping. Both signs of the motion are predicted until a second
detection fixes it; from then the track's motion is the least-squares line through its
streaks' ends (start end at the exposure start, leading end at its end).

Every detection belongs to a track: a trail seen in one frame only (a LEO crossing the
field within one exposure, a meteor) is a one-detection track flagged ``single``. Dropped
are only detections that repeat on the same pixels in several frames (sky, not objects) and
one-frame streaks that, moving at their own rate either way, would still have been in the
field in the previous or next exposure (they should have been seen again).

Pure functions over per-frame ``(N, 5)`` segment arrays; :func:`link_physical` returns a
DESIGN.md streak table with the extra column ``single`` (1 = one-detection track).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table
from scipy.optimize import linear_sum_assignment

from ..detect.streaks.geometry import as_segments
from ..io.tables import empty_table, normalize_streaks


@dataclass(frozen=True)
class PhysicalParams:
    """Gates of :func:`link_physical`."""

    RANGES = {"pos_tol": "(0, inf)", "rate_tol": "[0, inf)", "angle_tol": "(0, 90]", "max_miss": "[0, inf)",
              "edge": "[0, inf)"}  # valid interval of each parameter (config.check_ranges)

    pos_tol: float = field(default=6.0, metadata={"help": "physical: position tolerance of a predicted streak end, px"})
    rate_tol: float = field(default=0.15, metadata={
        "help": "physical: relative rate error allowed, x the distance travelled since the last streak"})
    angle_tol: float = field(default=4.0, metadata={"help": "physical: largest angle between linked streaks, degrees"})
    max_miss: int = field(default=2, metadata={"help": "physical: frames a track may go undetected inside the field"})
    edge: float = field(default=3.0, metadata={"help": "physical: a streak end this close to the frame edge is clipped, px"})


@dataclass
class _Track:
    dets: list  # (frame, segment (5,), t_start, exptime)
    sign: int = 0  # +1: moving from (x1, y1) to (x2, y2) of the first detection's axis; 0 = unknown
    misses: int = 0


def _axis(seg):
    d = seg[2:4] - seg[0:2]
    n = float(np.hypot(*d))
    return d / n if n > 0 else np.array([1.0, 0.0]), n


def _clipped(point, shape, edge):
    ny, nx = shape
    return point[0] <= edge or point[1] <= edge or point[0] >= nx - 1 - edge or point[1] >= ny - 1 - edge


def _oriented(seg, u):
    """The segment's ends ordered along ``u``: (trailing end, leading end)."""
    a, b = seg[0:2], seg[2:4]
    return (a, b) if (b - a) @ u >= 0 else (b, a)


def _fit(track: _Track, shape, p: PhysicalParams):
    """Least-squares motion ``x(t) = x0 + vel (t - t0)`` through the unclipped streak ends of a
    track whose direction is known (trailing end at the exposure start, leading end at its
    end); None when fewer than two distinct times remain."""
    if not track.sign:
        return None
    u = _axis(track.dets[0][1])[0] * track.sign
    ts, xs = [], []
    for _, seg, ts_k, e_k in track.dets:
        tail, lead = _oriented(seg, u)
        for q, t in ((tail, ts_k), (lead, ts_k + e_k)):
            if not _clipped(q, shape, p.edge):
                ts.append(t)
                xs.append(q)
    if len(set(ts)) < 2:
        return None
    ts, xs = np.asarray(ts), np.asarray(xs)
    A = np.column_stack([np.ones_like(ts), ts - ts[0]])
    coef, *_ = np.linalg.lstsq(A, xs, rcond=None)
    return coef[0], coef[1], ts[0]


def link_cost(track: _Track, seg: np.ndarray, t_start: float, exptime: float, shape,
              p: PhysicalParams) -> tuple[float, int]:
    """Cost of continuing ``track`` with streak ``seg`` of an exposure from ``t_start`` lasting
    ``exptime`` (inf outside the gates), and the sign of motion it implies.

    The streak must be parallel to the track (``angle_tol``), on its line, and start where the
    motion puts the object at ``t_start``: predicted by the track's fitted motion once its
    direction is known, else by the last streak's rate ``L / EXPTIME`` (or the new streak's
    when the last one is clipped by the frame edge) beyond its leading end, for both signs.
    Clipped ends (at the frame edge) are not compared, except that they lie on the line.
    """
    _, last, ts_l, e_l = track.dets[-1]
    v, length = _axis(last)
    w, new_len = _axis(seg)
    fit = _fit(track, shape, p)
    ref_dir = v
    if fit is not None and np.hypot(*fit[1]) > 0:
        ref_dir = fit[1] / np.hypot(*fit[1])
    # a short streak's direction is known to ~ atan(2 px / length): widen the gate for it
    slack = np.degrees(np.arctan(2.0 * 1.5 / max(min(new_len, length), 1.0)))
    if np.degrees(np.arccos(min(1.0, abs(float(ref_dir @ w))))) > p.angle_tol + slack:
        return np.inf, 0
    u0 = _axis(track.dets[0][1])[0]
    signs = (track.sign * (1 if u0 @ v >= 0 else -1),) if track.sign else (+1, -1)  # relative to the last axis
    best = (np.inf, 0)
    for sgn in signs:
        u = v * sgn
        tail_new, lead_new = _oriented(seg, u)
        clip_tail, clip_lead = _clipped(tail_new, shape, p.edge), _clipped(lead_new, shape, p.edge)
        if fit is not None:
            x0, vel, t0 = fit
            start = x0 + vel * (t_start - t0)
            end = x0 + vel * (t_start + exptime - t0)
            travel = float(np.hypot(*(vel * (t_start + exptime - ts_l - e_l))))
            ref = start
        else:
            tail_old, lead_old = _oriented(last, u)
            if _clipped(lead_old, shape, p.edge):
                continue  # it left the field through that edge
            rates = []
            if not (_clipped(tail_old, shape, p.edge)):
                rates.append(length / max(e_l, 1e-9))
            if not (clip_tail or clip_lead):
                rates.append(new_len / max(exptime, 1e-9))
            gap_t = t_start - ts_l - e_l
            if len(rates) == 2 and abs(rates[0] - rates[1]) > p.rate_tol * max(rates) + 2 * p.pos_tol / max(exptime, e_l):
                continue
            ref = lead_old
            if rates:
                rate = float(np.mean(rates))
                start = lead_old + u * rate * gap_t
                end = start + u * rate * exptime
                travel = rate * (gap_t + exptime)
            else:  # both clipped: only the line and the order of the streaks are known
                start = end = None
                travel = 0.0
        tol = p.pos_tol + p.rate_tol * travel
        worst = 0.0
        # off the line: the direction is known to a fraction of angle_tol (plus the short-streak slack);
        # with one detection so far, the longer of the two streaks gives the line
        line_dir, origin, pts = u, ref, (tail_new, lead_new)
        if fit is None and new_len > length:
            line_dir, origin, pts = w, tail_new, (ref,)
        dir_err = np.radians(p.angle_tol / 4) + (0.0 if fit is not None else np.arctan(3.0 / max(new_len, length, 1.0)))
        for q in pts:
            rel = q - origin
            perp_tol = 0.5 * p.pos_tol + np.sin(dir_err) * float(np.hypot(*rel))
            perp = abs(rel[0] * line_dir[1] - rel[1] * line_dir[0])
            if perp > perp_tol:
                worst = np.inf
            worst = max(worst, perp / perp_tol * tol)
        if (tail_new - ref) @ u < -tol:
            continue  # behind the object: streaks of one object never overlap
        if start is not None:
            if not clip_tail:
                worst = max(worst, float(np.hypot(*(tail_new - start))))
            if not clip_lead:
                worst = max(worst, float(np.hypot(*(lead_new - end))))
        if worst <= tol and worst / tol < best[0]:
            best = (worst / tol, sgn)
    return best


def _inside(track: _Track, t_start: float, exptime: float, shape, p: PhysicalParams) -> bool:
    """Whether the track can still be in the field at this exposure (False once it left)."""
    fit = _fit(track, shape, p)
    if fit is None:
        return True
    x0, vel, t0 = fit
    pts = x0 + vel * (np.linspace(t_start, t_start + exptime, 9)[:, None] - t0)
    ny, nx = shape
    return bool(np.any((pts[:, 0] >= 0) & (pts[:, 0] <= nx - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= ny - 1)))


def _seen_again_expected(track: _Track, starts, exptimes, shape, p: PhysicalParams) -> bool:
    """Whether a one-detection track is physically implausible: for both signs of motion, at
    the rate ``L / EXPTIME`` its streak in the previous or next exposure would lie mostly
    inside the field, so it should have been seen again. A real one-frame trail (a LEO, a
    meteor) leaves the field before the next exposure. A streak cut by the frame edge only
    bounds the rate from below, so it is never judged; nor is a frame without neighbours."""
    t, seg, ts, e = track.dets[0]
    ends = (seg[0:2], seg[2:4])
    if any(_clipped(q, shape, p.edge) for q in ends):
        return False
    u, length = _axis(seg)
    rate = length / max(e, 1e-9)
    ny, nx = shape
    neighbours = [k for k in (t - 1, t + 1) if 0 <= k < len(starts)]
    if not neighbours:
        return False
    for sgn in (+1, -1):
        tail, lead = (ends[0], ends[1]) if sgn > 0 else (ends[1], ends[0])
        seen = False
        for k in neighbours:
            a = lead + sgn * u * rate * (starts[k] - ts - e) if k > t else tail + sgn * u * rate * (starts[k] - ts)
            b = a + sgn * u * rate * exptimes[k] if k > t else a - sgn * u * rate * exptimes[k]
            pts = np.linspace(a, b, 11)
            inside = np.mean((pts[:, 0] >= 0) & (pts[:, 0] <= nx - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= ny - 1))
            seen |= inside >= 0.5
        if not seen:
            return False  # moving this way it left the field: a plausible one-frame trail
    return True


def static_detections(detections: list[np.ndarray], *, dist: float = 3.0, angle: float = 3.0) -> list[np.ndarray]:
    """(N_t,) bool per frame: detections that another frame repeats on the same pixels (same
    line, overlapping by more than half): fixed sky, not a moving object."""
    out = [np.zeros(len(d), bool) for d in detections]
    for t, dt in enumerate(detections):
        for i, s in enumerate(as_segments(dt)):
            u, n = _axis(s)
            for t2, d2 in enumerate(detections):
                if t2 == t:
                    continue
                for s2 in as_segments(d2):
                    v, _ = _axis(s2)
                    if np.degrees(np.arccos(min(1.0, abs(float(u @ v))))) > angle:
                        continue
                    rel = np.stack([s2[0:2], s2[2:4]]) - s[0:2]
                    if np.max(np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])) > dist:
                        continue
                    lo, hi = np.sort(rel @ u)
                    if min(hi, n) - max(lo, 0.0) > 0.5 * n:
                        out[t][i] = True
                        break
                if out[t][i]:
                    break
    return out


def link_physical(detections: list[np.ndarray], starts: np.ndarray, exptimes: np.ndarray, shape: tuple[int, int],
                  params: PhysicalParams | None = None) -> Table:
    """Link per-frame streaks into tracks by their physics (see the module docstring).

    Parameters
    ----------
    detections : one ``(N_t, 5)`` array ``x1, y1, x2, y2, score`` per frame.
    starts : (T,) exposure start times, s (any origin). exptimes : (T,) exposure times, s.
    shape : (ny, nx) of the frames.

    Returns
    -------
    Table ``frame,id,x1,y1,x2,y2,score,single`` (left endpoint first; ``single`` = 1 on
    one-detection tracks).
    """
    p = params or PhysicalParams()
    static = static_detections(detections)
    active: list[_Track] = []
    done: list[_Track] = []
    for t, dets in enumerate(detections):
        segs = as_segments(dets)
        segs = segs[~static[t]] if len(segs) else segs
        ts, e = float(starts[t]), float(exptimes[t])
        cost = np.full((len(active), len(segs)), np.inf)
        sign = np.zeros((len(active), len(segs)), int)
        for i, tr in enumerate(active):
            for j, sg in enumerate(segs):
                cost[i, j], sign[i, j] = link_cost(tr, sg, ts, e, shape, p)
        matched_t, matched_d = set(), set()
        if cost.size and np.isfinite(cost).any():
            big = 1e6
            rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, big))
            for i, j in zip(rows, cols):
                if cost[i, j] < big:
                    tr = active[i]
                    if not tr.sign:  # the second detection fixes the direction of motion
                        u0 = _axis(tr.dets[0][1])[0]
                        tr.sign = int(np.sign(u0 @ (_axis(tr.dets[-1][1])[0] * sign[i, j])) or 1)
                    tr.dets.append((t, segs[j], ts, e))
                    tr.misses = 0
                    matched_t.add(i)
                    matched_d.add(j)
        still = []
        for i, tr in enumerate(active):
            if i in matched_t:
                still.append(tr)
                continue
            tr.misses += 1
            if tr.misses > p.max_miss or not _inside(tr, ts, e, shape, p):
                done.append(tr)
            else:
                still.append(tr)
        active = still + [_Track(dets=[(t, segs[j], ts, e)]) for j in range(len(segs)) if j not in matched_d]
    done += active
    done = [tr for tr in done if len(tr.dets) > 1 or not _seen_again_expected(tr, starts, exptimes, shape, p)]
    rows = []
    for k, tr in enumerate(sorted(done, key=lambda tr: (tr.dets[0][0], tuple(tr.dets[0][1][:2]))), start=1):
        single = int(len(tr.dets) == 1)
        rows += [(f, k, *seg[:5], single) for f, seg, _, _ in tr.dets]
    if not rows:
        return empty_table("streak", ("score", "single"))
    a = np.asarray(rows, dtype=np.float64)
    table = Table([a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2], a[:, 3], a[:, 4], a[:, 5], a[:, 6],
                   a[:, 7].astype(np.int64)], names=("frame", "id", "x1", "y1", "x2", "y2", "score", "single"))
    table.sort(["id", "frame"])
    return normalize_streaks(table)
