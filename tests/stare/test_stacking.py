"""Stacking: min/median/mean with NaN, the drift window rule, blocks, the local-max rule."""

from __future__ import annotations

import numpy as np
import pytest

from debristrack.detect.stacking import (SIDEREAL_RATE, block_starts, local_max, stack_frames,
                                         star_drift_rate, window_length)


def test_drift_rate_matches_geo_paper():
    # [GEO] sec. 2: 8.79 arcsec/px on the equator -> 1.71 px/s.
    assert star_drift_rate(8.79, 0.0) == pytest.approx(1.71, abs=0.01)
    assert star_drift_rate(8.79, 60.0) == pytest.approx(SIDEREAL_RATE / 8.79 / 2)


def test_window_rule():
    # Trail 8.6 px, 10.3 px per frame, 10 px spot: a pixel is covered in 2 frames at most.
    assert window_length(10.3, 8.6, 10.0, stack="min") == 3
    assert window_length(10.3, 8.6, 10.0, stack="median") == 5
    assert window_length(1.0, 0.5, 10.0, stack="min", longest=8) == 8
    assert window_length(0.0, 0.0, 10.0) == 20


def test_block_starts_cover_every_frame_once_or_in_overlap():
    assert block_starts(8, 3) == [0, 3, 5]
    assert block_starts(9, 3) == [0, 3, 6]
    assert block_starts(2, 5) == [0]


def test_min_median_mean_and_nan():
    frames = np.array([[[1.0, np.nan, 5.0]], [[3.0, 2.0, np.nan]], [[2.0, np.nan, np.nan]]], np.float32)
    assert stack_frames(frames, stack="min").tolist() == [[1.0, 2.0, 5.0]]
    med = stack_frames(frames, stack="median", min_valid=2)
    assert med[0, 0] == 2.0 and np.isnan(med[0, 1]) and np.isnan(med[0, 2])
    mean = stack_frames(list(frames), stack="mean", min_valid=1)
    assert mean.tolist() == [[2.0, 2.0, 5.0]]
    with pytest.raises(ValueError, match="unknown stack"):
        stack_frames(frames, stack="max")


def test_min_stack_removes_a_moving_star_keeps_a_fixed_spot():
    frames = np.zeros((3, 5, 9), np.float32)
    for t in range(3):
        frames[t, 2, 3 * t] = 100.0  # star moving 3 px per frame
        frames[t, 4, 8] = 50.0       # fixed target
    out = np.empty((5, 9), np.float32)
    stack = stack_frames(frames, stack="min", out=out)
    assert stack is out
    assert stack.max() == 50.0 and stack[4, 8] == 50.0


def test_local_max_rule_keeps_a_slowly_drifting_target():
    frames = np.zeros((3, 7, 7), np.float32)
    for t in range(3):
        frames[t, 3, 2 + t] = 10.0  # one pixel per frame
    assert stack_frames(frames, stack="min").max() == 0.0
    assert stack_frames(frames, stack="min", local_radius=1)[3, 3] == 10.0


def test_local_max_ignores_nan():
    frame = np.ones((5, 5), np.float32)
    frame[0:3, 0:3] = np.nan
    frame[4, 4] = 7.0
    out = local_max(frame, 1)
    assert np.isnan(out[1, 1]) and out[2, 2] == 1.0 and out[3, 3] == 7.0
