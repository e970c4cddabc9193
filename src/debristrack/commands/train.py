"""``debristrack train``: train SDT-Net ([SDT] sec. 4-5) on simulated data.

``--config`` names a JSON file or a shipped config (``cpu``, ``paper``); the run's top-level
parameters are flags too (``--epochs``, ``--lr``, ...). Checkpoints, weights and the loss
curve go to ``--out``; ``--resume`` continues from ``<out>/last.pt``.
"""

from __future__ import annotations

import argparse

from ..config import add_dataclass_arguments, overrides_from_args, replace_checked
from ..io.atomic import check_writable


def register(sub) -> None:
    from ..sdtnet.train import TrainConfig, load_config

    p = sub.add_parser("train", help="train SDT-Net on simulated data",
                       description="Train SDT-Net ([SDT] sec. 4-5) on sidereal scenes simulated on the fly. "
                                   "Writes OUT/last.pt (checkpoint with its config), OUT/weights.pt (for "
                                   "`track --method sdtnet --weights`), OUT/loss.png and OUT/config.json.")
    p.add_argument("--config", default="cpu", metavar="FILE",
                   help="JSON config file, or a shipped one: cpu (small, CPU) or paper (DLA-34, GPU) (default: cpu)")
    p.add_argument("--out", "-o", default="sdtnet-run", metavar="DIR", help="output folder (default: ./sdtnet-run)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--dataset", metavar="DIR",
                   help="train on crops of a simulated sidereal dataset (debristrack simulate) instead of "
                        "simulating on the fly")
    add_dataclass_arguments(p, TrainConfig, title="training options (override the config file; defaults shown: cpu)",
                            defaults=load_config("cpu"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..sdtnet.train import TrainConfig, load_config, train

    config = replace_checked(load_config(args.config), **overrides_from_args(TrainConfig, args))
    if args.dataset:
        config = replace_checked(config, data=replace_checked(config.data, dataset=args.dataset))
    config.validate()
    check_writable(args.out, what="training folder", folder=True)
    result = train(config, args.out, resume=args.resume)
    print(f"trained {result['epoch']} epochs in {result['minutes']:.1f} min; weights: {args.out}/weights.pt")
    return 0
