"""Physical linking: streak = v x EXPTIME, the next a cadence later on the same line; singles kept."""

from __future__ import annotations

import numpy as np

from debristrack.simulate import iter_frames, make_scene
from debristrack.track.physical import PhysicalLinker, PhysicalParams, _Track, link_cost, link_physical, physical_cost

SHAPE = (400, 600)


def _streak(t_start, exptime, *, x0=50.0, y0=100.0, vx=8.0, vy=3.0):
    """Ends of an object at (x0, y0) at t = 0 moving (vx, vy) px/s, exposed from t_start."""
    a = np.array([x0 + vx * t_start, y0 + vy * t_start])
    b = np.array([x0 + vx * (t_start + exptime), y0 + vy * (t_start + exptime)])
    return np.array([*a, *b, 20.0])


def test_linker_predicts_the_next_streak_a_cadence_later():
    starts, e = np.array([0.0, 9.5, 19.0, 28.5]), np.full(4, 6.5)
    first = _Track(dets=[(0, _streak(0.0, 6.5), 0.0, 6.5)])
    p = PhysicalParams()
    good, sign = link_cost(first, _streak(9.5, 6.5), 9.5, 6.5, SHAPE, p)
    assert np.isfinite(good) and sign == +1
    # the same streak placed where a [SDT] eq. 5 model would put it (moved by less than its length) is
    # refused by the physics; the overlap model takes it, at a higher cost than a physical continuation
    overlapping = _streak(3.0, 6.5)
    assert not np.isfinite(physical_cost(first, overlapping, 9.5, 6.5, SHAPE, p)[0])
    assert good < 0.5 <= link_cost(first, overlapping, 9.5, 6.5, SHAPE, p)[0] < np.inf
    # a parallel streak 15 px off the line is refused
    off = _streak(9.5, 6.5, y0=115.0)
    assert not np.isfinite(link_cost(first, off, 9.5, 6.5, SHAPE, p)[0])
    # the object moving the other way: the second detection fixes the sign
    back = _streak(9.5, 6.5, x0=50.0 + 8.0 * 6.5 * 2 + 8.0 * 9.5, vx=-8.0, vy=-3.0)
    back_first = _Track(dets=[(0, _streak(0.0, 6.5, x0=back[2] + 8.0 * 9.5 + 52.0, y0=back[3] + 3.0 * 9.5 + 19.5,
                                            vx=-8.0, vy=-3.0), 0.0, 6.5)])
    assert np.isfinite(link_cost(back_first, back, 9.5, 6.5, SHAPE, p)[0])
    dets = [_streak(t, 6.5)[None, :] for t in starts]
    table = link_physical(dets, starts, e, SHAPE)
    assert len(table) == 4 and len(set(table["id"])) == 1 and set(table["single"]) == {0}


def test_one_frame_trail_is_a_single_track_and_static_repeats_are_dropped():
    starts, e = np.arange(5) * 10.0, np.full(5, 5.0)
    leo = np.array([0.0, 50.0, 599.0, 300.0, 40.0])  # crosses the field within one exposure
    fixed = np.array([300.0, 200.0, 340.0, 210.0, 12.0])  # the same pixels in every frame: sky
    dets = [np.array([fixed]), np.array([fixed, leo]), np.array([fixed]), np.array([fixed]), np.array([fixed])]
    table = link_physical(dets, starts, e, SHAPE)
    assert len(table) == 1
    assert table["frame"][0] == 1 and table["single"][0] == 1


def test_online_linker_writes_each_row_when_its_frame_or_the_next_is_linked():
    starts, e = np.arange(6) * 9.5, np.full(6, 6.5)
    dets = [_streak(t, 6.5)[None, :] for t in starts]
    linker = PhysicalLinker(SHAPE)
    written = []
    for t in range(6):
        rows = linker.step(t, dets[t], starts[t], e[t])
        assert all(r[0] in (t - 1, t) for r in rows)  # decided now or one frame later
        written.append({r[0] for r in rows})
    assert linker.finish() == []
    assert written[0] == set() and written[1] == {0, 1} and all(w == {t} for t, w in enumerate(written) if t > 1)
    batch = link_physical(dets, starts, e, SHAPE)
    assert len(batch) == 6 and len(set(batch["id"])) == 1 and set(batch["single"]) == {0}


