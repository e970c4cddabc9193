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

import collections
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table
from scipy.optimize import linear_sum_assignment

from ..detect.streaks.geometry import as_segments
from ..geometry import clip_segment
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
    model: str = "physical"  # or "overlap": consecutive streaks overlap along their line ([SDT] eq. 5)
    id: int | None = None  # given when the track's first row is written
    hidden: int = 0  # leading detections decided not to be written (a one-detection track dropped)
    tentative: bool = False  # a rejected candidate: lives one frame, written only if a trail continues it
    chain: bool = False  # started by a short candidate: short ones may continue it (CHAIN frames in a row)


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
    """Cost of continuing ``track`` with streak ``seg`` (inf outside the gates) and the sign of
    motion it implies: :func:`physical_cost`, or for a track whose streaks overlap
    (:func:`overlap_cost`, [SDT] eq. 5 motion) and a one-detection track that the physics
    cannot continue, the overlap model."""
    return _link(track, seg, t_start, exptime, shape, p)[:2]


def _link(track, seg, t_start, exptime, shape, p) -> tuple[float, int, str]:
    """(cost, sign, model) of continuing ``track`` with ``seg`` (:func:`link_cost`)."""
    if track.model == "overlap" and len(track.dets) > 1:
        return (*overlap_cost(track, seg, t_start, exptime, p), "overlap")
    cost, sign = physical_cost(track, seg, t_start, exptime, shape, p)
    if np.isfinite(cost) or len(track.dets) > 1:
        return cost, sign, "physical"
    return (*overlap_cost(track, seg, t_start, exptime, p), "overlap")


def _line_error(ref_seg, seg, p: PhysicalParams, slack_len: float) -> float:
    """Largest distance of ``seg``'s ends from ``ref_seg``'s line over its tolerance (<= 1 on the line)."""
    v, _ = _axis(ref_seg)
    dir_err = np.radians(p.angle_tol / 4) + np.arctan(3.0 / max(slack_len, 1.0))
    worst = 0.0
    for q in (seg[0:2], seg[2:4]):
        rel = q - ref_seg[0:2]
        perp = abs(rel[0] * v[1] - rel[1] * v[0])
        worst = max(worst, perp / (0.5 * p.pos_tol + np.sin(dir_err) * float(np.hypot(*rel))))
    return worst


def overlap_cost(track: _Track, seg: np.ndarray, t_start: float, exptime: float,
                 p: PhysicalParams) -> tuple[float, int]:
    """Cost and sign of continuing ``track`` under [SDT] eq. 5 motion: the streak's length is
    not its motion, and consecutive streaks of one object overlap along their line (the
    ``sdtd`` preset). With one detection, the new streak must lie on its line, overlap it
    and be shifted along it by more than ``pos_tol`` (a repeat on the same pixels is sky);
    the shift gives the sign. Then the streaks' centres move uniformly in time along the
    line: the new centre must lie within ``pos_tol`` + half the change of length + ``rate_tol``
    x the distance travelled of the predicted one."""
    _, last, ts_l, e_l = track.dets[-1]
    v, length = _axis(last)
    w, new_len = _axis(seg)
    slack = np.degrees(np.arctan(2.0 * 1.5 / max(min(new_len, length), 1.0)))
    if np.degrees(np.arccos(min(1.0, abs(float(v @ w))))) > p.angle_tol + slack:
        return np.inf, 0
    longer, shorter = (last, seg) if length >= new_len else (seg, last)
    line = _line_error(longer, shorter, p, max(length, new_len))
    if line > 1.0:
        return np.inf, 0
    c_new = 0.5 * (seg[0:2] + seg[2:4])
    if len(track.dets) == 1:
        along = np.sort((np.stack([seg[0:2], seg[2:4]]) - last[0:2]) @ v)
        shift = float((c_new - 0.5 * (last[0:2] + last[2:4])) @ v)
        if min(along[1], length) - max(along[0], 0.0) <= 0 or abs(shift) <= p.pos_tol:
            return np.inf, 0
        return 0.5 + 0.5 * line, int(np.sign(shift))
    times = np.array([ts + 0.5 * e for _, _, ts, e in track.dets])
    centres = np.array([0.5 * (s[0:2] + s[2:4]) for _, s, _, _ in track.dets])
    A = np.column_stack([np.ones_like(times), times - times[0]])
    (c0, vel), *_ = np.linalg.lstsq(A, centres, rcond=None)
    pred = c0 + vel * (t_start + 0.5 * exptime - times[0])
    lens = [_axis(s)[1] for _, s, _, _ in track.dets]
    travel = float(np.hypot(*vel)) * (t_start + 0.5 * exptime - times[-1])
    tol = p.pos_tol + 0.5 * abs(new_len - float(np.median(lens))) + p.rate_tol * travel
    err = float(np.hypot(*(c_new - pred)))
    if err > tol:
        return np.inf, 0
    sign = track.sign * (1 if _axis(track.dets[0][1])[0] @ v >= 0 else -1)
    return err / tol, sign


