"""Trail validator: real-sky look-alikes are rejected for their reason, faint trails kept."""

from __future__ import annotations

import numpy as np

from debristrack.detect.streaks.background import subtract_background
from debristrack.detect.streaks.clean import (masked_median_rows, median_columns, median_rows, prepare,
                                               remove_impulses, skewed_noise)
from debristrack.detect.streaks.validate import (curved_chains, frame_fwhm, saturated_cores,
                                                  suppress_duplicates, validate_trails, validated)

from .conftest import SIGMA, add_streak, make_frame

FWHM = 2.5


def _judge(img, segs, saturation=None):
    res, sigma = subtract_background(img)
    v = validate_trails(res, sigma, np.asarray(segs, float), fwhm=FWHM,
                        saturated=saturated_cores(img, saturation))
    return list(v.reason), v


def test_faint_psf_wide_ridge_is_kept():
    # 2 sigma per pixel at the crest: faint, yet a ridge of the PSF's width
    img = make_frame([(20, 60, 180, 140, 2.0 * 10 * np.sqrt(2 * np.pi) * SIGMA)], seed=3)
    reasons, v = _judge(img, [[20, 60, 180, 140]])
    assert reasons == [""]
    assert 0.7 * FWHM < v.width[0] < 1.6 * FWHM


def test_step_edge_is_rejected():
    img = make_frame(stars=False, seed=4)
    yy, xx = np.mgrid[0:200, 0:200]
    img += np.where(xx > 100 + 0.3 * yy, 80.0, 0.0).astype(np.float32)  # a nebula edge: bright on one side
    # the ridge that a line filter finds on the bright side of the edge
    reasons, _ = _judge(img, [[101.5, 0, 161.5, 199]])
    assert reasons == ["step"]


def test_saturated_star_spike_is_rejected():
    img = make_frame(stars=False, seed=5)
    img[95:106, 95:106] = 65535.0  # saturated core
    img[100, 30:170] += 400.0      # a spike through it (also thin)
    img[99, 30:170] += 200.0
    img[101, 30:170] += 200.0
    reasons, _ = _judge(img, [[30, 100, 170, 100], [100, 30, 100, 90]], saturation=65535.0)
    assert reasons[0] in ("spike", "bleed")
    assert reasons[1] in ("spike", "bleed")


def test_halo_ring_piece_is_rejected():
    img = make_frame(stars=False, seed=6)
    img[95:106, 95:106] = 65535.0
    reasons, _ = _judge(img, [[120, 90, 125, 115]], saturation=65535.0)
    assert reasons == ["saturated_star"]


def test_bad_row_is_rejected():
    img = make_frame(stars=False, seed=7)
    img[120, :] += 60.0  # one bright row, one pixel thick: thinner than the PSF
    reasons, _ = _judge(img, [[0, 120, 199, 120]])
    assert reasons[0] in ("too_thin", "bad_line")


def test_knot_is_rejected_but_a_gappy_trail_is_not():
    img = make_frame([(20, 100, 180, 100, 300.0)], stars=False, seed=8)
    add_streak(img, 90, 100, 100, 100, 10000.0)  # most of the light in one short knot
    reasons, _ = _judge(img, [[20, 100, 180, 100]])
    assert reasons == ["knot"]
    blob = make_frame(stars=False, seed=8)
    add_streak(blob, 90, 100, 100, 100, 6000.0)  # a knot alone: no ridge along most of the line
    assert _judge(blob, [[20, 100, 180, 100]])[0] == ["faint_ridge"]
    trail = make_frame([(20, 50, 90, 50, 600.0), (120, 50, 180, 50, 600.0)], stars=False, seed=9)
    assert _judge(trail, [[20, 50, 180, 50]])[0] == [""]


def test_frame_fwhm_from_stars():
    img = make_frame(seed=1)
    res, sigma = subtract_background(img)
    assert abs(frame_fwhm(res, sigma) - FWHM) < 0.4


def test_wide_trail_duplicates_and_curved_chain():
    segs = np.array([[0, 100, 200, 100, 50.0], [0, 105, 200, 105, 60.0], [0, 95, 200, 95, 55.0]])
    kept = suppress_duplicates(segs, np.array([12.0, 10.0, 10.0]), np.array([30.0, 20.0, 20.0]), fwhm=FWHM)
    assert kept.tolist() == [0]
    pieces = np.array([[0, 0, 50, 0, 9.0], [50, 0, 95, 15, 9.0], [0, 150, 199, 150, 9.0]])
    assert curved_chains(pieces).tolist() == [True, True, False]


