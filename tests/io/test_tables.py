import numpy as np
import pytest

from debristrack.errors import InputError
from debristrack.io.tables import detections_only, empty_table, read_table, write_table


def test_streak_round_trip_and_left_endpoint(tmp_path):
    t = empty_table("streak", ("score",))
    t.add_row((0, 1, 10.5, 5.0, 2.25, 3.0, 0.9))  # written right-to-left: swapped on write
    t.add_row((0, 2, 1.0, 9.0, 1.0, 2.0, 0.5))  # vertical: smaller y first
    write_table(t, tmp_path / "s.csv")
    back = read_table(tmp_path / "s.csv")
    assert back.meta["kind"] == "streak"
    assert list(back["x1"]) == [2.25, 1.0] and list(back["y1"]) == [3.0, 2.0]
    assert list(back["score"]) == [0.9, 0.5]


def test_point_round_trip_with_text_columns(tmp_path):
    t = empty_table("point", ("flux", "time"))
    t.add_row((1, 3, 100.123456789, 200.5, 42.0, "2024-01-01T00:00:02.500"))
    write_table(t, tmp_path / "p.csv")
    back = read_table(tmp_path / "p.csv", kind="point")
    assert back["x"][0] == pytest.approx(100.123456789, abs=1e-8)
    assert back["time"][0] == "2024-01-01T00:00:02.500"


def test_flagged_missing_rows(tmp_path):
    (tmp_path / "p.csv").write_text("frame,id,x,y,flag\n0,1,5,5,ok\n1,1,nan,nan,collision\n")
    t = read_table(tmp_path / "p.csv")
    assert len(t) == 2 and len(detections_only(t)) == 1


@pytest.mark.parametrize("body, message", [
    ("frame,id,x\n0,1,2\n", r"missing column\(s\) y"),
    ("frame,id,x,y\n-1,1,2,3\n", r"line 2: negative frame"),
    ("frame,id,x,y\n0,1.5,2,3\n", r"line 2: id must be an integer"),
    ("frame,id,x,y\n0,1,2,3\n0,1,4,5\n", r"line 3: duplicate \(frame, id\) = \(0, 1\), first on line 2"),
    ("frame,id,x,y\n0,1,abc,3\n", r"line 2: column x is not a number"),
    ("frame,id,x,y\n0,1,nan,3\n", r"line 2: column x is not finite"),
    ("frame,id,x,y\n0,1,2\n", r"line 2: 3 fields, header has 4"),
    ("a,b\n1,2\n", r"neither streak columns"),
    ("", r"empty file"),
])
def test_bad_tables(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(InputError, match=message):
        read_table(path)


def test_write_is_atomic_on_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("frame,id,x,y\n0,1,1,1\n")
    t = empty_table("point")
    t.add_row((0, 1, 2.0, 2.0))

    class Boom(Exception):
        pass

    import debristrack.io.tables as mod

    real = mod._format

    def failing(value, name):
        raise Boom()

    mod._format = failing
    try:
        with pytest.raises(Boom):
            write_table(t, path)
    finally:
        mod._format = real
    assert path.read_text() == "frame,id,x,y\n0,1,1,1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_empty_table_round_trip(tmp_path):
    write_table(empty_table("point"), tmp_path / "e.csv")
    assert len(read_table(tmp_path / "e.csv")) == 0
    assert np.asarray(read_table(tmp_path / "e.csv")["frame"]).dtype == np.int64