def physical_cost(track: _Track, seg: np.ndarray, t_start: float, exptime: float, shape,
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


def predicted_streak(track: _Track, t_start: float, exptime: float, shape, p: PhysicalParams) -> np.ndarray | None:
    """Where the track's fitted motion (:func:`_fit`) puts its streak in the exposure from
    ``t_start`` for ``exptime`` s: ``(x1, y1, x2, y2)`` clipped to the field, None without a
    fit ([SDT] eq. 5 tracks have none), or with under 3 px of it inside."""
    if track.model != "physical":
        return None
    fit = _fit(track, shape, p)
    if fit is None:
        return None
    x0, vel, t0 = fit
    a, b = x0 + vel * (t_start - t0), x0 + vel * (t_start + exptime - t0)
    x1, y1, x2, y2, ok = clip_segment(np.array([a[0]]), np.array([a[1]]), np.array([b[0]]), np.array([b[1]]), shape)
    seg = np.array([x1[0], y1[0], x2[0], y2[0]])
    if not ok[0] or np.hypot(seg[2] - seg[0], seg[3] - seg[1]) < 3.0:
        return None
    return seg


def _inside(track: _Track, t_start: float, exptime: float, shape, p: PhysicalParams) -> bool:
    """Whether the track can still be in the field at this exposure (False once it left)."""
    if track.model == "overlap":
        if len(track.dets) < 2:
            return True
        (_, s0, t0, e0), (_, s1, t1, e1) = track.dets[0], track.dets[-1]
        c0, c1 = 0.5 * (s0[0:2] + s0[2:4]), 0.5 * (s1[0:2] + s1[2:4])
        vel = (c1 - c0) / max((t1 + 0.5 * e1) - (t0 + 0.5 * e0), 1e-9)
        c = c1 + vel * (t_start + 0.5 * exptime - t1 - 0.5 * e1)  # the centre of the next streak
        half = 0.5 * _axis(s1)[1]
        ny, nx = shape
        return bool(-half <= c[0] <= nx - 1 + half and -half <= c[1] <= ny - 1 + half)
    else:
        fit = _fit(track, shape, p)
        if fit is None:
            return True
        x0, vel, t0 = fit
    pts = x0 + vel * (np.linspace(t_start, t_start + exptime, 9)[:, None] - t0)
    ny, nx = shape
    return bool(np.any((pts[:, 0] >= 0) & (pts[:, 0] <= nx - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= ny - 1)))


def plausible_one_frame_trail(seg, index: int, starts, exptimes, shape: tuple[int, int], *,
                              edge: float = 3.0) -> bool:
    """Whether a streak seen in frame ``index`` only can be a real one-frame trail (a LEO
    crossing the field within one exposure, a meteor): moving at its own rate ``L / EXPTIME``
    one way or the other, its streak in the previous and the next exposure lies mostly outside
    the field. A streak cut by the frame edge only bounds the rate from below and is kept, as
    is one in a frame without neighbours. Used by both the classical physical linker and the
    SDT-Net tracker (pipeline/sidereal.py).

    ``seg`` (4,) x1, y1, x2, y2 px; ``starts``, ``exptimes`` (T,) s of every frame (start times)."""
    ny, nx = shape
    a, b = np.asarray(seg[0:2], float), np.asarray(seg[2:4], float)
    neighbours = [k for k in (index - 1, index + 1) if 0 <= k < len(starts)]
    if _clipped(a, shape, edge) or _clipped(b, shape, edge) or not neighbours:
        return True
    u, length = _axis(np.asarray(seg, float))
    t, e = starts[index], exptimes[index]
    rate = length / max(e, 1e-9)
    for tail, lead, sgn in ((a, b, 1.0), (b, a, -1.0)):
        seen = False
        for k in neighbours:
            if k > index:  # the next streak starts beyond the leading end, a gap later
                p = lead + sgn * u * rate * (starts[k] - t - e)
                q = p + sgn * u * rate * exptimes[k]
            else:  # the previous one ended behind the trailing end, a gap earlier
                q = tail - sgn * u * rate * (t - starts[k] - exptimes[k])
                p = q - sgn * u * rate * exptimes[k]
            pts = np.linspace(p, q, 11)
            seen |= np.mean((pts[:, 0] >= 0) & (pts[:, 0] <= nx - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= ny - 1)) >= 0.5
        if not seen:
            return True  # moving this way it was outside the field in both neighbouring exposures
    return False


def _seen_again_expected(track: _Track, starts, exptimes, shape, p: PhysicalParams) -> bool:
    """Whether a one-detection track should have been seen again (not a one-frame trail)."""
    t, seg, _, _ = track.dets[0]
    return not plausible_one_frame_trail(seg, t, starts, exptimes, shape, edge=p.edge)


def same_pixels(s: np.ndarray, s2: np.ndarray, *, dist: float = 3.0, angle: float = 3.0,
                max_shift: float | None = None) -> bool:
    """Whether segment ``s2`` repeats ``s``: on its line (ends within ``dist`` px, direction
    within ``angle`` deg) and overlapping more than half of ``s``; with ``max_shift``, also
    centred within that many px along the line (a moving streak that overlaps its predecessor,
    [SDT] eq. 5, is shifted along it; sky stays put)."""
    u, n = _axis(s)
    v, _ = _axis(s2)
    if np.degrees(np.arccos(min(1.0, abs(float(u @ v))))) > angle:
        return False
    rel = np.stack([s2[0:2], s2[2:4]]) - s[0:2]
    if np.max(np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])) > dist:
        return False
    lo, hi = np.sort(rel @ u)
    if min(hi, n) - max(lo, 0.0) <= 0.5 * n:
        return False
    return max_shift is None or abs(0.5 * (lo + hi) - 0.5 * n) <= max_shift


