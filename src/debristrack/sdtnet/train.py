"""Training loop of SDT-Net, in one file (nanoGPT style).

A run is described by a :class:`TrainConfig` (model, data, loss weights, optimisation),
read from a JSON file (``configs/paper.json``, ``configs/cpu.json``) and overridden by flags.
Every epoch the loop writes ``<out>/last.pt``, a checkpoint that carries its own config,
optimizer state and loss history (``resume=True`` continues from it), ``<out>/weights.pt``
(the model alone, the format :mod:`debristrack.sdtnet.infer` loads) and
``<out>/loss.png``, the loss curve with each component of [SDT] eq. 16.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import replace_checked
from ..errors import InputError
from ..io.atomic import atomic_write, write_json_atomic
from .data import DataConfig, collate, training_samples
from .losses import LossWeights, total_loss
from .model import ModelConfig, SDTNet, resolve_device

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``model``, ``data`` and ``loss`` are nested configs."""

    model: ModelConfig = field(default_factory=ModelConfig, metadata={"cli": False})
    data: DataConfig = field(default_factory=DataConfig, metadata={"cli": False})
    loss: LossWeights = field(default_factory=LossWeights, metadata={"cli": False})
    epochs: int = field(default=60, metadata={"help": "epochs ([SDT] sec. 5.1: 60)"})
    steps_per_epoch: int = field(default=500, metadata={
        "help": "optimizer steps per epoch (samples are generated on the fly)"})
    batch: int = field(default=2, metadata={"help": "batch size ([SDT] sec. 5.1: 2)"})
    lr: float = field(default=3e-3, metadata={"help": "initial learning rate ([SDT] sec. 5.1: 3e-3)"})
    lr_step: int = field(default=20, metadata={"help": "epoch at which the learning rate is multiplied by 0.1"})
    optimizer: str = field(default="adam", metadata={"help": "adam or sgd (momentum 0.9)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "weight decay"})
    grad_clip: float = field(default=10.0, metadata={"help": "gradient norm clip (0 = none)"})
    seed: int = field(default=0, metadata={"help": "seed of the weights and the simulated data"})
    threads: int = field(default=2, metadata={"help": "CPU threads (torch.set_num_threads)"})
    device: str = field(default="auto", metadata={"help": "auto (cuda if available), cpu or cuda"})
    max_minutes: float = field(default=0.0, metadata={"help": "stop after this wall time, minutes (0 = no limit)"})
    init: str | None = field(default=None, metadata={
        "help": "weights file (.pt) to start from, e.g. to fine-tune the shipped weights; its model config "
                "must equal this run's"})

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first top-level parameter out of range."""
        checks = [
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.steps_per_epoch >= 1, "steps_per_epoch must be at least 1"),
            (self.batch >= 1, "batch must be at least 1"),
            (math.isfinite(self.lr) and self.lr > 0, "lr must be a positive number"),
            (self.lr_step >= 1, "lr_step must be at least 1"),
            (self.optimizer in ("adam", "sgd"), "optimizer must be adam or sgd"),
            (math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight_decay must be >= 0"),
            (math.isfinite(self.grad_clip) and self.grad_clip >= 0, "grad_clip must be >= 0"),
            (self.seed >= 0, "seed must be >= 0"),
            (self.threads >= 1, "threads must be at least 1"),
            (self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda"),
            (math.isfinite(self.max_minutes) and self.max_minutes >= 0, "max_minutes must be >= 0"),
        ]
        fwhm = self.data.fwhm
        if not (len(fwhm) == 2 and math.isfinite(fwhm[1]) and 0.5 <= fwhm[0] <= fwhm[1]):
            raise InputError(f"train: data fwhm must be LOW,HIGH px with 0.5 <= LOW <= HIGH, got {self.data.fwhm}")
        if not 0.0 <= self.data.bright_prob <= 1.0:
            raise InputError(f"train: data bright_prob must be in [0, 1], got {self.data.bright_prob}")
        if self.model.input not in ("frame", "residual"):
            raise InputError(f"train: model input must be frame or residual, got {self.model.input!r}")
        for ok, text in checks:
            if not ok:
                name, rest = text.split(" ", 1)
                raise InputError(f"train: --{name.replace('_', '-')} {rest}")


def config_to_dict(config: TrainConfig) -> dict:
    """JSON-ready dict of a config (tuples become lists)."""
    return dataclasses.asdict(config)


def config_from_dict(data: dict, *, source: str = "config") -> TrainConfig:
    """A :class:`TrainConfig` from a (possibly partial) dict; unknown keys are an InputError."""
    data = dict(data)
    nested = {"model": ModelConfig, "data": DataConfig, "loss": LossWeights}
    parts = {}
    for key, cls in nested.items():
        sub = data.pop(key, {}) or {}
        if not isinstance(sub, dict):
            raise InputError(f"{source}: '{key}' must be an object")
        sub = {k: tuple(v) if isinstance(v, list) else v for k, v in sub.items()}
        try:
            parts[key] = replace_checked(cls(), **sub)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
    try:
        return replace_checked(TrainConfig(), **parts, **data)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None


def load_config(path: str | Path) -> TrainConfig:
    """Read a JSON config; a bare name (``cpu``, ``paper``) means a shipped config."""
    p = Path(path)
    if not p.suffix and not p.exists():
        p = CONFIG_DIR / f"{path}.json"
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a config must be a JSON object")
    return config_from_dict(data, source=str(path))


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or SGD with momentum 0.9, per ``config.optimizer``."""
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    raise InputError(f"unknown optimizer {config.optimizer!r}; use adam or sgd")


def train_step(model: SDTNet, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               config: TrainConfig) -> dict[str, float]:
    """One optimizer step on ``batch``; returns the total loss and its parts (eq. 16)."""
    model.train()
    out = model(batch["cur"], batch["prev"], batch["prev_hm"])
    loss, parts = total_loss(out, batch, config.loss)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    return {"loss": float(loss.detach()), **parts}


def load_init(model: SDTNet, path: str | Path) -> None:
    """Copy the weights stored in ``path`` (``save_weights`` format) into ``model``; the
    stored model config must equal the model's."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        stored = payload["model_config"]
    except FileNotFoundError:
        raise InputError(f"{path}: init weights file not found") from None
    except (KeyError, TypeError, RuntimeError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not an SDT-Net weights file ({type(exc).__name__})") from None
    mine = dataclasses.asdict(model.config)
    stored = {**dataclasses.asdict(ModelConfig()), "norm": "zscale", "input": "frame", **stored}  # older files lack newer fields
    # the architecture must match; the input and its normalisation may change (fine-tuning adapts to them)
    diff = sorted(k for k in mine if k not in ("norm", "input")
                  and list(np.atleast_1d(mine[k])) != list(np.atleast_1d(stored[k])))
    if diff:
        raise InputError(f"{path}: model config differs from this run's in {', '.join(diff)}")
    model.load_state_dict(payload["state_dict"])


def save_weights(model: SDTNet, path: str | Path, *, info: dict | None = None) -> None:
    """Write the model alone (config + float32 state dict + ``info``) atomically."""
    payload = {"model_config": dataclasses.asdict(model.config), "state_dict": model.state_dict(),
               "info": info or {}}
    with atomic_write(path, "wb") as fh:
        torch.save(payload, fh)


def plot_history(history: list[dict], path: str | Path) -> None:
    """Loss curve PNG: total and each component per epoch (log scale)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = [h["epoch"] for h in history]
    for key in history[0]:
        if key != "epoch":
            ax.plot(epochs, [h[key] for h in history], label=key, lw=2 if key == "loss" else 1)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss")
    ax.set_title("SDT-Net training loss ([SDT] eq. 16 and its parts)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)


def train(config: TrainConfig, out_dir: str | Path, *, resume: bool = False,
          log: Callable[[str], None] = print) -> dict:
    """Train SDT-Net on simulated samples (or a dataset folder, ``config.data.dataset``);
    write checkpoints, weights and the loss curve.

    Parameters
    ----------
    config : the run.
    out_dir : folder for ``last.pt``, ``weights.pt``, ``loss.png`` and ``config.json``.
    resume : continue from ``out_dir/last.pt`` (its config is used; ``config`` only for
        ``epochs`` and ``max_minutes``).
    log : receives one progress line per logging interval and per epoch.

    Returns
    -------
    dict with ``epoch`` (epochs done), ``history`` (per-epoch mean losses) and ``minutes``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = None
    if resume:
        ckpt = out / "last.pt"
        if not ckpt.exists():
            raise InputError(f"{ckpt}: no checkpoint to resume from")
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        config = replace_checked(config_from_dict(state["config"], source=str(ckpt)),
                                 epochs=config.epochs, max_minutes=config.max_minutes)
    if config.data.crop < 32 or config.data.crop % 32:
        raise InputError(f"data.crop must be a positive multiple of 32 (the DLA's stride), got {config.data.crop}")
    torch.set_num_threads(max(1, config.threads))
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    model = SDTNet(config.model).to(device)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step, gamma=0.1)
    history: list[dict] = []
    start_epoch = 0
    data_rng = np.random.default_rng(config.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start_epoch = state["history"], state["epoch"]
        data_rng.bit_generator.state = state["data_rng"]
    elif config.init:
        load_init(model, config.init)
    write_json_atomic(out / "config.json", config_to_dict(config))
    samples = training_samples(config.data, rng=data_rng, norm=config.model.norm,
                               residual=config.model.input == "residual")
    t0 = time.monotonic()
    epoch = start_epoch
    for epoch in range(start_epoch, config.epochs):
        sums: dict[str, float] = {}
        for step in range(config.steps_per_epoch):
            batch = collate([next(samples) for _ in range(config.batch)], device)
            parts = train_step(model, optimizer, batch, config)
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            if (step + 1) % max(1, config.steps_per_epoch // 5) == 0:
                text = " ".join(f"{k} {v / (step + 1):.3f}" for k, v in sums.items())
                log(f"epoch {epoch + 1}/{config.epochs} step {step + 1}/{config.steps_per_epoch} {text} "
                    f"lr {scheduler.get_last_lr()[0]:.1e} {(time.monotonic() - t0) / 60:.1f} min")
        scheduler.step()
        history.append({"epoch": epoch + 1, **{k: v / config.steps_per_epoch for k, v in sums.items()}})
        with atomic_write(out / "last.pt", "wb") as fh:
            torch.save({"config": config_to_dict(config), "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "history": history, "epoch": epoch + 1, "data_rng": data_rng.bit_generator.state}, fh)
        save_weights(model, out / "weights.pt", info={"epochs": epoch + 1, "train_config": config_to_dict(config)})
        plot_history(history, out / "loss.png")
        log(f"epoch {epoch + 1} done: " + " ".join(f"{k} {v:.4f}" for k, v in history[-1].items() if k != "epoch"))
        if config.max_minutes and (time.monotonic() - t0) / 60 > config.max_minutes:
            log(f"stopping after {config.max_minutes} min (max_minutes)")
            epoch += 1
            break
    else:
        epoch = config.epochs
    return {"epoch": epoch, "history": history, "minutes": (time.monotonic() - t0) / 60}
