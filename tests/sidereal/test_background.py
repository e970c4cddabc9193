"""The streak detectors' sky model: a big frame's model from every other pixel agrees with the
model from every pixel, to a small part of the noise."""

import numpy as np
import sep

from debristrack.detect.streaks import background
from debristrack.detect.streaks.background import subtract_background


def _frame(size: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    sky = 1000.0 + 300.0 * x + 200.0 * y ** 2 + 150.0 * np.exp(-((x - 0.3) ** 2 + (y - 0.6) ** 2) / 0.02)
    image = sky + rng.normal(0.0, 10.0, sky.shape)
    for cx, cy in rng.uniform(20, size - 20, (200, 2)):  # stars the model must see through
        image[int(cy) - 1:int(cy) + 2, int(cx) - 1:int(cx) + 2] += 2000.0
    return image.astype(np.float32), sky


def test_a_big_frame_is_modelled_from_every_other_pixel_like_from_all(monkeypatch):
    image, sky = _frame(1024)
    mask = np.zeros(image.shape, bool)
    mask[100:140, 500:900] = True
    monkeypatch.setattr(background, "SAMPLED_PIXELS", 10 ** 12)
    full, sigma_full = subtract_background(image, mask)
    monkeypatch.setattr(background, "SAMPLED_PIXELS", 0)
    sampled, sigma = subtract_background(image, mask)
    assert sampled.dtype == np.float32 and sampled.shape == image.shape
    assert abs(sigma - sigma_full) < 0.02 * sigma_full
    assert np.all(sampled[mask] == 0)
    inner = np.s_[64:-64, 64:-64]
    # the same sky to a few percent of the noise, and the sky itself (the smooth model under noise)
    assert np.std((sampled - full)[inner]) < 0.05 * sigma
    model = image - sampled
    assert np.median(np.abs((model - sky)[inner][~mask[inner]])) < 0.15 * sigma


def test_frames_under_the_limit_keep_the_full_model(monkeypatch):
    image, _ = _frame(256)
    monkeypatch.setattr(background, "_sampled", None)  # would fail if called
    residual, sigma = subtract_background(image)
    bkg = sep.Background(image, bw=64, bh=64)
    assert np.allclose(residual, image - bkg.back(), atol=1e-3) and sigma == bkg.globalrms


def test_a_big_static_sky_residual_gets_a_sparser_model_as_quiet_as_a_frames():
    # a static-sky residual is flat: its model from every 4th pixel in 128 px cells
    # (clean.RESIDUAL_SKY) scatters about as little as a frame's from every other pixel in 64 px cells
    from debristrack.detect.streaks.clean import RESIDUAL_SKY, prepare

    rng = np.random.default_rng(5)
    flat = rng.normal(0.0, 10.0, (2048, 2048)).astype(np.float32)
    inner = np.s_[128:-128, 128:-128]
    frame_way, sigma = subtract_background(flat)
    residual_way, _ = subtract_background(flat, **RESIDUAL_SKY)
    scatter = np.std((flat - residual_way)[inner]) / sigma
    assert scatter < 1.3 * np.std((flat - frame_way)[inner]) / sigma and scatter < 0.05
    cleaned, info = prepare(flat, static=True)
    assert abs(info["sky_rms"] - 10.0) < 0.3 and abs(info["sigma"] - 10.0) < 0.3
    assert np.all(np.isfinite(cleaned)) and abs(float(np.mean(cleaned))) < 0.05


def test_long_lines_are_destriped_from_every_other_pixel(monkeypatch):
    from debristrack.detect.streaks import clean

    rng = np.random.default_rng(6)
    cols = rng.normal(0.0, 3.0, 300)
    image = (rng.normal(0.0, 1.0, (256, 300)) + cols[None, :]).astype(np.float32)
    monkeypatch.setattr(clean, "HALF_LINE", 200)  # every line of this frame is "long"
    out = clean.destripe(image)
    assert np.std(np.median(out, axis=0)) < 0.15  # the column offsets (3 sigma) are gone
    mask = np.zeros(image.shape, bool)
    mask[10:20, 40:60] = True
    masked = clean.destripe(image, mask)
    assert np.all(masked[mask] == 0) and np.std(np.median(masked, axis=0)) < 0.15