def _repeated(segs: np.ndarray, others, max_shift: float) -> np.ndarray:
    """(N,) bool: which of ``segs`` another segment of ``others`` repeats (:func:`same_pixels`)."""
    return np.array([any(same_pixels(s, o, max_shift=max_shift) for o in others) for s in segs], bool)


ROW = tuple[int, int, float, float, float, float, float, int]  # frame, id, x1, y1, x2, y2, score, single
STATIC_WINDOW = 8  # earlier frames a detection is compared with to call it static sky
CHAIN = 3  # short candidates in consecutive frames, each where the last ones' motion predicts it, that make a track
PROBE_Z = 5.0  # robust SNR along a predicted streak (line_median_snr) that counts as seeing it there


class PhysicalLinker:
    """The physical linker, online: :meth:`step` takes one frame's streaks and returns the
    rows it can decide now; :meth:`finish` the rest. :func:`link_physical` runs it over a
    finished sequence, so a live run and a batch run give the same tracks.

    A streak that continues a written track is written at once under its id. A streak that
    starts a track is decided one frame later: continued (both rows written under a new id),
    a plausible one-frame trail (written, ``single``), or neither (not written; the track
    stays open, so a later streak can still continue it). A detection repeated on the same
    pixels in one of the :data:`STATIC_WINDOW` earlier frames or in the next frame is static
    sky and is dropped.

    ``soft`` streaks (candidates the trail validator rejected) never start a track: they
    continue one the physics predicts them on, or, held for one frame, are written when a
    trail of the next frame continues them (a trail's first streak cut short by the frame
    edge, a faint or crossed piece).

    ``short`` candidates (rejected only for being short: a ridge of the PSF's width under a
    few widths long, which one frame cannot tell from a galaxy) are the streaks of slow
    objects. They start a track when :data:`CHAIN` of them in consecutive frames lie where
    the physics predicts each from the ones before (their own rate ``L / EXPTIME``, along
    their own line); the chain's rows are written then, up to two frames late.

    With a ``probe`` (``probe(frame, segments) -> robust SNRs``, None for a frame no longer
    held), a track whose motion is known looks where it predicts its streak when no candidate
    is there: in this frame, for a written track that found none (a piece too short at the
    frame edge, a stretch crossed by another trail; not where a candidate of the frame lies
    on those pixels), and in the frame before its first one when a new track is written (the
    piece where it entered). A median SNR of :data:`PROBE_Z` along the predicted streak is a
    detection (written with that score).
    """

    def __init__(self, shape: tuple[int, int], params: PhysicalParams | None = None):
        self.shape, self.p = tuple(shape), params or PhysicalParams()
        self.active: list[_Track] = []
        self.starts: list[float] = []
        self.exptimes: list[float] = []
        self.recent: collections.deque = collections.deque(maxlen=STATIC_WINDOW)  # earlier frames' segments
        self.next_id = 1

    def _rows(self, tr: _Track, dets, single: int = 0) -> list[ROW]:
        if tr.id is None:
            tr.id, self.next_id = self.next_id, self.next_id + 1
        return [(f, tr.id, *(float(v) for v in seg[:5]), single) for f, seg, _, _ in dets]

    def step(self, t: int, dets: np.ndarray, t_start: float, exptime: float,
             soft: np.ndarray | None = None, short: np.ndarray | None = None, probe=None) -> list[ROW]:
        """Frame ``t`` (0, 1, 2, ... in order): its streaks ``(N, 5)``, exposure start (s, any
        origin) and time (s), the validator's rejected candidates ``soft`` ``(M, 5)``, which
        of them were rejected only for being short (``short`` (M,) bool), and the ``probe`` of
        the frames' pixels (class docstring). Returns the rows decided now."""
        p, shape = self.p, self.shape
        self.starts.append(float(t_start))
        self.exptimes.append(float(exptime))
        hard = as_segments(dets)
        soft = as_segments(soft) if soft is not None else np.zeros((0, 5))
        earlier = [s for _, segs in self.recent for s in segs]
        self.recent.append((t, np.vstack([hard[:, :5], soft[:, :5]])))
        hard = hard[~_repeated(hard, earlier, p.pos_tol)] if len(hard) else hard
        short = np.zeros(len(soft), bool) if short is None or not len(soft) else np.asarray(short, bool)
        if len(soft):  # sky, or a piece of a trail of this frame
            fresh = ~(_repeated(soft, earlier, p.pos_tol) | _repeated(soft, hard, np.inf))
            soft, short = soft[fresh], short[fresh]
        # a track started in the previous frame whose streak this frame repeats was sky
        self.active = [tr for tr in self.active if tr.id is not None or tr.hidden or len(tr.dets) > 1
                       or not _repeated(tr.dets[0][1][None], hard, p.pos_tol)[0]]
        cand = np.vstack([hard[:, :5], soft[:, :5]]) if len(soft) else hard[:, :5]
        n_hard = len(hard)
        chained = np.concatenate([np.zeros(n_hard, bool), short])
        cost = np.full((len(self.active), len(cand)), np.inf)
        sign = np.zeros(cost.shape, int)
        model = np.full(cost.shape, "physical", dtype=object)
        for i, tr in enumerate(self.active):
            for j, sg in enumerate(cand):
                if tr.tentative and j >= n_hard and not (tr.chain and chained[j]):
                    continue  # two rejected candidates do not make a track, short ones in a row may
                c, sign[i, j], model[i, j] = _link(tr, sg, t_start, exptime, shape, p)
                # prefer a trail to a rejected candidate, a written track to a held candidate
                cost[i, j] = c + (1.0 if j >= n_hard else 0.0) + (0.5 if tr.tentative else 0.0)
        rows: list[ROW] = []
        matched_t, matched_d = set(), set()
        if cost.size and np.isfinite(cost).any():
            big = 1e6
            for i, j in zip(*linear_sum_assignment(np.where(np.isfinite(cost), cost, big))):
                if cost[i, j] >= big:
                    continue
                tr = self.active[i]
                if not tr.sign:  # the second detection fixes the direction of motion
                    u0 = _axis(tr.dets[0][1])[0]
                    tr.sign = int(np.sign(u0 @ (_axis(tr.dets[-1][1])[0] * sign[i, j])) or 1)
                    tr.model = model[i, j]
                tr.dets.append((t, cand[j], float(t_start), float(exptime)))
                matched_t.add(i)
                matched_d.add(j)
                if tr.tentative and j >= n_hard and len(tr.dets) < CHAIN:
                    continue  # a chain of short candidates, not long enough yet
                tr.misses, tr.tentative = 0, False
                if tr.id is None and not tr.hidden:
                    self._look_back(tr, probe)
                rows += self._rows(tr, tr.dets[tr.hidden:] if tr.id is None else tr.dets[-1:])
        for i, tr in enumerate(self.active):
            if i not in matched_t and tr.id is not None and not tr.tentative and len(tr.dets) > 1 and probe is not None:
                seen = self._look(tr, t, float(t_start), float(exptime), probe, cand)
                if seen is not None:
                    tr.dets.append(seen)
                    tr.misses = 0
                    rows += self._rows(tr, tr.dets[-1:])
                    matched_t.add(i)
        still = []
        for i, tr in enumerate(self.active):
            if i in matched_t:
                still.append(tr)
            elif tr.tentative and not (tr.chain and len(tr.dets) >= 2 and tr.misses == 0):
                continue  # a chain of short candidates may miss one frame (a knot masked as a star, say)
            elif tr.tentative:
                tr.misses += 1
                still.append(tr)
            elif tr.id is None and not tr.hidden and len(tr.dets) == 1:  # started last frame, not continued
                if not _seen_again_expected(tr, self.starts, self.exptimes, shape, p):
                    rows += self._rows(tr, tr.dets, single=1)  # a one-frame trail: it left the field
                else:
                    tr.hidden, tr.misses = 1, 1
                    still.append(tr)
            else:
                tr.misses += 1
                if tr.misses <= p.max_miss and _inside(tr, t_start, exptime, shape, p):
                    still.append(tr)
        self.active = still + [_Track(dets=[(t, cand[j], float(t_start), float(exptime))], tentative=j >= n_hard,
                                      chain=bool(chained[j])) for j in range(len(cand)) if j not in matched_d]
        return rows

    def _look(self, tr: _Track, k: int, t_start: float, exptime: float, probe, there):
        """The detection ``(k, segment, t_start, exptime)`` that the probe sees where ``tr``
        predicts its streak in frame ``k``, or None; None too where one of ``there`` (that
        frame's candidates) lies on those pixels: it explains their light (another track's, or
        one the gates refused because this track's motion is off), and looking would copy it."""
        seg = predicted_streak(tr, t_start, exptime, self.shape, self.p)
        if seg is None:
            return None
        z = probe(k, seg[None, :])
        if z is None or not z[0] >= PROBE_Z:
            return None
        seen = np.array([*seg, float(z[0])])
        if len(there) and _repeated(seen[None], there, np.inf)[0]:
            return None
        return (k, seen, t_start, exptime)

    def _look_back(self, tr: _Track, probe) -> None:
        """A new track's streak in the frame before its first, where the probe sees it and no
        candidate of that frame lies (it would be another track's)."""
        k = tr.dets[0][0] - 1
        if probe is None or k < 0 or len(tr.dets) < 2:
            return
        seen = self._look(tr, k, self.starts[k], self.exptimes[k], probe,
                          [s for f, segs in self.recent if f == k for s in segs])
        if seen is not None:
            motion = _axis(tr.dets[0][1])[0] * tr.sign
            tr.dets.insert(0, seen)
            tr.sign = 1 if _axis(seen[1])[0] @ motion >= 0 else -1  # the sign is relative to the first streak's axis

    def finish(self) -> list[ROW]:
        """The rows of the last frame's new tracks (one-frame trails where plausible)."""
        rows = []
        for tr in self.active:
            if not tr.tentative and tr.id is None and not tr.hidden and len(tr.dets) == 1 and \
                    not _seen_again_expected(tr, self.starts, self.exptimes, self.shape, self.p):
                rows += self._rows(tr, tr.dets, single=1)
        self.active = []
        return rows


