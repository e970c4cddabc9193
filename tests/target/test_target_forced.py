"""Forced measurements against a sky template (track/forced.py, issue 20)."""

import math

import numpy as np
import pytest

from debristrack.bench.target_real import FIELDS, _add_gaussian, load_field, make_real_sequence
from debristrack.evaluate.detection import detection_figures
from debristrack.pipeline.target import Config, extract_frame, track_catalogues
from debristrack.track.forced import Stamps, measure, stamp_half, star_offsets


def test_star_offsets_recover_the_sky_motion():
    rng = np.random.default_rng(1)
    stars = rng.uniform(0, 1000, (300, 2))
    step = np.array([4.3, -2.1])
    cats, fluxes = [], []
    for k in range(6):
        noise = rng.uniform(0, 1000, (200, 2))   # faint noise detections, new each frame
        obj = np.array([[500.0, 500.0]]) + rng.normal(0, 0.3, 2)   # the followed object stays
        cats.append(np.vstack([stars + k * step + rng.normal(0, 0.05, stars.shape), noise, obj]))
        fluxes.append(np.concatenate([rng.uniform(100, 1000, 300), rng.uniform(1, 10, 200), [500.0]]))
    offsets = star_offsets(cats, fluxes)
    assert np.allclose(offsets, np.arange(6)[:, None] * step, atol=0.05)


def _frames(n=9, shape=(80, 80), step=(3.0, 1.0), sigma=1.3, noise=1.0, seed=2):
    """Stars moving by ``step`` px per frame, one bright star crossing the fixed object in frame 4."""
    rng = np.random.default_rng(seed)
    obj = np.array([40.2, 39.7])
    stars = [(rng.uniform(5, 75), rng.uniform(5, 75), rng.uniform(50, 400)) for _ in range(25)]
    stars.append((obj[0] - 4 * step[0] + 0.4, obj[1] - 4 * step[1] - 0.3, 600.0))   # on the object in frame 4
    frames = np.zeros((n,) + shape, np.float32)
    for k in range(n):
        frames[k] = rng.normal(0, noise, shape)
        for x, y, f in stars:
            _add_gaussian(frames[k], np.array([x + k * step[0], y + k * step[1]]), f, sigma)
        _add_gaussian(frames[k], obj, 60.0, sigma)
    offsets = np.arange(n)[:, None] * np.asarray(step)
    return frames, offsets, obj, sigma


def test_the_object_is_measured_under_a_crossing_star():
    frames, offsets, obj, sigma = _frames()
    # The spot is the object's median position; a following error of up to 2 T moves the
    # object from it, so the boxes hold a stamp that far off (T = 2 px here).
    spot = obj + np.array([2.6, -2.2])
    stamps = Stamps(np.array([spot]), offsets, radius=stamp_half(sigma) + 4 + 2, min_shift=4 * sigma + 2,
                    shape=frames.shape[1:])
    for k, f in enumerate(frames):
        stamps.cut(k, f)
    m = measure(stamps, 0, 4, obj + 0.8, sigma, max_move=2.0)
    assert m.ok and math.hypot(m.x - obj[0], m.y - obj[1]) < 0.4
    # PSF flux of the object alone, not object + star (60 of 660).
    assert 40 < m.flux < 80 and m.snr > 7   # 60 / (noise sqrt(4 pi sigma^2)) = 13, less the template noise


def test_an_empty_spot_measures_nothing():
    frames, offsets, obj, sigma = _frames()
    empty = np.array([15.0, 62.0])
    stamps = Stamps(np.array([empty]), offsets, radius=16, min_shift=4 * sigma + 2, shape=frames.shape[1:])
    for k, f in enumerate(frames):
        stamps.cut(k, f)
    fixed = [measure(stamps, 0, k, empty, sigma, max_move=2.0, fixed=True) for k in range(len(frames))]
    assert np.median([m.snr for m in fixed]) < 1.5
    assert sum(measure(stamps, 0, k, empty, sigma, max_move=2.0).ok for k in range(len(frames))) <= 2


@pytest.fixture(scope="module")
def m51(shared):
    return load_field(shared / "real-dev", next(f for f in FIELDS if f.path.endswith("M51.fits")))


def _track(seq, pixels: bool):
    config = Config()
    cats = [extract_frame(f, None, config) for f in seq.frames]
    return track_catalogues(cats, shape=seq.frames.shape[1:], config=config, k_max=2.0,
                            pixels=(lambda k: seq.frames[k]) if pixels else None)


def test_on_the_galaxy_the_pixels_hold_the_object_the_lists_lose(m51):
    # The galaxy's emission steered over the object: its footprint swallows the object in
    # some frames' catalogues; frame minus sky template does not.
    rng = np.random.default_rng(11)
    seq = make_real_sequence(m51, rng, n_frames=16, rate=6.0, angle=2.0, snr=12.0, crossing="emission")
    assert seq.crossing == "emission"
    with_pixels = detection_figures(seq.truth, _track(seq, True))
    without = detection_figures(seq.truth, _track(seq, False))
    assert with_pixels.detection_rate >= 0.95 and with_pixels.n_false == 0
    assert with_pixels.detection_rate > without.detection_rate


def test_a_real_field_without_an_object_gives_no_track(m51):
    rng = np.random.default_rng(12)
    seq = make_real_sequence(m51, rng, n_frames=16, rate=5.0, angle=0.5, snr=1e-9, crossing="emission")
    assert len(_track(seq, True)) == 0
