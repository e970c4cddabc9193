import dataclasses
import json

import numpy as np
import pytest
import torch

from debristrack.errors import InputError
from debristrack.sdtnet.data import (DataConfig, collate, dataset_samples, left_right, make_sample,
                                     simulated_samples, training_samples)
from debristrack.sdtnet.losses import total_loss
from debristrack.sdtnet.model import SDTNet
from debristrack.sdtnet.train import (TrainConfig, config_from_dict, load_config, make_optimizer, train,
                                      train_step)
from debristrack.simulate import iter_frames, make_scene


def test_sample_targets_match_truth():
    scene = make_scene("sidereal", "sdtd", size=64, frames=2, objects=(1, 1), length=(20.0, 20.0),
                       speed=(8.0, 8.0), gap_prob=0.0)
    prev, cur = iter_frames(scene, seed=3)
    s = make_sample(prev, cur, config=DataConfig(max_objects=4))
    # asinh input: the sky at 0.5 whatever its level, the streak above it
    assert s["cur"].shape == (1, 64, 64) and abs(float(np.median(s["cur"])) - 0.5) < 0.05
    z = make_sample(prev, cur, config=DataConfig(max_objects=4), norm="zscale")
    assert 0 <= z["cur"].min() and z["cur"].max() <= 1  # [SDT] eq. 1-3
    assert s["hm"].shape == (2, 16, 16) and s["mask"].shape == (1, 16, 16)
    assert s["obj"].tolist() == [1, 0, 0, 0] and s["track"][0] == 1
    (left, right), (p_left, p_right) = left_right(cur.truth), left_right(prev.truth)
    yl, xl = divmod(int(s["ind_l"][0]), 16)
    assert s["hm"][0, yl, xl] == 1.0
    assert np.allclose((np.array([xl, yl]) + s["reg"][0, :2] + 0.5) * 4 - 0.5, left[0])  # cell + sub-pixel
    assert np.allclose(s["off"][0] * 4, np.concatenate([left[0] - p_left[0], right[0] - p_right[0]]), atol=1e-4)
    assert s["mask"].max() == 1.0


def test_a_first_frame_sample_has_an_empty_sky_before_it():
    # first_prob: the sample inference gives a sequence's first frame (infer.first_previous)
    scene = make_scene("sidereal", "sdtd", size=64, frames=2, objects=(1, 1), length=(20.0, 20.0),
                       speed=(8.0, 8.0), gap_prob=0.0)
    prev, cur = iter_frames(scene, seed=3)
    s = make_sample(prev, cur, config=DataConfig(max_objects=4, first_prob=1.0), rng=np.random.default_rng(0))
    plain = make_sample(prev, cur, config=DataConfig(max_objects=4), rng=np.random.default_rng(0))
    assert np.ptp(s["prev"]) == 0 and abs(float(s["prev"][0, 0, 0]) - 0.5) < 0.05  # flat, at the sky
    assert s["prev_hm"].max() == 0 and s["track"].max() == 0 and not s["off"].any()  # nothing to follow
    assert np.array_equal(s["cur"], plain["cur"]) and np.array_equal(s["hm"], plain["hm"])  # same targets
    assert plain["track"][0] == 1 and np.ptp(plain["prev"]) > 0


def test_left_right_orders_endpoints():
    from astropy.table import Table
    t = Table({"x1": [5.0, 1.0, 3.0], "y1": [0.0, 0.0, 9.0], "x2": [1.0, 5.0, 3.0], "y2": [2.0, 2.0, 4.0]})
    left, right = left_right(t)
    assert left.tolist() == [[1.0, 2.0], [1.0, 0.0], [3.0, 4.0]]  # tie in x: smaller y is left
    assert right.tolist() == [[5.0, 0.0], [5.0, 2.0], [3.0, 9.0]]


@pytest.mark.parametrize("variant", [{}, {"roi_fe": False}, {"offset": False}, {"detection": "centre"}])
def test_one_step_lowers_loss(tiny_config, variant):
    torch.manual_seed(0)
    config = TrainConfig(model=dataclasses.replace(tiny_config, **variant), data=DataConfig(crop=64), lr=1e-3, optimizer="adam", batch=2)
    batch = collate([next(simulated_samples(config.data, rng=1)) for _ in range(2)])
    model = SDTNet(config.model)
    optimizer = make_optimizer(model, config)
    before = train_step(model, optimizer, batch, config)["loss"]
    model.train()
    with torch.no_grad():
        after, _ = total_loss(model(batch["cur"], batch["prev"], batch["prev_hm"]), batch, config.loss)
    assert float(after) < before


def test_train_writes_checkpoint_and_resumes(tmp_path, tiny_config):
    config = TrainConfig(model=tiny_config, data=DataConfig(crop=64, max_objects=4), epochs=1, steps_per_epoch=2,
                         batch=1, threads=1, device="cpu")
    result = train(config, tmp_path, log=lambda s: None)
    assert result["epoch"] == 1 and len(result["history"]) == 1
    assert {"last.pt", "weights.pt", "loss.png", "config.json"} <= {p.name for p in tmp_path.iterdir()}
    assert json.loads((tmp_path / "config.json").read_text())["model"]["channels"] == [4, 8, 8, 8, 8, 8]
    more = train(TrainConfig(epochs=2), tmp_path, resume=True, log=lambda s: None)  # config from the checkpoint
    assert more["epoch"] == 2 and [h["epoch"] for h in more["history"]] == [1, 2]


