"""IOD, UK and R.D.E. lines read back by an independent reader built from the published column tables.

The reader below slices columns exactly as the format descriptions number them (1-based,
inclusive) and shares no code with the writer.
"""

import numpy as np
import pytest
from astropy.table import Table
from astropy.time import Time, TimeDelta

from debristrack.astrometry.iod import Position, iod_line, positions_from_table, rde_report, uk_line
from debristrack.cli import main
from debristrack.errors import InputError
from debristrack.io.tables import write_table

PIECES = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def col(line: str, a: int, b: int) -> str:
    """Columns a..b (1-based, inclusive) of a line padded to 80."""
    return line.ljust(80)[a - 1:b]


def piece_from_number(text: str) -> str:
    if text.isalpha():
        return text
    n, out = int(text), ""
    while n:
        n, r = divmod(n - 1, 24)
        out = PIECES[r] + out
    return out


def read_iod(line: str) -> dict:
    """G. D. Lewis' IOD table: cols 1-5 object, 7-8 year, 10-12 launch, 13-15 piece, 17-20 station,
    22 sky, 24-31 date, 32-40 time, 42-43 time uncertainty MX (M*10^(X-8) s), 45 angle format,
    46 epoch, 48-54 RA (format 2: HHMMmmm), 55-61 Dec (+DDMMmm), 63-64 position uncertainty
    MX (deg), 66 optical behaviour."""
    assert len(line) <= 80
    assert col(line, 45, 45) == "2" and col(line, 46, 46) == "5"  # HHMMmmm+DDMMmm, J2000
    t = Time(f"{col(line, 24, 27)}-{col(line, 28, 29)}-{col(line, 30, 31)}T{col(line, 32, 33)}:{col(line, 34, 35)}:"
             f"{col(line, 36, 37)}.{col(line, 38, 40)}", scale="utc")
    ra = (int(col(line, 48, 49)) + (int(col(line, 50, 51)) + int(col(line, 52, 54)) / 1000) / 60) * 15
    dec = int(col(line, 56, 57)) + (int(col(line, 58, 59)) + int(col(line, 60, 61)) / 100) / 60
    dec = -dec if col(line, 55, 55) == "-" else dec
    return {"norad": int(col(line, 1, 5)), "designator": col(line, 7, 8) + col(line, 10, 12) + col(line, 13, 15).strip(),
            "station": col(line, 17, 20), "sky": col(line, 22, 22), "time": t, "ra": ra, "dec": dec,
            "time_sigma": int(col(line, 42, 42)) * 10.0 ** (int(col(line, 43, 43)) - 8),
            "pos_sigma": int(col(line, 63, 63)) * 10.0 ** (int(col(line, 64, 64)) - 8), "behaviour": col(line, 66, 66)}


def read_uk(line: str) -> dict:
    """RGO coding (1973): 1-7 designator (yy, launch, piece number), 8-11 station, 12-17 YYMMDD,
    18-27 HHMMSSssss, 28-32 time accuracy S.ssss, 33 time standard, 34 coordinate code, 35-42
    RA HHMMSSss, 43-50 Dec xDDMMSSs, 51-54 accuracy SSS.s arcsec, 55 epoch (5 = 2000.0), 80 appearance."""
    assert len(line) == 80 and col(line, 34, 34) == "1" and col(line, 55, 55) == "5"
    yy = int(col(line, 12, 13))
    t = Time(f"{2000 + yy if yy < 57 else 1900 + yy}-{col(line, 14, 15)}-{col(line, 16, 17)}T{col(line, 18, 19)}:"
             f"{col(line, 20, 21)}:{col(line, 22, 23)}.{col(line, 24, 27)}", scale="utc")
    ra = (int(col(line, 35, 36)) + int(col(line, 37, 38)) / 60 + int(col(line, 39, 42)) / 100 / 3600) * 15
    dec = int(col(line, 44, 45)) + int(col(line, 46, 47)) / 60 + int(col(line, 48, 50)) / 10 / 3600
    dec = -dec if col(line, 43, 43) == "-" else dec
    return {"designator": col(line, 1, 5) + piece_from_number(col(line, 6, 7)), "station": col(line, 8, 11),
            "time": t, "time_sigma": int(col(line, 28, 32)) / 1e4, "ra": ra, "dec": dec,
            "pos_sigma": int(col(line, 51, 54)) / 10 / 3600, "appearance": col(line, 80, 80)}


