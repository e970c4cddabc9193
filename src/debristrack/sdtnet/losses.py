"""SDT-Net losses, [SDT] eq. 8, 9, 11, 12, 15 and their weighted sum eq. 16.

All maps are at output resolution (input / 4). Objects are given per image as K slots
(``ind_l``, ``ind_r``: flat indices ``y * w + x`` of the left/right endpoint cells; ``obj``:
1 where the slot holds an object; ``track``: 1 where the object was also in the previous
frame, so its tracking offset is known).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    """Weights of eq. 16 ([SDT] sec. 5.1: seg 1, hm 10, emb 1, off 0.1) and of the
    sub-pixel offset (CenterNet's 1)."""

    seg: float = field(default=1.0, metadata={"help": "lambda_seg, [SDT] eq. 16"})
    hm: float = field(default=10.0, metadata={"help": "lambda_hm, [SDT] eq. 16"})
    emb: float = field(default=1.0, metadata={"help": "lambda_emb, [SDT] eq. 16"})
    off: float = field(default=0.1, metadata={"help": "lambda_off, [SDT] eq. 16"})
    reg: float = field(default=1.0, metadata={"help": "weight of the sub-pixel offset L1 (CenterNet)"})
    delta: float = field(default=1.0, metadata={"help": "push margin Delta of [SDT] eq. 12"})


def gather(maps: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """Values of (B, C, h, w) ``maps`` at flat indices ``ind`` (B, K) -> (B, K, C)."""
    b, c = maps.shape[:2]
    flat = maps.reshape(b, c, -1)
    return flat.gather(2, ind.unsqueeze(1).expand(b, c, ind.shape[1])).permute(0, 2, 1)


def seg_loss(mask_logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[SDT] eq. 8: pixel-mean binary cross-entropy of the debris mask (logits in, stable)."""
    return F.binary_cross_entropy_with_logits(mask_logit, target)


def focal_loss(hm_logit: torch.Tensor, target: torch.Tensor, *, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """[SDT] eq. 9: CenterNet's penalty-reduced focal loss over Gaussian targets, / N_pos."""
    pred = torch.sigmoid(hm_logit).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    pos_term = torch.log(pred) * (1 - pred) ** alpha * pos
    neg_term = torch.log(1 - pred) * pred ** alpha * (1 - target) ** beta * (1 - pos)
    return -(pos_term.sum() + neg_term.sum()) / pos.sum().clamp(min=1.0)


def embedding_losses(emb: torch.Tensor, ind_l: torch.Tensor, ind_r: torch.Tensor, obj: torch.Tensor,
                     *, delta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """[SDT] eq. 11 (pull, ``L_same``) and eq. 12 (push, ``L_diff``), averaged over the batch.

    ``emb`` (B, 2D, h, w): left embeddings in the first D channels, right in the last D.
    Distances are Euclidean over the D channels.
    """
    d = emb.shape[1] // 2
    el, er = gather(emb[:, :d], ind_l), gather(emb[:, d:], ind_r)  # (B, K, D)
    ec = (el + er) / 2
    m = obj.float()
    k = m.sum(1)  # (B,)
    same = ((((el - ec) ** 2).sum(-1) + ((er - ec) ** 2).sum(-1)) * m).sum(1) / k.clamp(min=1)  # eq. 11
    dist = torch.cdist(ec, ec)  # (B, K, K)
    pair = m[:, :, None] * m[:, None, :] * (1 - torch.eye(m.shape[1], device=m.device))
    diff = (F.relu(delta - dist) * pair).sum((1, 2)) / (k * (k - 1)).clamp(min=1)  # eq. 12
    return same.mean(), diff.mean()


def l1_at(maps: torch.Tensor, ind_l: torch.Tensor, ind_r: torch.Tensor | None, target: torch.Tensor,
          weight: torch.Tensor) -> torch.Tensor:
    """Mean L1 between (B, 4, h, w) ``maps`` (left x, y, right x, y) at the endpoint cells and
    ``target`` (B, K, 4), over slots with ``weight`` 1 ([SDT] eq. 15; CenterNet's reg loss).
    With ``ind_r`` None: (B, C, h, w) maps at the cells ``ind_l``, target (B, K, C)."""
    if ind_r is None:
        pred = gather(maps, ind_l)
    else:
        pred = torch.cat([gather(maps[:, :2], ind_l), gather(maps[:, 2:], ind_r)], -1)
    w = weight.float().unsqueeze(-1)
    return (torch.abs(pred - target) * w).sum() / (pred.shape[-1] * w.sum()).clamp(min=1.0)


def total_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
               weights: LossWeights = LossWeights()) -> tuple[torch.Tensor, dict[str, float]]:
    """[SDT] eq. 16. ``out`` from :class:`~debristrack.sdtnet.model.SDTNet`; ``batch`` from
    :func:`debristrack.sdtnet.data.collate`. Returns the loss and its parts as floats."""
    if "wh" in out:  # Tab. 3 row a: centre heatmap, segment vector as CenterNet's size (weight 0.1)
        ind = batch["ind_c"]
        parts = {"hm": focal_loss(out["hm"], batch["hm_c"]),
                 "wh": l1_at(out["wh"], ind, None, batch["wh"], batch["obj"]),
                 "reg": l1_at(out["reg"], ind, None, batch["reg_c"], batch["obj"])}
        loss = weights.hm * parts["hm"] + 0.1 * parts["wh"] + weights.reg * parts["reg"]
    else:
        ind, off = None, batch["off"]
        parts = {"hm": focal_loss(out["hm"], batch["hm"])}
        parts["same"], parts["diff"] = embedding_losses(out["emb"], batch["ind_l"], batch["ind_r"], batch["obj"],
                                                        delta=weights.delta)
        parts["reg"] = l1_at(out["reg"], batch["ind_l"], batch["ind_r"], batch["reg"], batch["obj"])
        loss = weights.hm * parts["hm"] + weights.emb * (parts["same"] + parts["diff"]) + weights.reg * parts["reg"]
    if "mask" in out:
        parts["seg"] = seg_loss(out["mask"], batch["mask"])
        loss = loss + weights.seg * parts["seg"]
    if "off" in out:
        parts["off"] = (l1_at(out["off"], ind, None, batch["off_c"], batch["track"]) if ind is not None
                        else l1_at(out["off"], batch["ind_l"], batch["ind_r"], batch["off"], batch["track"]))
        loss = loss + weights.off * parts["off"]
    return loss, {k: float(v.detach()) for k, v in parts.items()}
