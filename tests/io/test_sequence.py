import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time, TimeDelta

from debristrack.errors import InputError
from debristrack.io.sequence import find_sequences, open_sequence


def _frames(tmp_path, write_frame, n=3, shape=(20, 30), start="2024-01-01T00:00:00", exptime=5.0, step=10):
    t0 = Time(start)
    for i in range(n):
        data = np.full(shape, float(i), np.float32)
        date = (t0 + TimeDelta(i * step, format="sec")).isot
        write_frame(tmp_path / f"f{n - i:02d}.fits", data, DATE_OBS=date, EXPTIME=exptime)
    return tmp_path


def test_folder_sorted_by_date_obs_and_mid_times(tmp_path, frame_writer):
    seq = open_sequence(_frames(tmp_path, frame_writer))
    assert len(seq) == 3 and seq.shape == (20, 30)
    # files are named in reverse time order: DATE-OBS decides
    assert [seq[i].data[0, 0] for i in range(3)] == [0.0, 1.0, 2.0]
    assert seq.times[0].isot == "2024-01-01T00:00:02.500"  # DATE-OBS + EXPTIME/2
    assert seq.exptime(0) == 5.0


def test_folder_without_dates_is_sorted_by_name(tmp_path, frame_writer):
    for name, v in (("b.fits", 2), ("a.fits", 1), ("c.fit", 3)):
        frame_writer(tmp_path / name, np.full((4, 4), v, np.float32))
    seq = open_sequence(tmp_path)
    assert [f.data[0, 0] for f in seq] == [1, 2, 3]
    assert seq.times is None


def test_cube_and_mef_round_trip(tmp_path):
    cube = np.arange(3 * 5 * 6, dtype=np.float32).reshape(3, 5, 6)
    hdu = fits.PrimaryHDU(cube)
    hdu.header["DATE-OBS"] = "2024-01-01T00:00:00"
    hdu.header["EXPTIME"] = 2.0
    hdu.header["CADENCE"] = 3.0
    hdu.writeto(tmp_path / "cube.fits")
    seq = open_sequence(tmp_path / "cube.fits")
    assert len(seq) == 3 and seq.shape == (5, 6)
    np.testing.assert_array_equal(seq[2].data, cube[2])
    assert seq.times[2].isot == "2024-01-01T00:00:07.000"

    mef = fits.HDUList([fits.PrimaryHDU()] + [fits.ImageHDU(cube[i]) for i in range(3)])
    mef.writeto(tmp_path / "mef.fits")
    seq = open_sequence(tmp_path / "mef.fits")
    assert len(seq) == 3
    np.testing.assert_array_equal(seq[1].data, cube[1])


def test_mef_skips_mask_and_variance_extensions(tmp_path):
    img = fits.ImageHDU(np.ones((4, 4), np.float32), name="IMAGE")
    mask = fits.ImageHDU(np.zeros((4, 4), np.int32), name="MASK")
    var = fits.ImageHDU(np.ones((4, 4), np.float32), name="VARIANCE")
    fits.HDUList([fits.PrimaryHDU(), img, mask, var]).writeto(tmp_path / "calexp.fits")
    assert len(open_sequence(tmp_path / "calexp.fits")) == 1


def test_simulated_layout_reads_frames_folder(tmp_path, frame_writer):
    for i in range(2):
        frame_writer(tmp_path / "seq" / "frames" / f"{i:06d}.fits", np.zeros((3, 3), np.float32))
    (tmp_path / "seq" / "gt.csv").write_text("frame,id,x,y\n")
    assert len(open_sequence(tmp_path / "seq")) == 2
    assert find_sequences(tmp_path) == [tmp_path / "seq"]


def test_frames_read_lazily(tmp_path, monkeypatch, frame_writer):
    seq = open_sequence(_frames(tmp_path, frame_writer, n=4))
    import debristrack.io.sequence as mod

    reads = []
    real = mod._read_pixels
    monkeypatch.setattr(mod, "_read_pixels", lambda ref: reads.append(ref) or real(ref))
    it = iter(seq)
    next(it)
    assert len(reads) == 1  # opening read headers only; one frame asked, one frame read


def test_bad_pixel_mask_and_clean(tmp_path, frame_writer):
    data = np.full((10, 10), 100.0, np.float32)
    data[0, 0] = np.nan
    data[1, 1] = np.inf
    data[5:8, 5:8] = 0.0  # a dead block
    data[9, 0] = 0.0  # a lone zero is kept
    data[2, 2] = 60000.0
    frame_writer(tmp_path / "f.fits", data, SATURATE=50000.0)
    frame = open_sequence(tmp_path / "f.fits")[0]
    assert frame.mask[0, 0] and frame.mask[1, 1] and frame.mask[6, 6] and frame.mask[2, 2]
    assert not frame.mask[9, 0] and not frame.mask[4, 4]
    assert np.isfinite(frame.clean).all()
    assert frame.clean[0, 0] == 100.0 and frame.clean[2, 2] == 60000.0  # saturated kept


def test_legacy_and_split_date_headers(tmp_path, frame_writer):
    frame_writer(tmp_path / "a.fits", np.zeros((3, 3)), DATE_OBS="26/07/102", TIME_OBS="19:36:37", EXPTIME=60)
    assert open_sequence(tmp_path / "a.fits").times[0].isot == "2002-07-26T19:37:07.000"


# ---- bad input: one line naming the file and the problem ----

def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        open_sequence(tmp_path / "nope")


def test_empty_folder(tmp_path):
    with pytest.raises(InputError, match=r"no FITS files"):
        open_sequence(tmp_path)


def test_not_fits(tmp_path):
    (tmp_path / "x.fits").write_text("hello, I am not FITS")
    with pytest.raises(InputError, match=r"x\.fits: not a readable FITS file"):
        open_sequence(tmp_path)


def test_truncated(tmp_path, frame_writer):
    path = frame_writer(tmp_path / "t.fits", np.ones((100, 100), np.float32))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match=r"t\.fits: truncated file"):
        open_sequence(path)


def test_no_image_hdu(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "tab.fits")
    with pytest.raises(InputError, match=r"tab\.fits: no image HDU"):
        open_sequence(tmp_path / "tab.fits")


def test_mismatched_shapes(tmp_path, frame_writer):
    frame_writer(tmp_path / "a.fits", np.zeros((10, 10), np.float32))
    frame_writer(tmp_path / "b.fits", np.zeros((10, 12), np.float32))
    with pytest.raises(InputError, match=r"b\.fits: frame shape 12x10 \(nx x ny\) differs"):
        open_sequence(tmp_path)


def test_single_frame_where_more_needed(tmp_path, frame_writer):
    frame_writer(tmp_path / "a.fits", np.zeros((10, 10), np.float32))
    seq = open_sequence(tmp_path)
    with pytest.raises(InputError, match=r"1 frame\(s\); minstack needs at least 3"):
        seq.require(3, "minstack needs at least 3 frames")


def test_real_frames_open(shared):
    real = shared / "real"
    for path in sorted(real.glob("*/*.fits")):
        seq = open_sequence(path)
        assert len(seq) == 1
        assert np.isfinite(seq[0].clean).all()
    m13 = open_sequence(real / "no-streaks" / "m13-sequence")
    assert len(m13) == 5 and m13.shape == (1040, 1392)
    assert (np.diff(m13.times.mjd) > 0).all()
    assert open_sequence(real / "streaks" / "astride_long.fits").wcs(0) is not None
