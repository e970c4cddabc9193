"""Detection rate, false-alarm rate and position RMS ([GEO] sec. 4, [TRK] sec. 5.2)."""

import math

import numpy as np
import pytest
from astropy.table import Table

from debristrack.errors import InputError
from debristrack.evaluate import DetectionFigures, detection_figures, match_points


def points(rows):
    return Table(rows=rows, names=("frame", "id", "x", "y"), dtype=(np.int64, np.int64, float, float))


def test_match_points_is_one_to_one_and_prefers_more_matches():
    # GT 1 could take either detection; the one-to-one optimum gives each GT its own.
    matches, un_gt, un_pred, d = match_points([[0, 0], [2.5, 0]], [[1.2, 0], [4.0, 0], [50, 50]], radius=2)
    assert sorted(map(tuple, matches)) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(sorted(d), [1.2, 1.5])
    assert list(un_gt) == [] and list(un_pred) == [2]
    matches, un_gt, un_pred, d = match_points(np.zeros((0, 2)), [[0, 0]], radius=2)
    assert len(matches) == 0 and list(un_pred) == [0]


def test_figures_hand_worked():
    gt = points([[0, 1, 10, 10], [0, 2, 40, 40], [1, 1, 11, 10], [1, 2, 41, 40], [2, 1, 12, 10]])
    pred = points([[0, 5, 10, 11],            # 1 px off
                   [0, 6, 100, 100],          # false alarm
                   [1, 5, 11, 12],            # 2 px off
                   [1, 6, 41, 43.5],          # 3.5 px off: beyond radius 3, a false alarm
                   [2, 5, 12, 10]])           # exact
    f = detection_figures(gt, pred, radius=3)
    assert (f.n_true, f.n_detected, f.n_detections, f.n_false) == (5, 3, 5, 2)
    assert f.detection_rate == pytest.approx(3 / 5)
    assert f.false_alarm_rate == pytest.approx(2 / 5)
    assert f.position_rms == pytest.approx(math.sqrt((1 + 4 + 0) / 3))
    wide = detection_figures(gt, pred, radius=4)
    assert wide.detection_rate == pytest.approx(4 / 5)


def test_combine_sums_counts():
    a = DetectionFigures(n_true=10, n_detected=9, n_detections=10, n_false=1, sq_error=9.0)
    b = DetectionFigures(n_true=2, n_detected=0, n_detections=3, n_false=3, sq_error=0.0)
    c = DetectionFigures.combine([a, b])
    assert c.detection_rate == pytest.approx(9 / 12)
    assert c.false_alarm_rate == pytest.approx(4 / 13)
    assert c.position_rms == pytest.approx(1.0)
    assert c == a + b
    assert math.isnan(DetectionFigures().detection_rate)


def test_needs_point_tables():
    streaks = Table(rows=[[0, 1, 0.0, 0.0, 5.0, 0.0]], names=("frame", "id", "x1", "y1", "x2", "y2"))
    with pytest.raises(InputError, match="need a point table"):
        detection_figures(streaks, streaks)
    with pytest.raises(InputError, match="radius must be a positive"):
        detection_figures(points([[0, 1, 0, 0]]), points([[0, 1, 0, 0]]), radius=0)
