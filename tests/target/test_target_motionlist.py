"""The [TRK] steps as pure functions over centroid arrays."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from debristrack.track.motionlist import (
    COLLISION, FAINT, FOUND, LOST, OUTSIDE, chance_members, cluster_lists, follow_objects, k_max_from_arcsec,
    nearest_movement, stationarity, suspicious_list)


def test_nearest_movement_hand_case():
    prev = np.array([[0.0, 0.0], [10.0, 0.0]])
    cur = np.array([[3.0, 4.0], [10.0, 1.0], [20.0, 0.0]])
    d, i = nearest_movement(cur, prev)
    np.testing.assert_allclose(d, [5.0, 1.0, 10.0])
    np.testing.assert_array_equal(i, [0, 1, 1])
    d2, i2 = nearest_movement(cur, cKDTree(prev))
    np.testing.assert_allclose(d2, d)


def test_nearest_movement_empty_previous_frame():
    d, i = nearest_movement(np.array([[1.0, 2.0]]), np.zeros((0, 2)))
    assert np.isinf(d).all() and (i == -1).all()


def test_suspicious_list_is_ranked_and_bounded_by_k_max():
    d = np.array([5.0, 0.5, 2.0, 1.0, np.inf, 2.5])
    np.testing.assert_array_equal(suspicious_list(d, 2.0), [1, 3, 2])
    assert suspicious_list(d, 0.1).size == 0


def test_k_max_from_arcsec_rounds_up():
    assert k_max_from_arcsec(2.9, 1.45) == 2.0          # 2 px exactly
    assert k_max_from_arcsec((2.0, 2.0), 1.0) == 3.0    # ceil(sqrt(8)) = ceil(2.83)
    assert k_max_from_arcsec(0.1, 1.45) == 1.0          # never below one pixel
    with pytest.raises(ValueError):
        k_max_from_arcsec((1.0, 2.0, 3.0), 1.0)


def test_cluster_lists_threshold_and_moving_centre():
    # Entry 0 starts cluster 0; entry 1 (1.5 px away) joins it and becomes its centre; entry 2
    # is 1.5 px from that new centre (2.9 px from the first) and still joins; entry 3 is far.
    frames = np.array([1, 2, 3, 3])
    xy = np.array([[0.0, 0.0], [1.5, 0.0], [2.9, 0.3], [50.0, 50.0]])
    np.testing.assert_array_equal(cluster_lists(frames, xy, 2.0), [0, 0, 0, 1])


def test_cluster_lists_takes_one_entry_per_frame():
    frames = np.array([1, 2, 2])
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0]])
    labels = cluster_lists(frames, xy, 2.0)
    assert labels[2] == 0 and labels[1] == 1   # the nearer entry joins, the other starts anew


def test_stationarity_of_a_drifting_line_is_zero():
    f = np.arange(10)
    xy = np.column_stack([100 + 0.3 * f, 50 - 0.1 * f])
    p1, p2 = stationarity(f, xy)
    assert p1 == pytest.approx(0, abs=1e-9) and p2 == pytest.approx(0, abs=1e-9)
    xy[4, 0] += 3.0
    p1, p2 = stationarity(f, xy)
    assert p1 > 2.0 and p2 < p1


def _catalogues(n_frames, target, rng, n_stars=200, step=(9.0, 4.0), size=1000.0):
    stars = rng.uniform(0, size, (n_stars, 2))
    return [np.vstack([stars + k * np.asarray(step), target + rng.uniform(-0.4, 0.4, 2)])
            for k in range(n_frames)]


def test_follow_objects_finds_the_still_source_among_moving_stars():
    rng = np.random.default_rng(3)
    cats = _catalogues(30, np.array([500.0, 500.0]), rng)
    result = follow_objects(cats, k_max=2.0)
    assert len(result.trajectories) == 1
    traj = result.trajectories[0]
    assert traj.found.all() and (traj.flag == FOUND).all()
    np.testing.assert_allclose(traj.xy, 500.0, atol=0.5)
    assert traj.max_residual <= 2.0 and traj.rms_residual <= 1.0


def test_follow_objects_reports_nothing_when_nothing_is_followed():
    rng = np.random.default_rng(4)
    stars = rng.uniform(0, 1000, (300, 2))
    cats = [stars + k * np.array([9.0, 4.0]) for k in range(20)]
    result = follow_objects(cats, k_max=2.0)
    assert result.trajectories == [] and result.note == ""


def test_follow_objects_refuses_when_the_stars_do_not_move():
    rng = np.random.default_rng(5)
    stars = rng.uniform(0, 1000, (300, 2))
    cats = [stars + rng.normal(0, 0.2, stars.shape) for _ in range(5)]
    result = follow_objects(cats, k_max=2.0)
    assert result.trajectories == [] and "not moving" in result.note
    assert result.static_fraction > 0.9


def test_missing_frames_are_explained():
    rng = np.random.default_rng(6)
    cats = _catalogues(12, np.array([500.0, 500.0]), rng)
    boxes = [np.zeros((len(c), 4), dtype=np.int64) for c in cats]
    # Frame 5: the object is gone and a star's footprint covers its place; frame 8: gone.
    cats[5] = cats[5][:-1]
    boxes[5] = np.array([[495, 505, 495, 505]])
    cats[8] = cats[8][:-1]
    boxes[8] = boxes[8][:-1]
    result = follow_objects(cats, k_max=2.0, footprints=boxes, shape=(1000, 1000))
    traj = result.trajectories[0]
    assert traj.flag[5] == COLLISION and traj.flag[8] == FAINT
    assert np.isnan(traj.xy[[5, 8]]).all()
    assert traj.found.sum() == 10


def test_object_leaving_the_frame_is_flagged_outside():
    rng = np.random.default_rng(7)
    cats = _catalogues(10, np.array([998.0, 500.0]), rng)
    cats[9] = cats[9][:-1]
    traj = follow_objects(cats, k_max=2.0, shape=(1000, 998)).trajectories[0]
    assert traj.flag[9] == OUTSIDE


def test_chance_members_grows_with_crowded_lists():
    # Sparse lists (5 entries in 1000x1000 px): no more than the 3 members asked anyway.
    assert chance_members(np.full(20, 5), 1e6, 2.0) <= 3
    # Crowded lists (a fifth of all 2 px discs hold an entry): chance clusters of a few members
    # are everywhere, so a real object needs many more.
    crowded = chance_members(np.full(20, 16000), 1e6, 2.0)
    assert 8 <= crowded <= 20
    assert chance_members(np.full(20, 16000), 1e6, 2.0, false_objects=1e-6) > crowded


def test_dense_chance_coincidences_are_not_objects():
    # 4000 random sources per frame in 400x400 px, fresh every frame: the lists are full of
    # chance pairs, and the largest clusters pass the two properties by luck.
    rng = np.random.default_rng(8)
    cats = [rng.uniform(0, 400, (4000, 2)) for _ in range(16)]
    assert follow_objects(cats, k_max=2.0, shape=(400, 400), max_static_fraction=1.0).trajectories == []


def _with_model(cats, flux, width):
    fluxes = [np.full(len(c), flux) for c in cats]
    widths = [np.full(len(c), width) for c in cats]
    return fluxes, widths


def test_model_rejects_a_star_that_crosses_the_object():
    rng = np.random.default_rng(9)
    cats = _catalogues(14, np.array([500.0, 500.0]), rng)
    fluxes, widths = _with_model(cats, 100.0, 1.2)
    # Frame 6: the object merged with a bright star 1.5 px away (one source, 20x the flux, wider).
    cats[6] = cats[6].copy()
    cats[6][-1] = [501.5, 500.0]
    fluxes[6][-1], widths[6][-1] = 2000.0, 2.5
    traj = follow_objects(cats, k_max=2.0, fluxes=fluxes, widths=widths, shape=(1000, 1000)).trajectories[0]
    assert traj.flag[6] == COLLISION and np.isnan(traj.xy[6]).all()
    others = np.arange(14) != 6
    assert (traj.flag[others] == FOUND).all()
    np.testing.assert_allclose(traj.xy[others], 500.0, atol=0.5)


def test_a_run_of_missing_frames_is_flagged_lost():
    rng = np.random.default_rng(10)
    cats = _catalogues(16, np.array([500.0, 500.0]), rng)
    for k in (11, 12, 13, 14, 15):   # the object fades out for the last five frames
        cats[k] = cats[k][:-1]
    cats[4] = cats[4][:-1]           # and misses one frame earlier
    traj = follow_objects(cats, k_max=2.0, shape=(1000, 1000)).trajectories[0]
    assert (traj.flag[11:] == LOST).all()
    assert traj.flag[4] == FAINT and traj.found.sum() == 10


def test_an_object_of_steady_flux_stands_out_of_a_crowded_field():
    # 3000 random sources per frame (random fluxes over two decades) in 400x400 px and one
    # still object of steady flux, measured in 10 of 16 frames: the chance bound over all the
    # entries would ask for more members than it has, the bound over the entries of its flux does not.
    rng = np.random.default_rng(11)
    cats, fluxes, widths = [], [], []
    for k in range(16):
        xy = rng.uniform(0, 400, (3000, 2))
        f = 10 ** rng.uniform(2, 4, 3000)
        if k % 3 != 1:
            xy = np.vstack([xy, [200.0, 200.0] + rng.uniform(-0.3, 0.3, 2)])
            f = np.append(f, 500.0 * rng.uniform(0.9, 1.1))
        cats.append(xy)
        fluxes.append(f)
        widths.append(np.full(len(xy), 1.2))
    result = follow_objects(cats, k_max=2.0, fluxes=fluxes, widths=widths, shape=(400, 400),
                            max_static_fraction=1.0)
    assert len(result.trajectories) == 1
    traj = result.trajectories[0]
    present = np.arange(16) % 3 != 1
    np.testing.assert_allclose(traj.xy[present], 200.0, atol=0.5)
    assert traj.found[present].all()