def test_rejected_candidate_continues_a_track_but_never_starts_one():
    starts, e = np.arange(5) * 9.5, np.full(5, 6.5)
    hard = [_streak(t, 6.5)[None, :] for t in starts]
    hard[2] = np.zeros((0, 5))  # the validator rejected frame 2's streak (crossed by another, say)
    soft = [np.zeros((0, 5)) for _ in starts]
    soft[2] = _streak(starts[2], 6.5)[None, :]
    soft[4] = np.array([[100.0, 300.0, 180.0, 320.0, 9.0]])  # a rejected candidate alone: no track
    table = link_physical(hard, starts, e, SHAPE, soft=soft)
    assert sorted(table["frame"]) == [0, 1, 2, 3, 4] and len(set(table["id"])) == 1
    # the first streak cut short: rejected, but the next frame's trail continues it (written one frame later)
    first = [np.zeros((0, 5))] + hard[1:2]
    table = link_physical(first, starts[:2], e[:2], SHAPE, soft=[_streak(0.0, 6.5)[None, :], np.zeros((0, 5))])
    assert sorted(table["frame"]) == [0, 1] and len(set(table["id"])) == 1


def test_overlapping_streaks_along_one_line_are_one_track():
    # [SDT] eq. 5 motion (the sdtd preset): 80 px streaks whose centres move 20 px a frame along their line
    u = np.array([0.8, 0.6])
    dets = []
    for t in range(6):
        c = np.array([150.0, 100.0]) + 20.0 * t * u
        dets.append(np.array([[*(c - 40 * u), *(c + 40 * u), 15.0]]))
    table = link_physical(dets, np.arange(6) * 6.0, np.full(6, 5.0), SHAPE)
    assert len(table) == 6 and len(set(table["id"])) == 1
    # the same streak on the same pixels every frame is sky, not an object
    assert len(link_physical([dets[0]] * 6, np.arange(6) * 6.0, np.full(6, 5.0), SHAPE)) == 0


def test_simulated_physical_streaks_lie_end_to_end():
    scene = make_scene("sidereal", "debris", size=256, frames=6, objects=(3, 3), leo_prob=0.0, gap_prob=0.0)
    rows = {}
    for sim in iter_frames(scene, seed=5):
        for r in sim.truth:
            rows.setdefault(int(r["id"]), []).append((int(r["frame"]), np.array([r["x1"], r["y1"], r["x2"], r["y2"]])))
    checked = 0
    for obs in rows.values():
        for (f1, s1), (f2, s2) in zip(obs, obs[1:]):
            if f2 != f1 + 1:
                continue
            length = min(np.hypot(*(s1[2:] - s1[:2])), np.hypot(*(s2[2:] - s2[:2])))
            displacement = np.hypot(*((s2[:2] + s2[2:]) / 2 - (s1[:2] + s1[2:]) / 2))
            clipped = any(min(v) < 1 or max(s[0], s[2]) > 254 or max(s[1], s[3]) > 254 for s in (s1, s2)
                          for v in [s])
            if not clipped:
                assert displacement >= length - 1e-6
                assert abs(displacement / length - scene.cadence / scene.exptime) < 0.02
                checked += 1
    assert checked >= 3


def test_nuisance_preset_labels_only_the_meteor():
    from debristrack.simulate.nuisances import METEOR_ID

    scene = make_scene("sidereal", "nuisance", size=128, frames=4, objects=(0, 0))
    frames = list(iter_frames(scene, seed=2))
    meteor_frames = [f.index for f in frames if METEOR_ID in set(f.truth["id"].tolist())]
    assert len(meteor_frames) <= 1 and all(len(f.truth) <= 1 for f in frames)
    data = frames[0].data
    assert (data >= scene.saturate).any()          # saturated star cores
    assert (data == 0).all(axis=1).any()           # a dead row


