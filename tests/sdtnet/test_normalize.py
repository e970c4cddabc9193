import numpy as np
import pytest

from debristrack.errors import InputError
from debristrack.sdtnet.data import normalize, randomized_scene
from debristrack.simulate import iter_frames, make_scene


def _frame(preset="nuisance", size=256, seed=5):
    return next(iter_frames(make_scene("sidereal", preset, size=size, frames=1), seed=seed)).data.astype(np.float64)


def test_input_does_not_depend_on_sky_level_gain_or_bias():
    frame = _frame()
    a, b = normalize(frame), normalize(frame * 3 + 1000)
    assert np.allclose(a, b, atol=1e-4)
    # not a constant map: the sky near 0.5, stars and trails well above it
    assert abs(float(np.median(a)) - 0.5) < 0.05 and a.max() > 1.5


def test_input_removes_a_sky_gradient():
    frame = _frame(preset="debris")
    ny, nx = frame.shape
    ramp = np.linspace(0, 20 * np.std(frame[:32, :32]), nx)[None, :] * np.ones((ny, 1))
    flat, tilted = normalize(frame), normalize(frame + ramp)
    # the left and right thirds of the frame sit at the same level after normalisation
    for img in (flat, tilted):
        assert abs(float(np.median(img[:, : nx // 3]) - np.median(img[:, -nx // 3:]))) < 0.03
    # ZScale keeps the ramp: the right third is brighter
    z = normalize(frame + ramp, "zscale")
    assert float(np.median(z[:, -nx // 3:]) - np.median(z[:, : nx // 3])) > 0.3


def test_flat_and_unknown_inputs():
    assert np.all(np.isfinite(normalize(np.full((64, 64), 7.0))))
    with pytest.raises(InputError, match="normalisation"):
        normalize(np.zeros((8, 8)), "log")


def test_randomized_scenes_vary_the_camera():
    rng = np.random.default_rng(0)
    scenes = [randomized_scene("debris", 64, rng) for _ in range(20)]
    assert len({s.psf for s in scenes}) == 2 and len({round(s.gain, 3) for s in scenes}) == 20
    assert all(s.consistent_length for s in scenes)  # the preset's motion model is kept