def test_shipped_configs_load():
    assert load_config("cpu").model.channels[-1] < load_config("paper").model.channels[-1]
    assert load_config("paper").data.crop >= 1524 and load_config("paper").batch == 2
    # [SDT] Tab. 3: (a) centre + offsets, (b) LSE + offsets, (c) LSE + RoI-FE; (d) = cpu
    a, b, c, d = (load_config(n).model for n in ("ablation-a-centre", "ablation-b-no-roife",
                                                  "ablation-c-no-offset", "cpu"))
    assert (a.detection, a.roi_fe, a.offset) == ("centre", False, True)
    assert (b.detection, b.roi_fe, b.offset) == ("endpoints", False, True)
    assert (c.detection, c.roi_fe, c.offset) == ("endpoints", True, False)
    assert (d.detection, d.roi_fe, d.offset) == ("endpoints", True, True)
    assert load_config("cpu-finetune").data.crop > load_config("cpu").data.crop


def test_config_errors(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(InputError, match="bad.json: not valid JSON"):
        load_config(bad)
    with pytest.raises(InputError, match="x.json: unknown ModelConfig parameter\\(s\\): depth"):
        config_from_dict({"model": {"depth": 3}}, source="x.json")
    with pytest.raises(InputError, match="data.crop must be a positive multiple of 32"):
        train(TrainConfig(data=DataConfig(crop=100)), tmp_path / "x")
    with pytest.raises(InputError, match="no checkpoint to resume"):
        train(TrainConfig(), tmp_path / "empty", resume=True)
    with pytest.raises(InputError, match="model input must be frame or residual, got 'stack'"):
        config_from_dict({"model": {"input": "stack"}}, source="x.json").validate()
    with pytest.raises(InputError, match="a residual-input model trains on simulated scenes only"):
        training_samples(DataConfig(dataset=str(tmp_path)), residual=True)
    with pytest.raises(InputError, match="data fwhm must be LOW,HIGH px"):
        config_from_dict({"data": {"fwhm": [6.0, 2.0]}}, source="x.json").validate()
    with pytest.raises(InputError, match="data bright_prob must be in"):
        config_from_dict({"data": {"bright_prob": 1.5}}, source="x.json").validate()


def test_randomized_scenes_draw_wide_psfs_and_saturated_trails():
    from debristrack.sdtnet.data import randomized_scene

    rng = np.random.default_rng(4)
    wide = [randomized_scene("debris", 96, rng, fwhm=(6.0, 9.0)).fwhm for _ in range(5)]
    assert all(6.0 <= w <= 9.0 for w in wide)
    saturated = 0
    for k in range(4):  # sunlit satellites: their trails reach the camera's SATURATE
        scene = randomized_scene("debris", 96, rng, bright=True)
        frame = next(iter(iter_frames(scene, seed=k)))
        assert scene.snr[0] >= 100
        saturated += int(((frame.data >= scene.saturate) & (np.asarray(frame.mask) > 0)).sum())
    assert saturated > 0


def test_dataset_samples(tmp_path):
    from debristrack.simulate.dataset import simulate_dataset

    simulate_dataset(tmp_path, mode="sidereal", preset="sdtd", sequences=1, seed=1, progress=False,
                     overrides={"size": 96, "frames": 3})
    s = next(dataset_samples(tmp_path, DataConfig(crop=64, max_objects=4), rng=0))
    assert s["cur"].shape == (1, 64, 64) and s["hm"].shape == (2, 16, 16) and s["mask"].shape == (1, 16, 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no FITS sequence"):
        next(dataset_samples(tmp_path / "empty", DataConfig()))
    with pytest.raises(InputError, match="smaller than the crop 128"):
        next(dataset_samples(tmp_path, DataConfig(crop=128)))


def test_train_command(tmp_path, capsys):
    from debristrack.cli import main

    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps({"model": {"levels": [1] * 6, "channels": [4, 8, 8, 8, 8, 8], "head_conv": 8},
                               "data": {"crop": 64, "max_objects": 4}, "batch": 1, "threads": 1, "device": "cpu"}))
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--epochs", "1", "--steps-per-epoch", "1"]) == 0
    assert (out / "weights.pt").exists()
    assert main(["train", "--config", str(tmp_path / "nope.json"), "--out", str(out)]) == 2
    assert "nope.json: config file not found" in capsys.readouterr().err


def test_init_from_weights(tmp_path, tiny_config):
    from debristrack.sdtnet.train import load_init, save_weights

    source = SDTNet(tiny_config)
    save_weights(source, tmp_path / "w.pt")
    target = SDTNet(tiny_config)
    load_init(target, tmp_path / "w.pt")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))
    with pytest.raises(InputError, match="w.pt: model config differs from this run's in emb_dim"):
        load_init(SDTNet(dataclasses.replace(tiny_config, emb_dim=3)), tmp_path / "w.pt")
    with pytest.raises(InputError, match="init weights file not found"):
        load_init(target, tmp_path / "none.pt")
    config = TrainConfig(model=tiny_config, data=DataConfig(crop=64, max_objects=4), epochs=1, steps_per_epoch=1,
                         batch=1, threads=1, device="cpu", init=str(tmp_path / "w.pt"))
    assert train(config, tmp_path / "run", log=lambda s: None)["epoch"] == 1


