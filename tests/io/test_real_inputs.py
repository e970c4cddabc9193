"""Real observatory sequences load and track end to end (a few frames each, to keep the test short)."""

import numpy as np
import pytest

from debristrack.commands.track import load_mode, track_path
from debristrack.io.sequence import open_sequence
from debristrack.io.tables import read_table


def _subset(shared, tmp_path, name, n):
    src = shared / "real-dev" / "sequences" / name
    dst = tmp_path / name
    dst.mkdir()
    for f in sorted(p for p in src.iterdir() if p.suffix in (".fits", ".fit"))[:n]:
        (dst / f.name).symlink_to(f)
    return dst


@pytest.mark.parametrize("name, n, shape", [("neossat-leonard-night1", 3, (708, 1062)),
                                             ("neossat-213p", 3, (343, 383)),
                                             ("seestar-m94", 3, (960, 540))])
def test_real_sequences_track(shared, tmp_path, name, n, shape):
    seq_path = _subset(shared, tmp_path, name, n)
    seq = open_sequence(seq_path)
    assert seq.shape == shape and len(seq) == n
    module = load_mode("sidereal")
    out = tmp_path / "tracks.csv"
    rows, _ = track_path("sidereal", seq_path, out, method=module.METHODS[0], config=module.Config())
    table = read_table(out)
    assert len(table) == rows
    assert {"time", "time_start", "time_end"} <= set(table.colnames)
    starts = {seq.start_time(i).isot for i in range(len(seq))}
    assert set(np.asarray(table["time_start"]).astype(str)) <= starts