def test_prepare_removes_hot_pixels_and_keeps_the_trail():
    rng = np.random.default_rng(2)
    img = make_frame([(20, 60, 180, 140, 800.0)], stars=False, seed=2)
    hot = rng.random(img.shape) < 0.08
    img[hot] += rng.uniform(50, 500, hot.sum()).astype(np.float32)  # a dark-current-limited CCD
    res, _ = subtract_background(img)
    assert skewed_noise(res)
    cleaned, n = remove_impulses(img)
    assert n > 0.5 * hot.sum()
    prepared, info = prepare(img)
    segs = np.array([[20, 60, 180, 140, 0.0]])
    kept, v = validated(img, None, segs, residual=(prepared, float(np.std(prepared[:40, 150:]))))
    assert len(kept) == 1, v.reason


def test_prepare_keeps_the_frames_sky_model_only_under_a_few_impulses():
    """prepare subtracts the sky model of the frame itself when its impulses are few (cosmic
    rays: to a few hundredths of sigma rms the model of the cleaned frame) and the cleaned
    frame's own model when they are many (hot pixels bias the frame's)."""
    from debristrack.detect.streaks.clean import FEW_IMPULSES, destripe

    rng = np.random.default_rng(5)
    for fraction in (0.0005, 0.02):
        img = make_frame([(20, 60, 180, 140, 60.0)], stars=False, seed=3, shape=(512, 512))
        hits = rng.random(img.shape) < fraction
        img[hits] += rng.uniform(200, 2000, hits.sum()).astype(np.float32)
        prepared, info = prepare(img)
        cleaned, n = remove_impulses(img)
        assert info["impulses"] == n and not info["median"]
        assert (n <= FEW_IMPULSES * img.size) == (fraction < FEW_IMPULSES)
        diff = (prepared - destripe(subtract_background(cleaned)[0])) / SIGMA
        if fraction < FEW_IMPULSES:
            assert 0 < np.sqrt(np.mean(diff ** 2)) < 0.05
        else:
            assert np.abs(diff).max() < 1e-5


def test_fast_medians_give_numpys_numbers():
    """destripe's medians: the values of np.median / np.nanmedian (NaN on the masked pixels, 0
    for a fully masked row), for even and odd row lengths and masked counts."""
    import warnings

    rng = np.random.default_rng(4)
    for shape in [(1, 1), (3, 1), (2, 2), (5, 7), (6, 8), (40, 64), (33, 601)]:
        a = rng.normal(size=shape).astype(np.float32)
        a[rng.random(shape) < 0.3] = 0.5  # ties
        assert np.array_equal(median_rows(a), np.median(a, axis=1))
        assert np.array_equal(median_columns(a), np.median(a, axis=0))
        for fraction in (0.0, 0.1, 0.5, 0.95, 1.0):
            mask = rng.random(shape) < fraction
            mask[0] = True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                want = np.nan_to_num(np.nanmedian(np.where(mask, np.nan, a), axis=1))
            got = masked_median_rows(a, mask)
            assert got.dtype == want.dtype and np.array_equal(got, want), (shape, fraction)


def test_edge_column_and_full_exact_row_are_bad_lines():
    img = make_frame(stars=False, seed=10)
    img[:, 3] += 60.0
    img[:, 2] += 30.0
    img[:, 4] += 30.0  # a bright column along the frame's edge, PSF-wide
    reasons, _ = _judge(img, [[3, 0, 3, 199]])
    assert reasons == ["bad_line"]
    row = make_frame(stars=False, seed=11)
    row[139:142, :] += np.array([[30.0], [60.0], [30.0]], dtype=np.float32)  # a read-out row across the frame
    assert _judge(row, [[0, 140, 199, 140]])[0] == ["bad_line"]


def test_radon_search_finds_a_long_faint_trail_and_nothing_in_noise():
    from debristrack.detect.streaks.trails import long_lines

    rng = np.random.default_rng(4)
    noise = rng.normal(0.0, 1.0, (400, 700)).astype(np.float32)
    assert len(long_lines(noise, None, 1.0)) == 0
    yy, xx = np.mgrid[0:400, 0:700]
    a, b = np.array([30.0, 300.0]), np.array([680.0, 120.0])
    u = (b - a) / np.hypot(*(b - a))
    t = np.clip((xx - a[0]) * u[0] + (yy - a[1]) * u[1], 0.0, np.hypot(*(b - a)))
    dist = np.hypot(xx - a[0] - t * u[0], yy - a[1] - t * u[1])
    # crest 1 sigma a pixel, FWHM 3.5 px (the NEOSSat trail: 0.6 sigma, 4.3 px, 1000 px long): SNR ~17 in
    # the binned Radon sum over its 680 px
    img = noise + 1.0 * np.exp(-0.5 * (dist / 1.5) ** 2).astype(np.float32)
    found = long_lines(img, None, 1.0)
    assert len(found) == 1
    ends = found[0, :4].reshape(2, 2) - a
    assert np.abs(ends[:, 0] * u[1] - ends[:, 1] * u[0]).max() < 3.0  # on the line
    assert abs(float(np.diff(ends @ u)[0])) > 0.6 * np.hypot(*(b - a))  # over most of it