def rows_table(rows: list[ROW]) -> Table:
    """DESIGN.md streak table ``frame,id,x1,y1,x2,y2,score,single`` of linker rows (left
    endpoint first), sorted by id and frame."""
    if not rows:
        return empty_table("streak", ("score", "single"))
    a = np.asarray(rows, dtype=np.float64)
    table = Table([a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2], a[:, 3], a[:, 4], a[:, 5], a[:, 6],
                   a[:, 7].astype(np.int64)], names=("frame", "id", "x1", "y1", "x2", "y2", "score", "single"))
    table.sort(["id", "frame"])
    return normalize_streaks(table)


def link_physical(detections: list[np.ndarray], starts: np.ndarray, exptimes: np.ndarray, shape: tuple[int, int],
                  params: PhysicalParams | None = None, soft: list[np.ndarray] | None = None,
                  short: list[np.ndarray] | None = None) -> Table:
    """Link per-frame streaks into tracks by their physics (module docstring):
    :class:`PhysicalLinker` over the whole sequence.

    Parameters
    ----------
    detections : one ``(N_t, 5)`` array ``x1, y1, x2, y2, score`` per frame.
    starts : (T,) exposure start times, s (any origin). exptimes : (T,) exposure times, s.
    shape : (ny, nx) of the frames.
    soft : per frame, the validator's rejected candidates ``(M_t, 5)`` (or None).
    short : per frame, ``(M_t,)`` bool: which of ``soft`` were rejected only for being short.

    Returns
    -------
    Table ``frame,id,x1,y1,x2,y2,score,single`` (left endpoint first; ``single`` = 1 on
    one-detection tracks).
    """
    linker = PhysicalLinker(shape, params)
    rows = []
    for t, dets in enumerate(detections):
        rows += linker.step(t, dets, float(starts[t]), float(exptimes[t]), None if soft is None else soft[t],
                            None if short is None else short[t])
    return rows_table(rows + linker.finish())