def test_short_candidates_make_a_track_only_three_frames_in_a_row_where_the_physics_puts_them():
    # a slow object: 12 px streaks (too short for a trail alone), 14 px apart start to start
    starts, e = np.arange(5) * 7.0, np.full(5, 6.0)
    slow = [_streak(t, 6.0, vx=2.0, vy=0.0)[None, :] for t in starts]
    none = [np.zeros((0, 5)) for _ in starts]
    flags = [np.ones(1, bool) for _ in starts]
    table = link_physical(none, starts, e, SHAPE, soft=slow, short=flags)
    assert sorted(table["frame"]) == [0, 1, 2, 3, 4] and len(set(table["id"])) == 1
    # online: the chain's rows come once its third candidate is seen, the rest at their frames
    linker = PhysicalLinker(SHAPE)
    written = [{r[0] for r in linker.step(t, none[t], starts[t], e[t], slow[t], flags[t])} for t in range(5)]
    assert written == [set(), set(), {0, 1, 2}, {3}, {4}]
    # two in a row are not enough; rejected for another reason (not short) they never start one
    assert len(link_physical(none[:2], starts[:2], e[:2], SHAPE, soft=slow[:2], short=flags[:2])) == 0
    assert len(link_physical(none, starts, e, SHAPE, soft=slow, short=[np.zeros(1, bool)] * 5)) == 0
    # short candidates that do not move as their length says (here: 30 px apart) are no track
    wrong = [_streak(t, 6.0, x0=50.0 + 2.3 * t, vx=2.0, vy=0.0)[None, :] for t in starts]
    assert len(link_physical(none, starts, e, SHAPE, soft=wrong, short=flags)) == 0
    # the same short streak on the same pixels every frame is sky
    fixed = [_streak(0.0, 6.0, vx=2.0, vy=0.0)[None, :] for _ in starts]
    assert len(link_physical(none, starts, e, SHAPE, soft=fixed, short=flags)) == 0


def _painted(segs, shape=SHAPE, value=8.0):
    """A residual in noise units: unit Gaussian noise plus ``value`` on each segment's pixels."""
    z = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for s in segs:
        t = np.linspace(0.0, 1.0, int(np.hypot(s[2] - s[0], s[3] - s[1]) * 4) + 2)
        x, y = np.round(s[0] + t * (s[2] - s[0])).astype(int), np.round(s[1] + t * (s[3] - s[1])).astype(int)
        ok = (x >= 0) & (x < shape[1]) & (y >= 0) & (y < shape[0])
        z[y[ok], x[ok]] = value
    return z


def test_linker_looks_where_a_track_predicts_its_streak():
    from debristrack.detect.streaks.geometry import line_median_snr

    starts, e = np.arange(5) * 9.5, np.full(5, 6.5)
    # enters the field during frame 0 (a 20 px piece at the left edge), crossed by nothing
    truth = [_streak(t, 6.5, x0=-32.0) for t in starts]
    images = [_painted([s]) for s in truth]

    def probe(k, segs):
        return line_median_snr(images[k], segs)

    dets = [s[None, :] for s in truth]
    dets[0] = np.zeros((0, 5))  # the detector missed the edge piece of frame 0 ...
    dets[3] = np.zeros((0, 5))  # ... and frame 3's streak
    table = link_physical(dets, starts, e, SHAPE)
    assert sorted(table["frame"]) == [1, 2, 4]
    linker = PhysicalLinker(SHAPE)
    rows = [r for t in range(5) for r in linker.step(t, dets[t], starts[t], e[t], probe=probe)] + linker.finish()
    table = sorted(rows)
    assert [r[0] for r in table] == [0, 1, 2, 3, 4] and len({r[1] for r in table}) == 1
    got = {r[0]: np.array(r[2:6]) for r in table}
    for k in (0, 3):  # the looked-for streaks lie on the true ones, clipped to the field at frame 0
        want = truth[k][:4].copy()
        if k == 0:
            want[0:2] = [0.0, truth[0][1] + (truth[0][3] - truth[0][1]) * 32.0 / 52.0]
        assert np.allclose(np.sort(got[k][[0, 2]]), np.sort(want[[0, 2]]), atol=1.5)
    # where the pixels hold only noise nothing is added
    blank = [_painted([]) for _ in starts]
    linker = PhysicalLinker(SHAPE)
    rows = [r for t in range(5) for r in linker.step(t, dets[t], starts[t], e[t],
                                                     probe=lambda k, s: line_median_snr(blank[k], s))]
    assert sorted(r[0] for r in rows + linker.finish()) == [1, 2, 4]
