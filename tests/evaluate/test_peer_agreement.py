"""Agreement with py-motmetrics and TrackEval on the TUD sequences (tests/data/README.md).

Our metric path (MOTChallenge reader -> box IoU similarity -> tracking_data -> TrackEval
classes -> MotResult.combine) must reproduce the published figures. The references are
given to 6 decimals, so a value agrees when it is within 5e-7 (half a unit of the last
decimal); counts must be equal.
"""

from pathlib import Path

import pytest

from debristrack.errors import InputError
from debristrack.evaluate import MotResult
from debristrack.evaluate.motchallenge import box_track_metrics, read_motchallenge

DATA = Path(__file__).resolve().parents[1] / "data" / "motmetrics-tud"
TOL = 5e-7

# py-motmetrics 1.4.0, motmetrics/tests/test_metrics.py::test_motchallenge_files.
# MOTP there is 1 - IoU.
MOTMETRICS_FIELDS = ("IDF1", "IDP", "IDR", "Recall", "Precision", "GT_IDs", "MT", "PT", "ML",
                     "FP", "FN", "IDS", "Frag", "MOTA", "MOTP")
MOTMETRICS = {
    "TUD-Campus": (0.557659, 0.729730, 0.451253, 0.582173, 0.941441, 8, 1, 6, 1, 13, 150, 7, 7,
                   0.526462, 0.277201),
    "TUD-Stadtmitte": (0.644619, 0.819760, 0.531142, 0.608997, 0.939920, 10, 5, 4, 1, 45, 452, 7,
                       6, 0.564014, 0.345904),
    "overall": (0.624296, 0.799176, 0.512211, 0.602640, 0.940268, 18, 6, 10, 2, 58, 602, 14, 13,
                0.555116, 0.330177),
}

# TrackEval 1.3.0 HOTA / CLEAR / Identity on the same files (HOTA parts averaged over alpha).
TRACKEVAL_FIELDS = ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDS", "IDF1")
TRACKEVAL = {
    "TUD-Campus": (0.391397, 0.418047, 0.369121, 0.770052, 0.526462, 0.722799, 7, 0.557659),
    "TUD-Stadtmitte": (0.397849, 0.392268, 0.408841, 0.737521, 0.564014, 0.654096, 7, 0.644619),
}


@pytest.fixture(scope="module")
def results():
    per_seq = {}
    for name in ("TUD-Campus", "TUD-Stadtmitte"):
        per_seq[name] = box_track_metrics(read_motchallenge(DATA / name / "gt.txt"),
                                          read_motchallenge(DATA / name / "test.txt"))
    per_seq["overall"] = MotResult.combine([per_seq["TUD-Campus"], per_seq["TUD-Stadtmitte"]])
    return {name: r.summary() for name, r in per_seq.items()}


def _check(ours: dict, fields, expected) -> None:
    for name, want in zip(fields, expected):
        got = ours[name]
        if isinstance(want, int):
            assert got == want, name
        else:
            assert got == pytest.approx(want, abs=TOL), name


@pytest.mark.parametrize("seq", list(MOTMETRICS))
def test_agrees_with_py_motmetrics(results, seq):
    ours = dict(results[seq])
    ours["MOTP"] = 1.0 - ours["MOTP"]  # py-motmetrics reports the mean distance 1 - IoU
    _check(ours, MOTMETRICS_FIELDS, MOTMETRICS[seq])


@pytest.mark.parametrize("seq", list(TRACKEVAL))
def test_agrees_with_trackeval(results, seq):
    _check(results[seq], TRACKEVAL_FIELDS, TRACKEVAL[seq])


def test_motchallenge_reader_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1,1,10,10,5,5,1,-1,-1,-1\n0,2,10,10,5,5,1,-1,-1,-1\n")
    with pytest.raises(InputError, match=r"bad.txt: line 2: frame must be an integer >= 1"):
        read_motchallenge(bad)
    bad.write_text("1,1,10,x,5,5\n")
    with pytest.raises(InputError, match=r"bad.txt: line 1: not a number"):
        read_motchallenge(bad)
