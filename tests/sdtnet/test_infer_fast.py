"""The loaded network is the trained one: BatchNorm folded into its convolutions, subnormal
weights zeroed and the CPU's channels-last layout change how it runs, not what it computes."""

import numpy as np
import torch

from debristrack.sdtnet.infer import load_model, run_model
from debristrack.sdtnet.model import SDTNet
from debristrack.sdtnet.options import DEFAULT_WEIGHTS


def test_the_loaded_net_gives_the_maps_of_the_stored_one():
    loaded = load_model(str(DEFAULT_WEIGHTS), "cpu")
    payload = torch.load(DEFAULT_WEIGHTS, map_location="cpu", weights_only=True)
    plain = SDTNet(loaded.config)
    plain.load_state_dict(payload["state_dict"])
    plain.eval()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.modules())  # folded
    tiny = torch.finfo(torch.float32).tiny
    subnormal = [n for n, v in payload["state_dict"].items() if v.is_floating_point() and ((v != 0) & (v.abs() < tiny)).any()]
    assert subnormal, "the stored weights have subnormal values (weight decay leaves them)"
    assert not any(((p != 0) & (p.abs() < tiny)).any() for p in loaded.parameters())  # zeroed: no slow path
    rng = np.random.default_rng(0)
    cur, prev = rng.random((2, 96, 128), dtype=np.float32)
    hm = np.zeros((2, 96, 128), np.float32)
    hm[0, 40:44, 60:64] = 1.0
    with torch.inference_mode():
        got = run_model(loaded, cur, prev, hm, torch.device("cpu"))
        want = run_model(plain, cur, prev, hm, torch.device("cpu"))
    assert got.keys() == want.keys()
    for k in want:
        assert np.allclose(got[k], want[k], atol=1e-4, rtol=1e-4), k


def test_bench_rows_name_weights_files_that_share_a_name(tmp_path):
    # every training run writes OUT/weights.pt: two runs compared in one bench keep their own rows
    import shutil

    from debristrack.bench.sdtnet_real import rows_for
    from debristrack.sdtnet.infer import DEFAULT_WEIGHTS

    paths = []
    for run in ("run-a", "run-b"):
        (tmp_path / run).mkdir()
        paths.append(str(shutil.copy(DEFAULT_WEIGHTS, tmp_path / run / "weights.pt")))
    names = [name for name, _, _ in rows_for([None, *paths])]
    assert names[:2] == ["matched+physical", "sdtnet"]
    assert "sdtnet (run-a/weights.pt)" in names and "sdtnet (run-b/weights.pt)" in names
    assert len(set(names)) == len(names)
    assert "sdtnet (sdtnet_real.pt)" in [n for n, _, _ in rows_for([None, str(DEFAULT_WEIGHTS.parent / "sdtnet_real.pt")])]


def test_bench_counts_false_tracks_of_streak_free_frames_run_alone(tmp_path, monkeypatch):
    # bench sdtnet_real runs every streak-free frame of the real-dev sequences as a one-frame
    # input; a frame with an annotated trail is left out, every track of the others is false
    import argparse

    from debristrack.bench import real, sdtnet_real
    from debristrack.io.sequence import find_sequences, open_sequence
    from debristrack.simulate.dataset import simulate_dataset

    simulate_dataset(tmp_path, mode="sidereal", preset="debris", sequences=1, seed=4, progress=False,
                     overrides={"size": 256, "frames": 3, "objects": (1, 1), "snr": (40.0, 40.0), "leo_prob": 0.0,
                                "speed": (50.0, 50.0), "gap_prob": 0.0})
    path = find_sequences(tmp_path)[0] / "frames"  # FITS files directly in it, as a real-dev sequence
    names = [p.rsplit("/", 1)[-1] for p in open_sequence(path).names]
    inputs = [real.Input(path, "real-dev", {names[0]: [np.zeros(4)]}, False)]
    monkeypatch.setattr(real, "real_inputs", lambda shared: inputs)
    rows = (("matched+physical", {}, "matched+physical"),)
    alone = sdtnet_real.alone_rows(argparse.Namespace(shared=tmp_path), real.Config(), rows)
    assert alone == {"matched+physical": (2, 2)}  # frames 1 and 2, the unannotated streak in each
    assert "`matched+physical` 1.00 (2)" in sdtnet_real.alone_report(alone)
