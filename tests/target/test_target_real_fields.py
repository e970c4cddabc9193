"""The real-field sequences of `bench target` (issue 20), built from a real-dev frame."""

import math

import numpy as np
import pytest

from debristrack.bench.target_real import FIELDS, load_field, make_real_sequence
from debristrack.evaluate.detection import detection_figures
from debristrack.pipeline.target import Config, extract_frame, track_catalogues


@pytest.fixture(scope="module")
def m51(shared):
    return load_field(shared / "real-dev", next(f for f in FIELDS if f.path.endswith("M51.fits")))


def test_the_real_frame_slides_and_the_object_stays(m51):
    rng = np.random.default_rng(3)
    seq = make_real_sequence(m51, rng, n_frames=6, rate=5.0, angle=0.0, snr=30.0, error_peak=0.4)
    assert seq.frames.shape[0] == 6 and seq.frames.shape[1] <= 384
    # The stars move by -rate in x per frame: frame 1 shifted back by 5 px matches frame 0
    # far better than unshifted (the fresh noise differs, the real sky does not).
    a, b = seq.frames[0][:, 10:-10], seq.frames[1]
    moved = np.std(a - b[:, 5:-15])
    still = np.std(a - b[:, 10:-10])
    assert moved < 0.5 * still
    # The object sits near the window centre and wanders by at most the following error.
    ny, nx = seq.frames.shape[1:]
    assert np.all(np.abs(seq.truth["x"] - (nx - 1) / 2) < 0.05 * nx + 0.5)
    assert np.ptp(seq.truth["x"]) <= 0.8 + 1e-9 and np.ptp(seq.truth["y"]) <= 0.8 + 1e-9
    assert m51.rms > 0 and 0.5 <= m51.psf_sigma <= 4.0


def test_a_star_is_steered_over_the_object(m51):
    rng = np.random.default_rng(4)
    seq = make_real_sequence(m51, rng, n_frames=12, rate=6.0, angle=1.0, snr=20.0, crossing="star")
    assert seq.crossing == "star"


def test_motionlist_holds_the_object_in_a_crowded_real_field(shared):
    field = load_field(shared / "real-dev", next(f for f in FIELDS if "213p" in f.path))
    rng = np.random.default_rng(5)
    seq = make_real_sequence(field, rng, n_frames=12, rate=4.0, angle=math.pi / 3, snr=30.0, crossing="star")
    assert seq.crossing == "star"
    config = Config()
    cats = [extract_frame(f, None, config) for f in seq.frames]
    pred = track_catalogues(cats, shape=seq.frames.shape[1:], config=config, k_max=2.0)
    figures = detection_figures(seq.truth, pred)
    # The star may cost the frames it covers (flagged), never a wrong position.
    assert figures.detection_rate >= 0.8 and figures.n_false == 0
    assert len(set(pred["id"])) == 1
