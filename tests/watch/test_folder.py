"""FolderWatcher: complete files only, in time order; half-written files are waited for."""

from __future__ import annotations

import time

from astropy.io import fits

from debristrack.watch.folder import FolderWatcher

from .livesim import make_frames


def test_half_written_frame_is_waited_for_not_read(tmp_path):
    src = make_frames(tmp_path / "src", 1)[0]
    raw = src.read_bytes()
    live = tmp_path / "live"
    live.mkdir()
    target = live / src.name
    watcher = FolderWatcher(live, settle=0.05)
    with open(target, "wb") as fh:
        fh.write(raw[: len(raw) // 2])
        fh.flush()
        for _ in range(4):  # stable size, but the data the header announces are not all there
            assert watcher.poll() == []
        fh.write(raw[len(raw) // 2:])
    arrivals = []
    for _ in range(4):
        arrivals += watcher.poll()
    assert [a.path.name for a in arrivals] == [src.name]
    assert arrivals[0].size == len(raw)
    assert watcher.poll() == []  # handed out once


def test_a_growing_file_is_not_complete_until_its_size_stops_changing(tmp_path):
    src = make_frames(tmp_path / "src", 1)[0]
    live = tmp_path / "live"
    live.mkdir()
    watcher = FolderWatcher(live, settle=0.05)
    (live / src.name).write_bytes(src.read_bytes())
    assert watcher.poll() == []          # first look: new
    assert len(watcher.poll()) == 1      # second look, unchanged: complete


def test_time_order_not_name_order(tmp_path):
    paths = make_frames(tmp_path / "live", 3)
    # give the files names in the reverse order of their times
    for p, name in zip(paths, ("c.fits", "b.fits", "a.fits")):
        p.rename(p.with_name(name))
    watcher = FolderWatcher(tmp_path / "live", settle=0.01)
    watcher.poll()
    got = watcher.poll()
    assert [a.path.name for a in got] == ["c.fits", "b.fits", "a.fits"]
    assert [a.time.isot for a in got] == sorted(a.time.isot for a in got)


def test_unreadable_file_reported_once_after_give_up(tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    (live / "junk.fits").write_text("not a FITS file at all")
    watcher = FolderWatcher(live, settle=0.01, give_up=0.05)
    seen = []
    for _ in range(10):
        assert watcher.poll() == []
        seen += watcher.broken
        time.sleep(0.01)
    assert [p.name for p, _ in seen] == ["junk.fits"]
    assert "not a readable FITS file" in seen[0][1]


def test_folder_that_appears_later_and_frames_subfolder(tmp_path):
    seq = tmp_path / "seq0000"
    watcher = FolderWatcher(seq, settle=0.01)
    assert watcher.poll() == []  # nothing there yet
    make_frames(seq / "frames", 2)
    watcher.poll()
    got = watcher.poll()
    assert [a.path.parent.name for a in got] == ["frames", "frames"]
    assert fits.getheader(got[0].path)["EXPTIME"] == 5.0