def test_residual_samples_lose_the_stars_and_keep_the_streaks():
    from debristrack.sdtnet.data import RESIDUAL_FRAMES, static_residuals

    scene = make_scene("sidereal", "debris", size=96, frames=RESIDUAL_FRAMES, objects=(1, 1), snr=(40.0, 40.0),
                       star_density=3000.0, leo_prob=0.0, gap_prob=0.0, min_separation=0.0)
    sim = list(iter_frames(scene, seed=4))
    res = static_residuals(sim)
    assert len(res) == len(sim) and all(r.truth is f.truth for r, f in zip(res, sim))
    frame, residual = sim[2].data, res[2].data
    noise = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    x, y, _ = sim[2].stars[np.argmax(sim[2].stars[:, 2])]  # the brightest star
    y, x = int(round(y)), int(round(x))
    assert frame[y, x] - np.median(frame) > 50 * noise and abs(residual[y, x]) < 8 * noise
    t = sim[2].truth[0]  # the streak stays: its middle well above the noise
    ym, xm = int(round((t["y1"] + t["y2"]) / 2)), int(round((t["x1"] + t["x2"]) / 2))
    assert residual[ym - 1:ym + 2, xm - 1:xm + 2].max() > 5 * noise
    # a residual scene gives a sample per consecutive pair
    samples = simulated_samples(DataConfig(crop=64, presets=("debris",), max_objects=4), rng=2, residual=True)
    first = [next(samples) for _ in range(RESIDUAL_FRAMES - 1)]
    assert all(s["cur"].shape == (1, 64, 64) and s["hm"].shape == (2, 16, 16) for s in first)


def test_real_sequences_keep_their_times_and_mark_the_frames_with_real_trails(shared):
    from debristrack.sdtnet.data import real_sequences

    seqs = {s.name: s for s in real_sequences(shared / "real-dev" / "sequences", least=5, size=192)}
    assert set(seqs) == {"neossat-213p", "neossat-leonard-night1", "seestar-m94"}
    leonard = seqs["neossat-leonard-night1"]
    # 65 s exposures every 95 s; streaks.csv marks frames 5 and 8 (NEOS_SCI_2021316235210, ...235655)
    assert leonard.exptime == pytest.approx(65.0, abs=0.1) and leonard.cadence == pytest.approx(95.0, abs=0.5)
    assert leonard.trails == {4, 7} and leonard.frames.shape[0] == 8 and leonard.frames.dtype == np.float32
    assert not seqs["seestar-m94"].trails
    with pytest.raises(InputError, match="no real sequence"):
        real_sequences(shared / "real-dev" / "sequences", least=50)


def test_real_sequence_scenes_add_labelled_streaks_to_the_real_pixels(shared):
    from scipy.ndimage import binary_dilation

    from debristrack.sdtnet.data import real_sequence_frames, real_sequences, static_residuals

    seq = next(s for s in real_sequences(shared / "real-dev" / "sequences", least=5) if s.name == "neossat-leonard-night1")
    frames, marked = real_sequence_frames(seq, "debris", 128, np.random.default_rng(3), len(seq.frames))
    assert marked == [k in (4, 7) for k in range(8)]  # the whole night: its two trail frames are marked
    assert all(f.data.shape == (128, 128) and f.mask.shape == (128, 128) for f in frames)
    for k, f in enumerate(frames):  # away from the streaks, the camera's own pixels (but cosmic rays)
        away = ~binary_dilation(f.mask, iterations=6)
        assert np.isin(f.data[away], seq.frames[k]).mean() > 0.995
    with_streaks = [k for k, f in enumerate(frames) if len(f.truth)]
    assert with_streaks, "the debris preset puts streaks in the frames"
    # in the static-sky residual the real stars are gone and the streak stands out
    k = with_streaks[len(with_streaks) // 2]
    window = list(range(max(0, k - 2), max(0, k - 2) + 5))
    res = static_residuals([frames[j] for j in window])[window.index(k)]
    t = res.truth[int(np.argmax(res.truth["snr"]))]
    noise = 1.4826 * float(np.median(np.abs(res.data - np.median(res.data))))
    ym, xm = int(round((t["y1"] + t["y2"]) / 2)), int(round((t["x1"] + t["x2"]) / 2))
    assert res.data[max(ym - 2, 0):ym + 3, max(xm - 2, 0):xm + 3].max() > 3 * noise
