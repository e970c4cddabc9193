"""Golden tests on real frames (../shared): a real trail is found, streak-free frames stay quiet."""

from __future__ import annotations

import numpy as np
import pytest

from debristrack.io.sequence import open_sequence
from debristrack.pipeline import sidereal


def _track(path, method="matched+physical"):
    return sidereal.track_sequence(open_sequence(path), method=method)


def test_real_dev_neossat_trail_is_found_within_a_few_px(shared):
    # real-dev/streaks/streaks.csv: (705, 0)-(735, 205), ends read by eye to about 5 px
    seq = open_sequence(shared / "real-dev" / "streaks" / "NEOSSAT_240__30_2026025124741.fits")
    table = sidereal.track_sequence(seq, method="matched+physical")
    ends = np.column_stack([table[c] for c in ("x1", "y1", "x2", "y2")])
    shift = seq.header(0).get("LTV1", 0.0)  # the reader crops the overscan: file x = our x - LTV1
    err = np.abs(ends - np.array([705.0 + shift, 0.0, 735.0 + shift, 205.0])).max(axis=1)
    assert err.min() < 6.0
    assert int(table["single"][int(np.argmin(err))]) == 1  # a one-frame trail is reported as a track


@pytest.mark.parametrize("path, most", [
    ("real/no-streaks/sdss_cutout.fits", 0),      # saturated stars with rings and spikes
    ("real/no-streaks/horsehead.fits", 1),        # nebula edges
    ("real/no-streaks/lmi_cutout.fits", 0),       # elongated galaxies
    ("real-dev/no-streaks/M51.fits", 0),          # extended emission and a bad row
    ("real-dev/no-streaks/cutout_GMOSN.i.2021-01-17T14_35_11.5_2PAC.fits", 0),  # cosmic rays
])
def test_streak_free_real_frames_report_at_most_n_tracks(shared, path, most):
    table = _track(shared / path)
    assert len(set(table["id"].tolist())) <= most


def test_real_dev_neossat_faint_trail_across_the_frame_is_found(shared):
    # real-dev/sequences/neossat-leonard-night1/streaks.csv, trail 4: "very faint trail across the frame"
    # (59.6, 367.7)-(1061.1, 195.3) in file pixels: a crest of ~0.7 sigma a pixel, too faint for the
    # 21 px line filter; the Radon search of the static-sky residual finds it (detect/streaks/trails.py)
    from debristrack.bench.real import in_frame_pixels

    where = shared / "real-dev" / "sequences" / "neossat-leonard-night1"
    seq = open_sequence(where)
    table = sidereal.track_sequence(seq, method="matched+physical")
    name = "NEOS_SCI_2021316235655.fits"  # frame 7
    assert seq.names[7].endswith(name)
    trail = in_frame_pixels({name: [np.array([59.6, 367.7, 1061.1, 195.3])]}, seq, where)[name][0]  # cropped frames
    a, b = trail[0:2], trail[2:4]
    u = (b - a) / np.hypot(*(b - a))
    on = []
    for r in table[table["frame"] == 7]:
        ends = np.array([[r["x1"], r["y1"]], [r["x2"], r["y2"]]]) - a
        perp = np.abs(ends[:, 0] * u[1] - ends[:, 1] * u[0])
        if perp.max() < 6.0:
            on.append(abs(float(np.diff(ends @ u)[0])))
    assert on and max(on) > 0.5 * np.hypot(*(b - a))  # found, over most of its length
    assert len(set(table["id"].tolist())) <= 4  # and nothing else but the three brighter trails
