"""The staring-mode benchmark's bookkeeping: counts per target row, rates by SNR."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from debristrack.bench.stare import Tally


def test_tally_counts_targets_detections_and_snr():
    gt = Table({"frame": [0, 0, 1, 1], "id": [1, 2, 1, 2], "x": [10.0, 50.0, 10.0, 50.0],
                "y": [10.0, 50.0, 10.0, 50.0], "snr": [4.0, 20.0, 4.0, 20.0]})
    pred = Table({"frame": [0, 0, 1], "id": [0, 1, 1], "x": [10.5, 80.0, 50.0], "y": [10.0, 80.0, 51.0]})
    t = Tally()
    t.add(gt, pred, seconds=1.0, frames=2)
    assert (t.n_true, t.n_detected, t.n_detections, t.n_false) == (4, 2, 3, 1)
    assert t.false_alarm_rate == pytest.approx(1 / 3)
    assert t.position_rms == pytest.approx(np.sqrt((0.25 + 1.0) / 2))
    assert t.rate_above(5.0) == pytest.approx(1 / 2)
    assert t.rate_above(3.0) == pytest.approx(2 / 4)
    total = Tally()
    total += t
    total += t
    assert total.n_true == 8 and total.seconds == 2.0
