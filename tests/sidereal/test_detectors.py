import numpy as np
import pytest

from debristrack.detect.streaks import LSDParams, MatchedParams, detect_lsd, detect_matched, star_mask
from debristrack.detect.streaks.geometry import explain_away, line_snr, merge_collinear, left_endpoint_first
from debristrack.track.segments import endpoint_cost

from .conftest import make_frame


def _near(found, truth, tol):
    d = endpoint_cost(np.atleast_2d(truth), found)
    return d.min() <= tol


def test_lsd_finds_bright_streak():
    img = make_frame([(30, 40, 170, 150, 300)])
    segs = detect_lsd(img)
    assert segs.shape[1] == 5 and len(segs) >= 1
    best = segs[np.argmax(segs[:, 4])]
    assert _near(best[None], [30, 40, 170, 150], 6.0)


def test_lsd_nothing_on_stars_only():
    assert len(detect_lsd(make_frame(seed=3))) == 0


@pytest.mark.parametrize("streak", [(30, 40, 170, 150), (100, 20, 100.5, 180), (20, 100, 180, 100)])
def test_matched_endpoints(streak):
    img = make_frame([(*streak, 80)])
    segs = detect_matched(img, static_stars=star_mask(make_frame(seed=9), None, MatchedParams()))
    assert len(segs) == 1
    assert _near(segs, streak, 1.5)
    assert segs[0, 0] <= segs[0, 2]  # left endpoint first


def test_matched_faint_streak():
    img = make_frame([(30, 60, 170, 130, 35)])  # about 2 sigma per pixel at the peak
    segs = detect_matched(img)
    assert len(segs) == 1 and _near(segs, [30, 60, 170, 130], 3.0)


def test_truncated_streak_is_one_segment():
    img = make_frame([(20, 100, 90, 100, 80), (112, 100, 180, 100, 80)])
    segs = detect_matched(img)
    assert len(segs) == 1
    assert _near(segs, [20, 100, 180, 100], 2.0)


def test_crossing_streaks_are_split():
    # no stars: the field's brightest star sits on (180, 180), where an end would be hidden
    img = make_frame([(20, 20, 180, 180, 90), (20, 180, 180, 20, 90)], stars=False)
    segs = detect_matched(img)
    assert len(segs) == 2
    assert _near(segs, [20, 20, 180, 180], 2.0) and _near(segs, [20, 180, 180, 20], 2.0)


def test_matched_no_false_alarm_on_stars_and_noise():
    # star field 3 has no blended star pair; field 7 has one on its left edge, which reads
    # as a short streak in one frame and is removed by the tracker's min_speed instead
    for seed in range(3):
        assert len(detect_matched(make_frame(seed=seed, star_seed=3))) == 0


def test_merge_collinear_joins_pieces_and_ignores_parallel():
    segs = np.array([[0, 0, 40, 0, 5], [50, 0.5, 90, 0.5, 5], [0, 10, 90, 10, 5]], float)
    out = merge_collinear(segs, angle_tol=3, dist_tol=2, max_gap=15)
    assert len(out) == 2
    joined = out[np.argmin(np.abs(out[:, 1]))]
    assert joined[0] == pytest.approx(0, abs=0.5) and joined[2] == pytest.approx(90, abs=0.5)
    assert joined[4] == pytest.approx(np.sqrt(50))


def test_left_endpoint_first_left_endpoint_first():
    a = left_endpoint_first([[10, 50, 10, 0, 1], [5, 5, 1, 9, 2]])
    assert a[:, :4].tolist() == [[10, 0, 10, 50], [1, 9, 5, 5]]


def test_explain_away_keeps_crossing():
    segs = np.array([[0, 0, 100, 0, 10], [10, 0.5, 60, 1.0, 5], [50, -50, 50, 50, 8]], float)
    out = explain_away(np.ones((120, 120)), 1.0, segs + [10, 60, 10, 60, 0], radius=2, min_snr=3)
    # the short piece along the long segment is explained away; the crossing one stays
    assert len(out) == 2 and not np.any(np.isclose(out[:, 0], 20))


def test_line_snr_scales_with_signal():
    res = np.zeros((50, 50))
    res[25, 5:45] = 2.0
    snr = line_snr(res, 1.0, [[5, 25, 44, 25, 0]])
    assert snr[0] == pytest.approx(2.0 * np.sqrt(40), rel=0.05)


def test_params_have_help():
    import dataclasses
    for cls in (LSDParams, MatchedParams):
        assert all(f.metadata.get("help") for f in dataclasses.fields(cls))


