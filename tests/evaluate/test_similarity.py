"""Streak, box and point similarity: exact values, symmetries, bad input."""

import math

import numpy as np
import pytest

from debristrack.errors import InputError
from debristrack.geometry.similarity import (
    box_iou,
    convex_intersection_area,
    padded_box_iou,
    point_similarity,
    streak_iou,
    streak_iou_pairs,
    thick_line_corners,
    thick_width,
)


def rotate(segments, angle, centre=(0.0, 0.0)):
    """Rotate (N, 4) segments by ``angle`` radians about ``centre``."""
    c, s = math.cos(angle), math.sin(angle)
    p = np.asarray(segments, float).reshape(-1, 2, 2) - centre
    p = np.stack([c * p[..., 0] - s * p[..., 1], s * p[..., 0] + c * p[..., 1]], axis=-1) + centre
    return p.reshape(-1, 4)


def test_thick_width_is_twice_fwhm_at_least_three():
    assert thick_width(1.0) == 3.0
    assert thick_width(2.5) == 5.0


@pytest.mark.parametrize("fn", [streak_iou, padded_box_iou])
def test_identical_reversed_and_disjoint(fn):
    seg = [[10, 20, 40, 35]]
    assert fn(seg, seg, width=3)[0, 0] == pytest.approx(1.0, abs=1e-12)
    assert fn(seg, [[40, 35, 10, 20]], width=3)[0, 0] == pytest.approx(1.0, abs=1e-12)
    assert fn(seg, [[100, 100, 130, 90]], width=3)[0, 0] == 0.0


def test_thick_line_exact_values_as_fractions():
    a = [[0, 0, 10, 0]]  # a 13 x 3 rectangle with width 3
    # Shifted by 5 along the line: overlap 8 x 3.
    assert streak_iou(a, [[5, 0, 15, 0]], width=3)[0, 0] == pytest.approx(24 / (39 + 39 - 24))
    # Crossing at right angles: overlap 3 x 3.
    assert streak_iou(a, [[5, -5, 5, 5]], width=3)[0, 0] == pytest.approx(9 / (39 + 39 - 9))
    # A point is a 3 x 3 square inside the line.
    assert streak_iou(a, [[0, 0, 0, 0]], width=3)[0, 0] == pytest.approx(9 / 39)
    # Parallel, offset by 2 px across: overlap 13 x 1.
    assert streak_iou(a, [[0, 2, 10, 2]], width=3)[0, 0] == pytest.approx(13 / (78 - 13))


def test_horizontal_vertical_diagonal_alike():
    a, b = np.array([[0.0, 0, 20, 0]]), np.array([[3.0, 1.5, 25, 2.5]])
    base = streak_iou(a, b, width=4)[0, 0]
    assert 0 < base < 1
    for angle in (math.pi / 2, math.pi / 4, -math.pi / 4, math.pi, 1.234):
        got = streak_iou(rotate(a, angle, (7, 3)), rotate(b, angle, (7, 3)), width=4)[0, 0]
        assert got == pytest.approx(base, abs=1e-9), angle
    # Exact 90-degree rotation keeps the value to the last bit.
    assert streak_iou(rotate(a, math.pi / 2), rotate(b, math.pi / 2), width=4)[0, 0] == pytest.approx(base, abs=1e-12)


def test_padded_box_iou_is_symmetric_under_90_degrees():
    a, b = np.array([[0.0, 0, 20, 6]]), np.array([[2.0, 1, 22, 9]])
    base = padded_box_iou(a, b, width=3)[0, 0]
    assert padded_box_iou(rotate(a, math.pi / 2), rotate(b, math.pi / 2), width=3)[0, 0] == pytest.approx(base)
    # Box of [0,0,20,6] padded by 1.5: 23 x 9; of [2,1,22,9]: 23 x 11; overlap 21 x 8.
    assert base == pytest.approx(168 / (207 + 253 - 168))


def test_thick_iou_matches_rasterised_area():
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 20, (12, 4))
    b = a + rng.normal(0, 2.5, (12, 4))
    exact = streak_iou_pairs(a, b, width=3.5)
    # Count points of a fine grid inside each thick line.
    g = np.arange(-6, 26, 0.05) + 0.025
    X, Y = np.meshgrid(g, g)
    pts = np.stack([X.ravel(), Y.ravel()], axis=1)

    def inside(seg):
        corners = thick_line_corners(seg[None], 3.5)[0]
        ok = np.ones(len(pts), bool)
        for k in range(4):
            e0, e1 = corners[k], corners[(k + 1) % 4]
            ok &= (e1[0] - e0[0]) * (pts[:, 1] - e0[1]) - (e1[1] - e0[1]) * (pts[:, 0] - e0[0]) >= 0
        return ok

    for k in range(len(a)):
        ia, ib = inside(a[k]), inside(b[k])
        assert exact[k] == pytest.approx((ia & ib).sum() / (ia | ib).sum(), abs=0.01)


def test_convex_intersection_of_squares():
    sq = np.array([[[0, 0], [2, 0], [2, 2], [0, 2]]], float)
    assert convex_intersection_area(sq, sq + 1.0)[0] == pytest.approx(1.0)
    assert convex_intersection_area(sq, sq + 5.0)[0] == 0.0
    assert convex_intersection_area(sq, sq)[0] == pytest.approx(4.0)


def test_matrix_shape_and_empty_sets():
    a = np.array([[0, 0, 10, 0], [0, 5, 10, 5]], float)
    b = np.array([[0, 0, 10, 0], [50, 50, 60, 50], [0, 5, 10, 5]], float)
    m = streak_iou(a, b, width=3)
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m, [[1, 0, 0], [0, 0, 1]], atol=1e-12)
    assert streak_iou(a, np.zeros((0, 4))).shape == (2, 0)


@pytest.mark.parametrize("fn", [streak_iou, padded_box_iou])
def test_bad_segments_give_clear_errors(fn):
    good = [[0, 0, 10, 0]]
    with pytest.raises(InputError, match=r"b: row 1 has a NaN"):
        fn(good, [[0, 0, 1, 1], [0, np.nan, 1, 1]])
    with pytest.raises(InputError, match=r"a: expected an \(N, 4\) array.*shape \(0,\)"):
        fn([], good)
    with pytest.raises(InputError, match=r"expected an \(N, 4\) array"):
        fn([[0, 0, 1]], good)
    with pytest.raises(InputError, match="width must be a positive"):
        fn(good, good, width=0)


def test_point_similarity():
    m = point_similarity([[0, 0]], [[0, 0], [1.5, 0], [0, 2], [3, 4]], radius=3)
    np.testing.assert_allclose(m, [[1, 1 / 2, 1 - 2 / 3, 0]])
    with pytest.raises(InputError, match="radius must be a positive"):
        point_similarity([[0, 0]], [[0, 0]], radius=-1)
    with pytest.raises(InputError, match="a: row 0 has a NaN"):
        point_similarity([[np.nan, 0]], [[0, 0]])


def test_box_iou():
    assert box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0] == pytest.approx(1 / 7)
    with pytest.raises(InputError, match="x1 < x0"):
        box_iou([[2, 0, 0, 2]], [[1, 1, 3, 3]])
