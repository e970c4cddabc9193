import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from scipy.spatial import cKDTree

from debristrack.errors import InputError
from debristrack.simulate import iter_frames, make_scene, plan_sequence, render_frame
from debristrack.simulate.debris import draw_debris
from debristrack.simulate.pointing import SIDEREAL_RATE
from debristrack.simulate.psf import add_segments
from debristrack.simulate.sky import star_magnitudes


def _segment_distance(px, py, x1, y1, x2, y2):
    dx, dy = x2 - x1, y2 - y1
    t = np.clip(((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(px - (x1 + t * dx), py - (y1 + t * dy))


@pytest.mark.parametrize("psf,tol", [("gaussian", 1e-3), ("moffat", 0.03)])
def test_segments_conserve_flux(psf, tol):
    img = np.zeros((80, 80))
    add_segments(img, [20.0, 40.0], [30.0, 40.0], [50.0, 40.0], [35.0, 40.0], [1000.0, 500.0],
                 fwhm=3.0, psf=psf)
    assert img.sum() == pytest.approx(1500.0, rel=tol)


def test_point_centroid_is_position():
    img = np.zeros((40, 40))
    add_segments(img, [17.3], [21.8], [17.3], [21.8], [1.0], fwhm=2.5)
    yy, xx = np.mgrid[:40, :40]
    assert (img * xx).sum() / img.sum() == pytest.approx(17.3, abs=1e-3)
    assert (img * yy).sum() / img.sum() == pytest.approx(21.8, abs=1e-3)


def test_star_counts_rise_about_2_5_per_magnitude():
    mags = star_magnitudes(1_000_000, bright=6.0, faint=14.0, rng=np.random.default_rng(1))
    counts = np.histogram(mags, bins=np.arange(8.0, 14.01, 1.0))[0]
    ratios = counts[1:] / counts[:-1]
    assert np.allclose(ratios, 10**0.4, rtol=0.05)


def test_sidereal_drawn_pixels_lie_on_labelled_segment(small):
    scene = small("sidereal", objects=(2, 2), width=(1.0, 1.0), gap_prob=0.0, brightness_noise=0.0)
    plan = plan_sequence(scene, np.random.default_rng(3))
    sigma = scene.fwhm / 2.3548
    for k in range(scene.frames):
        for obj in range(2):
            img = np.zeros(scene.shape, np.float32)
            one = type(plan.debris)(*(getattr(plan.debris, f)[obj:obj + 1] for f in
                                      ("x", "y", "length", "width", "theta", "speed", "flux", "snr")))
            labels, mask = draw_debris(img, one, k, fwhm=scene.fwhm, psf="gaussian", beta=2.5,
                                       brightness_noise=0.0, gap_prob=0.0, rng=np.random.default_rng(0))
            if not len(labels["id"]):
                continue
            yy, xx = np.nonzero(img > 0.01 * img.max())
            d = _segment_distance(xx, yy, labels["x1"][0], labels["y1"][0], labels["x2"][0], labels["y2"][0])
            assert d.max() <= 0.5 + 3.5 * sigma
            my, mx = np.nonzero(mask)
            dm = _segment_distance(mx, my, labels["x1"][0], labels["y1"][0], labels["x2"][0], labels["y2"][0])
            assert mask.any() and dm.max() <= 0.5 + scene.fwhm / 2 + 0.75


def test_sidereal_motion_follows_eq5(small):
    scene = small("sidereal", objects=(3, 3), frames=6)
    plan = plan_sequence(scene, np.random.default_rng(5))
    d = plan.debris
    for k in range(1, scene.frames):
        x_prev, y_prev = d.centres(k - 1)
        x, y = d.centres(k)
        np.testing.assert_allclose(x - x_prev, d.speed * np.cos(d.theta))
        np.testing.assert_allclose(y - y_prev, d.speed * np.sin(d.theta))
    # Unclipped labels are the drawn segment: centre = eq. 5 centre, length = l_k.
    frame = render_frame(plan, 2, np.random.default_rng(0))
    x, y = d.centres(2)
    for row in frame.truth:
        i = row["id"] - 1
        length = math.hypot(row["x2"] - row["x1"], row["y2"] - row["y1"])
        if abs(length - d.length[i]) < 1e-6:
            assert (row["x1"] + row["x2"]) / 2 == pytest.approx(x[i])
            assert (row["y1"] + row["y2"]) / 2 == pytest.approx(y[i])


def test_dense_preset_has_many_objects_and_crossings():
    scene = make_scene("sidereal", "dense", size=256, frames=6)
    close = []
    for seed in range(5):
        d = plan_sequence(scene, np.random.default_rng(seed)).debris
        assert len(d.x) >= 4
        tracks = np.stack([np.column_stack(d.centres(k)) for k in range(scene.frames)])  # (frames, K, 2)
        gap = np.hypot(*(tracks[:, :, None, :] - tracks[:, None, :, :]).transpose(3, 0, 1, 2)).min(axis=0)
        close.append(gap[np.triu_indices(len(d.x), 1)].min())
    # Crossing objects meet; near-parallel ones run 6-30 px apart.
    assert min(close) < 31


def test_stare_stars_drift_at_sidereal_rate(small):
    scene = small("stare", dec=20.0, star_density=3000.0, cosmic_rate=0.0)
    frames = list(iter_frames(scene, seed=11))
    expected = SIDEREAL_RATE * math.cos(math.radians(20.0)) * scene.cadence / scene.pixscale
    a, b = frames[0].stars, frames[1].stars
    dist, idx = cKDTree(a[:, :2] + [expected, 0.0]).query(b[:, :2])
    good = dist < 0.5
    assert good.sum() > 10
    shift = b[good, :2] - a[idx[good], :2]
    assert np.median(shift[:, 0]) == pytest.approx(expected, rel=0.01)
    assert abs(np.median(shift[:, 1])) < 0.05
    # GEO targets stay within the jitter of their place.
    pos = np.array([[r["x"], r["y"]] for f in frames for r in f.truth if r["id"] == 1])
    assert np.hypot(*(pos - pos.mean(axis=0)).T).max() <= 2 * scene.jitter


def test_target_stays_within_following_error_and_stars_move(small):
    scene = small("target", "multi", frames=10, star_density=3000.0)
    plan = plan_sequence(scene, np.random.default_rng(2))
    frames = [render_frame(plan, k, np.random.default_rng(k)) for k in range(scene.frames)]
    first = np.array([[r["x"], r["y"]] for f in frames for r in f.truth if r["id"] == 1])
    assert len(first) == scene.frames
    spread = np.hypot(*(first[:, None, :] - first[None, :, :]).T).max()
    assert spread <= 2 * scene.following_error + 1e-9
    assert scene.following_error > 0 and spread > 0
    # Stars move together, opposite to the target's motion against the sky.
    step = -np.asarray(plan.pointing.velocity) * scene.cadence
    assert np.hypot(*step) == pytest.approx(scene.track_rate / scene.pixscale * scene.cadence)
    a, b = frames[0].stars, frames[1].stars
    dist, idx = cKDTree(a[:, :2] + step).query(b[:, :2])
    good = dist < 2 * scene.following_error + 0.5
    assert good.sum() > 0.5 * min(len(a), len(b)) - 5
    assert {2, 3} & set(int(i) for f in frames for i in f.truth["id"])


def test_target_empty_preset_has_no_objects(small):
    frames = list(iter_frames(small("target", "empty"), seed=1))
    assert all(len(f.truth) == 0 for f in frames)


@pytest.mark.parametrize("mode", ["sidereal", "stare", "target"])
def test_wcs_maps_stars_to_same_sky_position(small, mode):
    scene = small(mode, star_density=2000.0)
    plan = plan_sequence(scene, np.random.default_rng(7))
    for k in range(scene.frames):
        frame = render_frame(plan, k, np.random.default_rng(k))
        hdr = fits.Header.fromstring(frame.header.tostring())  # as read back from disk
        w = WCS(hdr)
        x, y = w.wcs_world2pix(plan.star_ra, plan.star_dec, 0)
        ny, nx = scene.shape
        inside = (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)
        np.testing.assert_allclose(np.column_stack([x[inside], y[inside]]), frame.stars[:, :2], atol=0.01)
        for key in ("DATE-OBS", "EXPTIME", "DT_MODE", "PIXSCALE", "SATURATE", "GAIN", "RDNOISE"):
            assert key in hdr
        assert hdr["DT_MODE"] == mode


def test_drawn_star_is_at_its_wcs_position(small):
    scene = small("stare", star_density=0.0, sky_level=10.0, read_noise=0.0, cosmic_rate=0.0,
                  hot_pixels=0.0, objects=(1, 1), snr=(300.0, 300.0), jitter=0.0)
    frame = next(iter_frames(scene, seed=4))
    x, y = frame.truth["x"][0], frame.truth["y"][0]
    ix, iy = int(round(x)), int(round(y))
    cut = frame.data[iy - 6:iy + 7, ix - 6:ix + 7] - np.median(frame.data)
    yy, xx = np.mgrid[iy - 6:iy + 7, ix - 6:ix + 7]
    assert (cut * xx).sum() / cut.sum() == pytest.approx(x, abs=0.1)
    assert (cut * yy).sum() / cut.sum() == pytest.approx(y, abs=0.1)


def test_saturation_and_float32(small):
    scene = small("sidereal", mag_bright=4.0, star_density=3000.0, saturate=3000.0)
    frame = next(iter_frames(scene, seed=0))
    assert frame.data.dtype == np.float32 and frame.data.shape == scene.shape
    assert frame.data.max() == pytest.approx(3000.0)


def test_bad_scene_values_are_input_errors():
    with pytest.raises(InputError, match="cadence must be at least exptime"):
        make_scene("stare", exptime=5.0, cadence=1.0)
    with pytest.raises(InputError, match="unknown preset 'nope'"):
        make_scene("stare", "nope")
    with pytest.raises(InputError, match="unknown mode"):
        make_scene("sideways")
    with pytest.raises(InputError, match="unknown StareScene parameter"):
        make_scene("stare", length=(1.0, 2.0))


def test_straylight_preset_is_non_uniform_and_moffat_runs(small):
    scene = small("stare", "straylight", size=256, star_density=0.0, objects=(0, 0), cosmic_rate=0.0)
    frames = list(iter_frames(scene, seed=3))
    blocks = frames[0].data.reshape(8, 32, 8, 32).mean(axis=(1, 3))
    noise = np.sqrt(scene.sky_level) / scene.gain / 32  # ADU noise of a 32x32 block mean
    assert blocks.max() - blocks.min() > 50 * noise
    assert not np.array_equal(frames[0].data, frames[1].data)
    moffat = next(iter_frames(small("target", psf="moffat"), seed=1))
    assert np.isfinite(moffat.data).all()


def test_scene_errors_name_the_flag():
    with pytest.raises(InputError, match="invalid sidereal scene: --length must be LOW,HIGH"):
        make_scene("sidereal", length=(5.0,))
    with pytest.raises(InputError, match="invalid target scene: --following-error must be >= 0"):
        make_scene("target", following_error=-1.0)


def test_truncation_leaves_a_gap_inside_the_streak():
    from debristrack.simulate.debris import Debris

    one = Debris(*(np.array([v]) for v in (60.0, 40.0, 100.0, 0.0, 0.0, 0.0, 1e5, 10.0)))
    img = np.zeros((80, 120), np.float32)
    labels, mask = draw_debris(img, one, 0, fwhm=2.5, psf="gaussian", beta=2.5, brightness_noise=0.0,
                               gap_prob=1.0, rng=np.random.default_rng(1))
    row = img[40, 12:109]  # the streak runs along y = 40 from x = 10 to 110
    assert row.min() < 0.05 * row.max()
    assert (labels["x1"][0], labels["x2"][0]) == (10.0, 110.0)
    assert not mask[40, 12:109].all() and mask[40, 12:20].all()
