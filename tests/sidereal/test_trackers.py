import numpy as np
import pytest

from debristrack.geometry import gated_assignment
from debristrack.track.segments import (TRACKERS, TrackerParams, endpoint_cost,
                                        track_segments)
from debristrack.track.segments.kalman import SegmentKalman, oriented


def test_linear_assignment_hand_made():
    cost = np.array([[0.1, 0.9, np.inf],
                     [0.8, 0.2, 0.7],
                     [np.inf, np.inf, np.inf],
                     [0.3, 0.95, 0.6]])
    matches, rows, cols = gated_assignment(cost, gate=0.65)
    # optimum: (0,0) 0.1 + (1,1) 0.2 + (3,2) 0.6; row 2 has no feasible column
    assert matches.tolist() == [[0, 0], [1, 1], [3, 2]]
    assert rows.tolist() == [2] and cols.tolist() == []
    matches, rows, cols = gated_assignment(cost, gate=0.5)
    assert matches.tolist() == [[0, 0], [1, 1]]
    assert rows.tolist() == [2, 3] and cols.tolist() == [2]


def test_linear_assignment_empty():
    m, r, c = gated_assignment(np.zeros((0, 3)), 1.0)
    assert m.shape == (0, 2) and r.size == 0 and c.tolist() == [0, 1, 2]


def test_endpoint_cost_is_order_invariant_and_discounts_along():
    trk = np.array([[0, 0, 10, 0]])
    assert endpoint_cost(trk, [[10, 0, 0, 0]])[0, 0] == 0
    ahead = np.array([[20, 0, 30, 0]])  # moved 20 px along its own line
    beside = np.array([[0, 20, 10, 20]])  # moved 20 px sideways
    assert endpoint_cost(trk, ahead, along_weight=0.1)[0, 0] == pytest.approx(2.0)
    assert endpoint_cost(trk, beside, along_weight=0.1)[0, 0] == pytest.approx(20.0)


def test_kalman_learns_velocity_and_handles_swapped_endpoints():
    kf = SegmentKalman(np.array([0, 0, 10, 50.0]))
    for t in range(1, 6):
        kf.predict()
        seg = np.array([5 * t, 0, 10 + 5 * t, 50.0])
        kf.update(seg[[2, 3, 0, 1]] if t % 2 else seg)  # endpoints alternate order
    assert np.allclose(kf.velocity, [5, 0, 5, 0], atol=0.5)
    assert np.allclose(oriented(kf.segment, [35, 50, 30, 0]), [30, 0, 35, 50])


def _moving(n_frames, x0, y0, vx, vy, dx, dy, score=20.0):
    return [np.array([x0 + vx * t, y0 + vy * t, x0 + vx * t + dx, y0 + vy * t + dy, score])
            for t in range(n_frames)]


@pytest.mark.parametrize("name", list(TRACKERS))
def test_single_streak_gets_one_id(name):
    dets = [d[None] for d in _moving(5, 10, 10, 30, 15, 60, 30)]
    out = track_segments(dets, name)
    ids = np.concatenate([o[:, 5] for o in out])
    assert len(ids) == 5 and set(ids.tolist()) == {1}


@pytest.mark.parametrize("name", list(TRACKERS))
def test_crossing_streaks_keep_ids(name):
    # two streaks whose paths cross at frame 3 (they overlap there)
    a = _moving(7, 0, 100, 20, 0, 40, 0)
    b = _moving(7, 70, 30, 0, 20, 0, 40)
    dets = [np.vstack([a[t], b[t]]) for t in range(7)]
    out = track_segments(dets, name)
    for o in out:
        assert len(o) == 2
    id_a = {int(o[np.argmin(np.abs(o[:, 1] - o[:, 3]) + np.abs(o[:, 1] - 100)), 5]) for o in out}
    id_b = {int(o[np.argmax(np.abs(o[:, 1] - o[:, 3])), 5]) for o in out}
    assert len(id_a) == 1 and len(id_b) == 1 and id_a != id_b


@pytest.mark.parametrize("name", list(TRACKERS))
def test_ids_restart_per_tracker_instance(name):
    dets = [d[None] for d in _moving(3, 10, 10, 30, 0, 60, 0)]
    first = track_segments(dets, name)
    second = track_segments(dets, name)
    assert first[-1][0, 5] == second[-1][0, 5] == 1


def test_ocsort_recovers_after_missed_frames_where_sort_and_bytetrack_lose_the_track():
    # seen at 25 px/frame in frames 0-3, missed in 4-5, back slower (5 px/frame) from frame 6:
    # the Kalman prediction has run 65 px ahead, out of the 25 px gate; OC-SORT's recovery
    # (OCR) matches the track's last observation instead and keeps its id
    xs = [10, 35, 60, 85, None, None, 95, 100, 105]
    dets = [np.array([[x, 50, x + 40, 50, 20.0]]) if x is not None else np.zeros((0, 5)) for x in xs]
    ids = {name: [int(i) for o in track_segments(dets, name) for i in o[:, 5]] for name in TRACKERS}
    assert ids["ocsort"] == [1] * 7
    assert ids["sort"] == ids["bytetrack"] == [1] * 4 + [2] * 3


def test_bytetrack_low_score_continues_but_does_not_start():
    p = TrackerParams()
    track = _moving(5, 10, 50, 25, 0, 40, 0, score=p.high_score + 5)
    track[3][4] = p.low_score + 1  # a faint frame inside the track
    noise = np.array([300, 300, 340, 300, p.low_score + 1])  # faint, alone: never a track
    dets = [np.vstack([d, noise]) for d in track]
    out = track_segments(dets, "bytetrack", params=p)
    assert all(len(o) == 1 for o in out[1:])
    assert {int(o[0, 5]) for o in out} == {1}


@pytest.mark.parametrize("name", list(TRACKERS))
def test_min_hits_offline(name):
    track = _moving(4, 10, 50, 25, 0, 40, 0)
    blip = np.array([300, 300, 340, 300, 20.0])  # one frame only: an isolated false alarm
    dets = [np.vstack([d, blip]) if t == 2 else d[None] for t, d in enumerate(track)]
    out = track_segments(dets, name)
    assert [len(o) for o in out] == [1, 1, 1, 1]  # the track from its first frame, no blip
    single = track_segments([np.vstack([track[0], blip])], name)  # a one-frame sequence
    assert len(single[0]) == 2
