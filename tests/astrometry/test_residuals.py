"""O-C against a real TLE injected into a simulated sequence; exports that parse back."""

import json

import numpy as np
import pytest
from astropy.table import Table

from debristrack.astrometry.ephemeris import Site, read_tle
from debristrack.astrometry.export import write_motchallenge, write_overlay, write_tdm
from debristrack.astrometry.residuals import accuracy, oc_residuals
from debristrack.astrometry.sky import add_sky_columns
from debristrack.astrometry.testdata import write_tracking_sequence
from debristrack.cli import main
from debristrack.errors import InputError
from debristrack.io.sequence import open_sequence
from debristrack.io.tables import read_table, write_table

SITE = Site(40.0, -3.0, 700.0)
NOISE = 0.6  # arcsec per axis


def _tracking_sequence(tmp_path, shared, n=60):
    """Target mode: each frame's WCS centred near the TLE position; the object measured with noise."""
    tle = read_tle(shared / "data" / "tle" / "gps-ops.txt", select="GPS BIIR-2")
    inj = write_tracking_sequence(tmp_path, tle, SITE, start="2019-04-10T20:00:00", frames=n,
                                  noise_arcsec=NOISE, rng=11)
    seq = open_sequence(tmp_path)
    return seq, add_sky_columns(inj.table, seq), inj.noise_arcsec, tle


def test_tle_oc_recovers_injected_noise(tmp_path, shared, capsys):
    seq, tracks, noise, tle = _tracking_sequence(tmp_path, shared)
    write_table(tracks, tmp_path / "tracks.csv")
    code = main(["residuals", str(tmp_path / "tracks.csv"), "--tle", str(shared / "data/tle/gps-ops.txt"),
                 "--object", "GPS BIIR-2", "--sequence", str(tmp_path), "--json",
                 "--plot", str(tmp_path / "oc.png"), "-o", str(tmp_path / "oc.csv")])
    assert code == 0
    fig = json.loads(capsys.readouterr().out)["tracks"]["1"]
    # eq. 23 on exactly the injected noise: the pipeline adds nothing of its own
    assert fig["sigma_ra_arcsec"] == pytest.approx(np.sqrt(np.mean(noise[0] ** 2)), abs=2e-3)
    assert fig["sigma_dec_arcsec"] == pytest.approx(np.sqrt(np.mean(noise[1] ** 2)), abs=2e-3)
    assert fig["sigma_total_arcsec"] == pytest.approx(np.hypot(fig["sigma_ra_arcsec"], fig["sigma_dec_arcsec"]))
    assert 19000 < fig["mean_range_km"] < 33500  # a GPS satellite (orbit radius 26,560 km)
    assert fig["sigma_m"] == pytest.approx(np.radians(fig["sigma_total_arcsec"] / 3600) * fig["mean_range_km"] * 1e3)
    assert (tmp_path / "oc.png").stat().st_size > 1000
    assert len(read_table(tmp_path / "oc.csv")) == 60


def test_paper_eq24_example():
    f = accuracy(np.array([0.899, -0.899]), np.array([1.0854, -1.0854]), range_m=np.array([19130e3] * 2))
    assert f.sigma_total_arcsec == pytest.approx(1.4094, abs=1e-4)  # [TRK] sec. 5.3
    assert f.sigma_m == pytest.approx(130.7, abs=0.2)


def test_ra_wrap():
    dra, _ = oc_residuals([0.0001], [0.0], [359.9999], [0.0])
    assert dra[0] == pytest.approx(0.72, abs=1e-6)


def test_tdm_parses_back_with_the_library(tmp_path, shared):
    import ccsds_ndm

    _, tracks, _, _ = _tracking_sequence(tmp_path, shared, n=5)
    assert write_tdm(tracks, tmp_path / "t.tdm", station="MADRID") == 1
    tdm = ccsds_ndm.from_file(str(tmp_path / "t.tdm"))
    seg = tdm.segments[0]
    assert seg.metadata.angle_type == "RADEC" and seg.metadata.participant_1 == "MADRID"
    values = [o.value for o in seg.data.observations]
    np.testing.assert_allclose(values[0::2], np.asarray(tracks["ra"]), atol=1e-9)
    np.testing.assert_allclose(values[1::2], np.asarray(tracks["dec"]), atol=1e-9)


def test_mot_and_overlay(tmp_path, shared):
    seq, tracks, _, _ = _tracking_sequence(tmp_path, shared, n=4)
    assert write_motchallenge(tracks, tmp_path / "m.txt") == 4
    first = (tmp_path / "m.txt").read_text().splitlines()[0].split(",")
    assert first[0] == "1" and first[1] == "1" and len(first) == 10
    assert write_overlay(seq, tracks, tmp_path / "o.gif") == 4
    assert write_overlay(seq, tracks, tmp_path / "o.png") == 4
    with pytest.raises(InputError, match="must be .gif or .png"):
        write_overlay(seq, tracks, tmp_path / "o.jpg")


def test_export_without_sky_columns_is_a_clear_error(tmp_path, capsys):
    write_table(Table({"frame": [0], "id": [1], "x": [1.0], "y": [1.0]}), tmp_path / "t.csv")
    assert main(["export", str(tmp_path / "t.csv"), "--tdm", str(tmp_path / "t.tdm")]) == 2
    assert "no time,ra,dec column" in capsys.readouterr().err


def test_tle_selection_errors(tmp_path, shared):
    with pytest.raises(InputError, match="choose one with --object"):
        read_tle(shared / "data/tle/gps-ops.txt")
    with pytest.raises(InputError, match="no object 'NOPE'"):
        read_tle(shared / "data/tle/gps-ops.txt", select="NOPE")
    with pytest.raises(InputError, match="lat,lon"):
        Site.parse("north")
