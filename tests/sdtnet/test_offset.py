import numpy as np
import pytest

from debristrack.sdtnet.decode import Streaks
from debristrack.track.offset import OffsetTracker
from debristrack.track.physical import plausible_one_frame_trail


def _physical_streaks(frames, *, speed, angle, exptime=5.0, cadence=6.0, start=(100.0, 150.0), shape=(512, 512)):
    """One object moving ``speed`` px per cadence: each frame's streak is v x EXPTIME long and
    the next starts a cadence later on the same line (consecutive streaks end to end)."""
    u = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    rate = speed / cadence
    out = []
    for k in range(frames):
        a = np.asarray(start) + u * rate * cadence * k
        b = a + u * rate * exptime
        left, right = (a, b) if (a[0], a[1]) <= (b[0], b[1]) else (b, a)
        out.append(Streaks(left[None], right[None], np.ones(1), np.zeros((1, 2)), np.zeros((1, 2))))
    return out


@pytest.mark.parametrize("angle", [30.0, 210.0, 95.0])
def test_physically_moving_streak_gives_one_track(angle):
    # 68 px per frame, as in issue 17; the offset head predicts nothing (zeros): the streak's own
    # geometry (rate = length / EXPTIME, the next streak a cadence later) must link every frame
    shape = (512, 512)
    start = (100.0, 150.0) if np.cos(np.radians(angle)) > 0 else (420.0, 400.0)
    dets = _physical_streaks(5, speed=68.0, angle=angle, start=start)
    tracker = OffsetTracker(radius=90.0, max_gap=2, motion=True, shape=shape)
    ids = [tracker.update(k, d, start=6.0 * k, exptime=5.0).tolist() for k, d in enumerate(dets)]
    assert ids == [[1]] * 5
    # without the frame times (eq. 13-14 with these offsets alone) the same detections fall apart
    paper = OffsetTracker(radius=90.0, max_gap=2, motion=True, shape=shape)
    assert len({i for k, d in enumerate(dets) for i in paper.update(k, d).tolist()}) > 1


def test_two_physical_objects_keep_their_ids():
    a = _physical_streaks(4, speed=120.0, angle=10.0, start=(20.0, 100.0))
    b = _physical_streaks(4, speed=40.0, angle=-80.0, start=(300.0, 480.0))
    tracker = OffsetTracker(radius=90.0, max_gap=2, motion=True, shape=(512, 512))
    for k in range(4):
        dets = Streaks(*(np.vstack([getattr(a[k], f), getattr(b[k], f)]) for f in
                         ("left", "right")), np.ones(2), np.zeros((2, 2)), np.zeros((2, 2)))
        assert tracker.update(k, dets, start=6.0 * k, exptime=5.0).tolist() == [1, 2]


def test_one_frame_trail_rule():
    starts, exptimes = np.array([0.0, 6.0, 12.0]), np.full(3, 5.0)
    # a short streak in the middle of the field would be seen again either way: not a one-frame trail
    assert not plausible_one_frame_trail(np.array([240.0, 250.0, 260.0, 250.0]), 1, starts, exptimes, (512, 512))
    # a long fast one (400 px in 5 s): the neighbouring exposures put it outside the field
    assert plausible_one_frame_trail(np.array([50.0, 250.0, 450.0, 250.0]), 1, starts, exptimes, (512, 512))
    # cut by the edge: its rate is only a lower bound, kept
    assert plausible_one_frame_trail(np.array([1.0, 250.0, 30.0, 250.0]), 1, starts, exptimes, (512, 512))