def read_rde(lines: list[str]) -> list[dict]:
    """R.D.E.: line 1 SSSS YYMM T.tSF PPPE, a day line DD, then lines of designator (1-7), time
    HHMMSS.ss (9-17) and position HHMMSS+DDMMSS (19-31); 999 ends a report."""
    out, header, day = [], None, None
    for line in lines:
        if line.strip() == "999":
            header = None
            continue
        if header is None:
            assert col(line, 15, 15) == "1" and col(line, 20, 20) == "5"
            header = {"station": col(line, 1, 4), "yymm": col(line, 6, 9), "time_sigma": float(col(line, 11, 13)),
                      "pos_sigma": int(col(line, 17, 19)) / 3600}
            continue
        if len(line.strip()) == 2:
            day = int(line)
            continue
        yymm = header["yymm"]
        t = Time(f"20{yymm[:2]}-{yymm[2:]}-{day:02d}T{col(line, 9, 10)}:{col(line, 11, 12)}:{col(line, 13, 17)}",
                 scale="utc")
        ra = (int(col(line, 19, 20)) + int(col(line, 21, 22)) / 60 + int(col(line, 23, 24)) / 3600) * 15
        dec = int(col(line, 26, 27)) + int(col(line, 28, 29)) / 60 + int(col(line, 30, 31)) / 3600
        dec = -dec if col(line, 25, 25) == "-" else dec
        out.append({**header, "designator": col(line, 1, 5) + piece_from_number(col(line, 6, 7)), "time": t,
                    "ra": ra, "dec": dec})
    return out


def _positions():
    rng = np.random.default_rng(4)
    t0 = Time("2019-04-10T23:59:59.9996", scale="utc")  # rounds into the next day
    designators = ["98067A", "19600A", "06007B", "93036Z", "93036AB", "75043A"]
    out = []
    for k in range(60):
        ra = rng.uniform(0, 360) if k else 359.99999
        dec = (rng.uniform(-89, 89) if k % 7 else -rng.uniform(0, 0.5))
        out.append(Position(norad=10000 + k, designator=designators[k % len(designators)],
                            time=t0 + TimeDelta(k * 37.123456, format="sec"), ra_deg=ra, dec_deg=dec,
                            time_sigma_s=rng.choice([0.1, 0.05, 0.003]), position_sigma_deg=rng.uniform(1e-4, 0.05)))
    return out


def _sky_sep_arcsec(ra1, dec1, ra2, dec2):
    dra = (ra1 - ra2 + 180) % 360 - 180
    return np.hypot(dra * np.cos(np.radians(dec2)), dec1 - dec2) * 3600


def test_iod_round_trip_every_field():
    for p in _positions():
        r = read_iod(iod_line(p, station="4171", sky="F"))
        assert r["norad"] == p.norad and r["designator"] == p.designator
        assert r["station"] == "4171" and r["sky"] == "F" and r["behaviour"] == "S"
        assert abs((r["time"] - p.time).to_value("s")) <= 0.0005 + 1e-9
        # format 2: 0.001 min of RA (0.015 s of time), 0.01 arcmin of Dec
        assert abs(((r["ra"] - p.ra_deg + 180) % 360 - 180)) * 3600 <= 0.5 * 0.001 * 60 * 15 + 1e-6
        assert abs(r["dec"] - p.dec_deg) * 3600 <= 0.5 * 0.01 * 60 + 1e-6
        # uncertainties are rounded up to one significant digit
        for got, want in ((r["time_sigma"], p.time_sigma_s), (r["pos_sigma"], p.position_sigma_deg)):
            assert want <= got * (1 + 1e-9) and got < 2 * want + 1e-12


