"""Segmentation: significance, components, deblending, centroids, the spot-size constraint."""

from __future__ import annotations

import numpy as np

from debristrack.detect.segmentation import label_pixels, segment, significance


def test_label_pixels_eight_connected():
    img = np.zeros((5, 6), bool)
    img[0, 1] = img[1, 2] = True        # diagonal neighbours: one component
    img[0, 5] = img[1, 5] = True        # vertical pair at the right edge
    img[2, 0] = True                    # x=0 on the next row is not a neighbour of x=5 above
    img[4, 2:5] = True
    n, labels = label_pixels(np.flatnonzero(img), img.shape)
    assert n == 4
    lab = dict(zip(map(tuple, np.argwhere(img)), labels))
    assert lab[(0, 1)] == lab[(1, 2)] and lab[(0, 5)] == lab[(1, 5)] != lab[(2, 0)]


def test_centroid_of_a_spot(make_frames):
    frames = make_frames(n=1, shape=(64, 64), targets=[(30.3, 20.6, 2000.0)], noise=5.0)
    snr = significance(frames[0], mesh=32).image()
    src = segment(snr, threshold=5.0)
    assert len(src) == 1
    assert abs(src.x[0] - 30.3) < 0.2 and abs(src.y[0] - 20.6) < 0.2


def test_two_close_spots_are_deblended(make_frames):
    frames = make_frames(n=1, shape=(64, 64), targets=[(30.0, 30.0, 3000.0), (35.0, 31.0, 2000.0)], noise=3.0)
    snr = significance(frames[0], mesh=32).image()
    src = segment(snr, threshold=5.0)
    assert len(src) == 2
    assert src.label[0] == src.label[1]  # one component, split in two
    xs = sorted(src.x)
    assert abs(xs[0] - 30.0) < 1.0 and abs(xs[1] - 35.0) < 1.0


def test_spot_size_constraint_rejects_a_large_blob():
    rng = np.random.default_rng(1)
    img = rng.normal(0, 1, (200, 200)).astype(np.float32)
    yy, xx = np.mgrid[:200, :200]
    img += 4 * np.exp(-((xx - 100) ** 2 + (yy - 100) ** 2) / (2 * 6.0**2))  # cloud-like blob
    snr = significance(img, mesh=64, threshold="global").image()
    assert len(segment(snr, threshold=5.0, max_area=300)) == 1
    assert len(segment(snr, threshold=5.0, max_area=50)) == 0


def test_nan_pixels_give_no_detection(make_frames):
    frame = make_frames(n=1, shape=(64, 64), noise=5.0)[0]
    frame[10:30, 10:30] = np.nan
    snr = significance(frame, mesh=32).image()
    assert np.all(snr[10:30, 10:30] == 0.0)
    assert len(segment(snr, threshold=5.0)) == 0
