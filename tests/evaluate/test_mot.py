"""MOT metrics through TrackEval: hand-worked cases with expected values as fractions."""

import math

import numpy as np
import pytest
from astropy.table import Table

from debristrack.errors import InputError
from debristrack.evaluate import (
    ALPHAS,
    SUMMARY_FIELDS,
    MotConfig,
    MotResult,
    evaluate_data,
    evaluate_sequences,
    evaluate_tracks,
    track_metrics,
    tracking_data,
)
from debristrack.io.tables import empty_table


def frames_to_data(frames, *, scale=10.0):
    """Per-frame ``(gt_ids, pred_ids, distances)`` (py-motmetrics style, NaN = no match) to a
    TrackEval data dict, with similarity ``1 - d / scale`` (0 where d is NaN)."""
    gf, gi, pf, pi, sim = [], [], [], [], {}
    for t, (g_ids, p_ids, dist) in enumerate(frames):
        gf += [t] * len(g_ids)
        gi += list(g_ids)
        pf += [t] * len(p_ids)
        pi += list(p_ids)
        d = np.asarray(dist, float).reshape(len(g_ids), len(p_ids))
        for r, g in enumerate(g_ids):
            for c, p in enumerate(p_ids):
                sim[(len(gf) - len(g_ids) + r, len(pf) - len(p_ids) + c)] = \
                    0.0 if np.isnan(d[r, c]) else 1.0 - d[r, c] / scale
    return tracking_data(gf, gi, pf, pi, lambda g, p: np.array([sim[(a, b)] for a, b in zip(g, p)]),
                         num_timesteps=len(frames))


def streaks(rows):
    return Table(rows=rows, names=("frame", "id", "x1", "y1", "x2", "y2"),
                 dtype=(np.int64, np.int64, float, float, float, float))


def points(rows):
    return Table(rows=rows, names=("frame", "id", "x", "y"), dtype=(np.int64, np.int64, float, float))


def test_alphas_and_summary_fields():
    from trackeval.metrics import HOTA

    np.testing.assert_array_equal(ALPHAS, HOTA().array_labels)
    gt = points([[0, 1, 0.0, 0.0]])
    assert tuple(evaluate_tracks(gt, gt)) == SUMMARY_FIELDS


def test_perfect_tracking_scores_one():
    gt = streaks([[t, k, 10 * k, t, 10 * k + 8, t + 3] for t in range(5) for k in (1, 2, 3)])
    s = evaluate_tracks(gt, gt)
    for name in ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1"):
        assert s[name] == pytest.approx(1.0), name
    assert (s["IDS"], s["FP"], s["FN"], s["Frag"], s["MT"], s["ML"]) == (0, 0, 0, 0, 3, 0)


def test_id_switch_halves_association():
    # One object, four frames, found exactly, but under id 7 then id 8.
    gt = streaks([[t, 1, 0, 0, 10, 0] for t in range(4)])
    pred = streaks([[t, 7 if t < 2 else 8, 0, 0, 10, 0] for t in range(4)])
    s = evaluate_tracks(gt, pred)
    assert s["DetA"] == pytest.approx(1.0)
    assert s["AssA"] == pytest.approx(2 / (4 + 2 - 2))
    assert s["HOTA"] == pytest.approx(math.sqrt(1 / 2))
    assert s["MOTA"] == pytest.approx(1 - 1 / 4)
    assert s["IDS"] == 1
    assert s["IDF1"] == pytest.approx(2 / (2 + 0.5 * 2 + 0.5 * 2))


def test_localisation_threshold_sweep():
    # Similarity 0.62 in both frames: a match for the 12 alphas 0.05..0.60, none above.
    gt = points([[0, 1, 0.0, 0.0], [1, 1, 0.0, 0.0]])
    pred = points([[0, 5, 1.14, 0.0], [1, 5, 0.0, 1.14]])  # 1 - 1.14 / 3 = 0.62
    r = track_metrics(gt, pred, config=MotConfig(radius=3.0))
    s = r.summary()
    assert s["DetA"] == pytest.approx(12 / 19)
    assert s["AssA"] == pytest.approx(12 / 19)
    assert s["HOTA"] == pytest.approx(12 / 19)
    assert s["LocA"] == pytest.approx((12 * 0.62 + 7 * 1.0) / 19)
    np.testing.assert_allclose(r.curves()["DetA"], (ALPHAS < 0.62).astype(float))
    assert s["MOTA"] == pytest.approx(1.0) and s["MOTP"] == pytest.approx(0.62)
    # With threshold 0.7 the same pairs are no CLEAR / Identity matches.
    t = evaluate_tracks(gt, pred, threshold=0.7)
    assert (t["TP"], t["FP"], t["FN"]) == (0, 2, 2)
    assert t["MOTA"] == pytest.approx(1 - 4 / 2) and t["IDF1"] == 0.0


def test_motmetrics_mota_motp_case():
    # py-motmetrics tests/test_metrics.py::test_mota_motp, distances d as similarity 1 - d/10.
    nan = np.nan
    data = frames_to_data([
        ([], [1, 2], []),                               # all false positives
        ([1, 2], [], []),                               # all misses
        ([1, 2], [1, 2], [[1, 0.5], [0.3, 1]]),         # match
        ([1, 2], [1, 2], [[0.2, nan], [nan, 0.1]]),     # switch
        ([1, 2], [1, 2], [[5, 1], [1, 5]]),             # keeps history over better matches
        ([], [], []),
    ])
    s = evaluate_data(data).summary()
    assert (s["TP"], s["FP"], s["FN"], s["IDS"], s["Frames"]) == (6, 2, 2, 2, 6)
    assert s["MOTA"] == pytest.approx(1 - (2 + 2 + 2) / 8)
    assert s["MOTP"] == pytest.approx(1 - 11.1 / 6 / 10)