def test_correlated_noise_does_not_make_streaks():
    from scipy import ndimage
    rng = np.random.default_rng(4)
    noise = ndimage.gaussian_filter(rng.normal(0, 1, (200, 200)), 1.2)  # resampled-looking noise
    img = (100 + 10 * noise / noise.std()).astype(np.float32)
    assert len(detect_matched(img)) == 0
    assert len(detect_matched(img + make_frame([(30, 60, 170, 130, 120)], stars=False) - 100)) == 1


def test_components_from_the_pixel_list_are_ndimage_labels():
    """candidate_lines labels ridge pixels from their list (sparse) or on the frame (dense): both
    give ndimage.label's 8-connected components, numbered alike."""
    from scipy import ndimage

    from debristrack.detect.streaks.matched import _label_points

    rng = np.random.default_rng(1)
    for k, density in enumerate([0.0005, 0.01, 0.08] * 5):
        img = rng.random((60, 70)) < density
        ys, xs = np.nonzero(img)
        if len(ys) == 0:
            continue
        lab, n = _label_points(xs, ys, img.shape)
        ref, m = ndimage.label(img, structure=np.ones((3, 3), bool))
        assert n == m > 0 and np.array_equal(lab, ref[ys, xs]), k


@pytest.mark.parametrize("shape", [(300, 200), (600, 1100)])
def test_filter_bank_is_the_direct_correlation(shape):
    """The tiled FFT filter bank gives each orientation's correlation with zeros outside the
    frame (OpenCV's filter2D, BORDER_CONSTANT), the best of them and its angle (the first on
    a tie), and the same numbers on one thread as on two."""
    import cv2

    from debristrack.detect.streaks.matched import RIDGE_TOL, filter_response, line_kernels

    rng = np.random.default_rng(1)
    z = rng.normal(size=shape).astype(np.float32)
    z[50:53, 20:190] += 2.0  # a line, and a bright corner pixel: the frame's edges matter
    z[0, -1] = 30.0
    kernels = line_kernels(21, 1.1, 24)
    first = np.full(shape, np.nan, np.float32)
    best, angle = filter_response(z, kernels, first=first)
    responses = np.stack([cv2.filter2D(z, cv2.CV_32F, k, borderType=cv2.BORDER_CONSTANT) for k in kernels])
    top = responses.max(axis=0)
    np.testing.assert_allclose(best, top, atol=2e-5, rtol=2 * RIDGE_TOL)
    np.testing.assert_allclose(first, responses[0], atol=2e-5)  # the first kernel's own (noise_gain's)
    # the angle is the first orientation within the tie tolerance of the best
    earliest = np.argmax(responses >= top - 2 * RIDGE_TOL * np.abs(top) - 2e-5, axis=0)
    assert np.all(angle >= earliest)
    assert np.all(responses[angle, *np.indices(shape)] >= top - 2 * RIDGE_TOL * np.abs(top) - 2e-5)
    assert angle[51, 100] == 0 and best[51, 100] > 5  # the horizontal line, found by the horizontal kernel
    one = filter_response(z, kernels, threads=1)
    assert np.array_equal(one[0], best) and np.array_equal(one[1], angle)


def test_wide_clipped_trail_gives_its_centre_line():
    """A trail wider than the PSF and brighter than clip_snr is a plateau of the filter bank:
    its candidate is its centre line, not what float rounding makes of its edges."""
    ny, nx = 300, 300
    yy, xx = np.mgrid[0:ny, 0:nx]
    # a 16 px wide bar from (60, 299) to (200, 0), crest 40 sigma over noise of sigma 1
    d = np.abs((xx - 60) * 299 + (yy - 299) * 140) / np.hypot(140, 299)
    img = np.random.default_rng(2).normal(100.0, 1.0, (ny, nx)) + 40.0 * (d <= 8)
    segs = detect_matched(img.astype(np.float32))
    assert len(segs) >= 1
    best = segs[np.argmax(segs[:, 4])]
    assert _near(best[None], [60, 299, 200, 0], 8.0)


def test_prepared_frame_with_its_sky_rms_gives_the_same_streak():
    """detect_matched on a frame prepare() has background-subtracted already, given that
    model's noise (sky_rms), skips a second sky model and finds the same streak to 0.5 px."""
    from debristrack.detect.streaks.clean import prepare

    img = make_frame([(30, 60, 170, 130, 60)])
    prepared, info = prepare(img)
    assert info["sky_rms"] is not None and info["sky_rms"] > 0
    own = detect_matched(prepared)
    given = detect_matched(prepared, sky_rms=info["sky_rms"])
    assert len(own) == len(given) == 1
    assert np.abs(own[:, :4] - given[:, :4]).max() < 0.5