def test_uk_round_trip_every_field():
    for p in _positions():
        r = read_uk(uk_line(p, station="2675"))
        assert r["designator"] == p.designator and r["station"] == "2675" and r["appearance"] == "S"
        assert abs((r["time"] - p.time).to_value("s")) <= 0.00005 + 1e-9
        assert abs(r["time_sigma"] - p.time_sigma_s) <= 0.00005
        assert abs(((r["ra"] - p.ra_deg + 180) % 360 - 180)) * 3600 <= 0.5 * 0.01 * 15 + 1e-6
        assert abs(r["dec"] - p.dec_deg) * 3600 <= 0.05 + 1e-6
        assert abs(r["pos_sigma"] - p.position_sigma_deg) * 3600 <= 0.05 + 1e-6


def test_rde_round_trip_every_field():
    positions = _positions()
    read = read_rde(rde_report(positions, station="2420"))
    assert len(read) == len(positions)
    for p, r in zip(sorted(positions, key=lambda q: q.time.mjd), read):
        assert r["designator"] == p.designator and r["station"] == "2420"
        assert abs((r["time"] - p.time).to_value("s")) <= 0.005 + 1e-9
        assert abs(((r["ra"] - p.ra_deg + 180) % 360 - 180)) * 3600 <= 0.5 * 15 + 1e-6  # whole seconds of time
        assert abs(r["dec"] - p.dec_deg) * 3600 <= 0.5 + 1e-6
        assert r["time_sigma"] >= p.time_sigma_s - 0.05 and r["pos_sigma"] * 3600 >= p.position_sigma_deg * 3600 - 0.5


def test_three_letter_piece_does_not_fit_uk():
    p = Position(34972, "93036AFB", Time("2019-04-10T21:00:00"), 10.0, 20.0, 0.1, 0.001)
    assert read_iod(iod_line(p, station="4171"))["designator"] == "93036AFB"
    with pytest.raises(InputError, match="does not fit"):
        uk_line(p, station="4171")


def test_export_cli_writes_identified_and_uct_tracks(tmp_path):
    times = Time("2019-04-10T21:00:00") + TimeDelta(np.arange(4) * 6.0, format="sec")
    table = Table({"frame": np.tile(np.arange(4), 2), "id": np.repeat([1, 2], 4), "x": np.zeros(8), "y": np.zeros(8),
                   "time": np.tile(times.isot, 2), "ra": np.r_[168.6 + np.arange(4) * 0.025, 10 + np.arange(4) * 0.1],
                   "dec": np.r_[np.full(4, -6.1), np.full(4, 30.0)], "norad": np.repeat([28946, 0], 4),
                   "name": np.repeat(["EUTELSAT HOT BIRD 13E", "UCT"], 4), "designator": np.repeat(["06007B", ""], 4)})
    write_table(table, tmp_path / "t.csv")
    assert main(["export", str(tmp_path / "t.csv"), "--iod", str(tmp_path / "o.iod"), "--uk", str(tmp_path / "o.uk"),
                 "--rde", str(tmp_path / "o.rde"), "--tdm", str(tmp_path / "o.tdm"), "--station", "4171"]) == 0
    lines = (tmp_path / "o.iod").read_text().splitlines()
    assert len(lines) == 8
    parsed = [read_iod(x) for x in lines]
    assert {r["norad"] for r in parsed} == {28946, 99999}
    assert {r["designator"] for r in parsed} == {"06007B", "19600A"}  # stvid: year, day + 500, piece A
    assert "PARTICIPANT_2        = EUTELSAT HOT BIRD 13E (NORAD 28946)" in (tmp_path / "o.tdm").read_text()
    assert len(read_rde((tmp_path / "o.rde").read_text().splitlines())) == 8
    assert main(["export", str(tmp_path / "t.csv"), "--iod", str(tmp_path / "x.iod")]) == 2  # no --station


def test_positions_need_identification():
    table = Table({"frame": [0], "id": [1], "x": [0.0], "y": [0.0], "time": ["2019-04-10T21:00:00"],
                   "ra": [1.0], "dec": [2.0]})
    with pytest.raises(InputError, match="identify"):
        positions_from_table(table)