def test_motmetrics_ids_case():
    # py-motmetrics tests/test_metrics.py::test_ids: 10 matches, 3 switches.
    nan = np.nan
    data = frames_to_data([
        ([], [], []),
        ([1, 2], [1, 2], [[1, 0], [0, 1]]),
        ([1, 2], [1, 2], [[0.4, nan], [nan, 0.4]]),     # switch and transfer
        ([1, 2], [1, 2], [[0, 1], [1, 0]]),
        ([1, 2], [2, 3], [[1, 0], [0.4, 0.7]]),         # ascend (switch)
        ([1, 3], [2, 3], [[1, 0], [0.4, 0.7]]),         # migrate
        ([], [], []),
    ])
    s = evaluate_data(data).summary()
    assert (s["TP"], s["FP"], s["FN"], s["IDS"]) == (10, 0, 0, 3)
    assert s["MOTA"] == pytest.approx(1 - (0 + 0 + 3) / 10)
    assert s["MOTP"] == pytest.approx(1 - 1.6 / 10 / 10)


def test_motmetrics_correct_average_case():
    # py-motmetrics test_correct_average ("Evaluating MOT Performance", fig. 3).
    data = frames_to_data([([1, 2, 3, 4], [], [])] * 4 + [([4], [4], [[0]])] * 4)
    assert evaluate_data(data).summary()["MOTA"] == pytest.approx(0.2)


def test_combined_is_trackeval_combination_not_mean():
    gt_a = points([[t, 1, 5.0, 5.0] for t in range(10)])
    gt_b = points([[t, 1, 5.0, 5.0] for t in range(2)])
    pred_b = points([[0, 3, 5.0, 5.0], [1, 3, 50.0, 50.0]])
    per_seq, combined = evaluate_sequences({"a": (gt_a, gt_a), "b": (gt_b, pred_b)})
    c = combined.summary()
    assert per_seq["a"].summary()["MOTA"] == pytest.approx(1.0)
    assert per_seq["b"].summary()["MOTA"] == pytest.approx((1 - 1) / 2)
    assert c["MOTA"] == pytest.approx((11 - 1) / 12)
    assert (c["TP"], c["FP"], c["FN"], c["GT_IDs"], c["Frames"]) == (11, 1, 1, 2, 12)
    # DetA is recomputed from summed counts: (10 + 1) / (10 + 1 + 1 + 1) at every alpha.
    assert c["DetA"] == pytest.approx(11 / 13)
    assert MotResult.combine([per_seq["a"]]).summary() == per_seq["a"].summary()


def test_empty_prediction_and_empty_truth():
    gt = points([[0, 1, 0.0, 0.0], [1, 1, 0.0, 0.0]])
    s = evaluate_tracks(gt, empty_table("point"))
    assert (s["FN"], s["FP"], s["HOTA"], s["MOTA"], s["ML"]) == (2, 0, 0.0, 0.0, 1)
    # TrackEval returns early without GT and leaves MOTA at 0 for the sequence; once
    # combined, the false positives count: (0 - 2) / max(1, 0).
    empty_gt = track_metrics(empty_table("point"), gt)
    s = empty_gt.summary()
    assert (s["FN"], s["FP"], s["MOTA"]) == (0, 2, 0.0)
    assert MotResult.combine([empty_gt]).summary()["MOTA"] == -2.0


def test_flagged_rows_are_skipped():
    gt = points([[0, 1, 0.0, 0.0], [1, 1, 0.0, 0.0]])
    pred = points([[0, 1, 0.0, 0.0], [1, 1, np.nan, np.nan]])
    s = evaluate_tracks(gt, pred)
    assert (s["TP"], s["FN"], s["FP"]) == (1, 1, 0)


def test_box_option_and_width_change_streak_scores():
    gt = streaks([[0, 1, 0, 0, 20, 20]])
    pred = streaks([[0, 1, 1, 0, 21, 20]])
    thick = evaluate_tracks(gt, pred, width=3)["MOTP"]
    box = evaluate_tracks(gt, pred, similarity="box", width=3)["MOTP"]
    # A 1-px shift across a diagonal line costs more overlap than across its box.
    assert box == pytest.approx(22 * 23 / (2 * 23 * 23 - 22 * 23))
    assert thick < box
    assert evaluate_tracks(gt, pred, width=6)["MOTP"] > thick
    assert MotConfig(fwhm=2.5).line_width() == 5.0 and MotConfig().line_width() == 3.0


def test_bad_input_errors():
    gt = streaks([[0, 1, 0, 0, 10, 0]])
    with pytest.raises(InputError, match="is a point table but the ground truth"):
        evaluate_tracks(gt, points([[0, 1, 0.0, 0.0]]))
    with pytest.raises(InputError, match="not a point table"):
        evaluate_tracks(gt, gt, kind="point")
    with pytest.raises(InputError, match=r"prediction: duplicate \(frame, id\) = \(0, 1\)"):
        evaluate_tracks(gt, streaks([[0, 1, 0, 0, 10, 0], [0, 1, 5, 5, 9, 9]]))
    with pytest.raises(InputError, match="prediction: frame 3 is beyond the sequence's 2 frames"):
        track_metrics(gt, streaks([[3, 1, 0, 0, 10, 0]]), num_timesteps=2)
    with pytest.raises(InputError, match="unknown MotConfig parameter"):
        evaluate_tracks(gt, gt, radiuss=2)
    with pytest.raises(InputError, match="threshold must be in"):
        MotConfig(threshold=0)
    with pytest.raises(InputError, match="similarity must be"):
        MotConfig(similarity="mask")
