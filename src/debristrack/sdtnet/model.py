"""SDT-Net ([SDT] sec. 4): DLA backbone, IDA up-samplers, RoI-FE mask gating and the heads.

The network maps the current frame ``I_t``, the previous frame ``I_{t-1}`` and the previous
frame's left/right endpoint heatmaps ``H_{t-1}`` (all at input resolution) to maps at
``1 / stride`` of the input (stride 4, as CenterNet/CenterTrack):

- ``mask`` (B, 1, h, w): debris probability, the RoI-FE segmentation ([SDT] sec. 4.3);
- ``hm`` (B, 2, h, w): left / right endpoint heatmap logits ([SDT] sec. 4.4.1);
- ``emb`` (B, 2*D, h, w): left (first D channels) / right line-source embeddings (sec. 4.4.2);
- ``reg`` (B, 4, h, w): sub-pixel offsets of the left (x, y) and right (x, y) endpoints inside
  their output cell, in output pixels (CenterNet's "reg" head);
- ``off`` (B, 4, h, w): tracking offsets ``c^t - c^{t-1}`` of the left and right endpoints in
  output pixels ([SDT] eq. 13), only when the offset module is on.

With ``detection="centre"`` ([SDT] Tab. 3 row a, CenterTrack-style) the heads are instead
``hm`` (B, 1): segment centres; ``wh`` (B, 2): the segment vector right - left end, output px
(a signed vector: a box's width and height would not tell the two diagonals apart); ``reg``
and ``off`` (B, 2): sub-pixel and tracking offsets of the centre.

The DLA follows Yu et al. 2018 (BasicBlock, Root, Tree) as CenterNet's ``dla.py`` builds it;
the up-sampler is an iterative deep aggregation (IDA) from the deepest level to stride 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

STRIDE = 4


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of SDT-Net. ``paper`` = DLA-34; ``cpu`` = a narrow, shallow DLA."""

    levels: tuple[int, ...] = field(default=(1, 1, 1, 2, 2, 1),
                                    metadata={"help": "DLA tree depth per level 0-5 (DLA-34: 1,1,1,2,2,1)"})
    channels: tuple[int, ...] = field(default=(16, 32, 64, 128, 256, 512),
                                      metadata={"help": "DLA channels per level 0-5 (DLA-34: 16,...,512)"})
    head_conv: int = field(default=256, metadata={"help": "hidden channels of each head"})
    emb_dim: int = field(default=4, metadata={"help": "line-source embedding size D ([SDT] sec. 4.4.2)"})
    detection: str = field(default="endpoints", metadata={
        "help": "endpoints: left/right heatmaps + embeddings (LSE, [SDT] sec. 4.4); "
                "centre: CenterTrack-style centre heatmap + segment vector (Tab. 3 row a)"})
    roi_fe: bool = field(default=True, metadata={"help": "RoI-FE mask gating, [SDT] eq. 7 (off = Tab. 3 row b)"})
    offset: bool = field(default=True, metadata={"help": "debris offset module, [SDT] sec. 4.5 (off = Tab. 3 row c)"})
    norm: str = field(default="asinh", metadata={
        "help": "input normalisation (sdtnet/data.py normalize): asinh = local sky subtracted, noise-scaled, "
                "asinh-compressed; zscale = [SDT] eq. 1-3 (the weights of issue 7; files without the field)"})
    input: str = field(default="frame", metadata={
        "help": "what the network is trained to see: frame (the frames themselves; files without the field) or "
                "residual (each frame minus its static sky, cleaned: sdtnet/data.py static_residuals); "
                "--sdtnet-input auto follows it"})

    def heads(self) -> dict[str, int]:
        """Output channels per head (CenterNet's head dict)."""
        if self.detection == "centre":
            heads = {"hm": 1, "wh": 2, "reg": 2}
        elif self.detection == "endpoints":
            heads = {"hm": 2, "emb": 2 * self.emb_dim, "reg": 4}
        else:
            raise InputError(f"unknown detection {self.detection!r}; use endpoints or centre")
        if self.offset:
            heads["off"] = heads["reg"]
        return heads


def _conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN with a residual connection (DLA's BasicBlock)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x, residual=None):
        residual = x if residual is None else residual
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(self.bn2(self.conv2(out)) + residual, inplace=True)


class Root(nn.Module):
    """Aggregation node: 1x1 conv-BN over the concatenated children, ReLU."""

    def __init__(self, cin: int, cout: int, residual: bool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.residual = residual

    def forward(self, *children):
        out = self.bn(self.conv(torch.cat(children, 1)))
        if self.residual:
            out = out + children[0]
        return F.relu(out, inplace=True)


class Tree(nn.Module):
    """Hierarchical deep aggregation tree of ``levels`` levels (DLA sec. 3.2)."""

    def __init__(self, levels: int, cin: int, cout: int, stride: int = 1, *, level_root: bool = False,
                 root_dim: int = 0, root_residual: bool = False):
        super().__init__()
        root_dim = root_dim or 2 * cout
        if level_root:
            root_dim += cin
        if levels == 1:
            self.tree1 = BasicBlock(cin, cout, stride)
            self.tree2 = BasicBlock(cout, cout, 1)
            self.root = Root(root_dim, cout, root_residual)
        else:
            self.tree1 = Tree(levels - 1, cin, cout, stride, root_residual=root_residual)
            self.tree2 = Tree(levels - 1, cout, cout, 1, root_dim=root_dim + cout, root_residual=root_residual)
        self.levels, self.level_root = levels, level_root
        self.downsample = nn.MaxPool2d(stride, stride) if stride > 1 else None
        self.project = (nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
                        if cin != cout else None)

    def forward(self, x, residual=None, children=None):
        children = [] if children is None else children
        bottom = self.downsample(x) if self.downsample is not None else x
        residual = self.project(bottom) if self.project is not None else bottom
        if self.level_root:
            children.append(bottom)
        x1 = self.tree1(x, residual)
        if self.levels == 1:
            return self.root(self.tree2(x1), x1, *children)
        children.append(x1)
        return self.tree2(x1, children=children)


class DLAEncoder(nn.Module):
    """DLA levels 0-5 at strides 1, 2, 4, 8, 16, 32; returns levels 2-5 ({F1..F4}, [SDT] sec. 4.2)."""

    def __init__(self, levels, channels):
        super().__init__()
        c = channels
        self.level0 = nn.Sequential(*[_conv_bn_relu(c[0], c[0]) for _ in range(levels[0])])
        self.level1 = nn.Sequential(_conv_bn_relu(c[0], c[1], stride=2),
                                    *[_conv_bn_relu(c[1], c[1]) for _ in range(levels[1] - 1)])
        self.level2 = Tree(levels[2], c[1], c[2], 2, level_root=False)
        self.level3 = Tree(levels[3], c[2], c[3], 2, level_root=True)
        self.level4 = Tree(levels[4], c[3], c[4], 2, level_root=True)
        self.level5 = Tree(levels[5], c[4], c[5], 2, level_root=True)

    def forward(self, x) -> list[torch.Tensor]:
        x = self.level1(self.level0(x))
        f1 = self.level2(x)
        f2 = self.level3(f1)
        f3 = self.level4(f2)
        return [f1, f2, f3, self.level5(f3)]


class IDAUp(nn.Module):
    """Iterative deep aggregation up-sampler: from the deepest map, repeatedly up-sample x2
    and merge with the next shallower one (projection + 3x3 node), ending at stride 4."""

    def __init__(self, in_channels, out: int):
        super().__init__()
        self.proj = nn.ModuleList(_conv_bn_relu(c, out) for c in in_channels)
        self.node = nn.ModuleList(_conv_bn_relu(out, out) for _ in in_channels[:-1])

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = self.proj[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            up = F.interpolate(x, size=feats[i].shape[-2:], mode="bilinear", align_corners=False)
            x = self.node[i](up + self.proj[i](feats[i]))
        return x


def _head(cin: int, hidden: int, cout: int, bias: float = 0.0) -> nn.Sequential:
    head = nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, cout, 1))
    nn.init.constant_(head[-1].bias, bias)
    return head


class SDTNet(nn.Module):
    """SDT-Net. ``forward(cur, prev, prev_hm)`` with cur, prev (B, 1, H, W) in [0, 1] and
    prev_hm (B, 2, H, W); H and W multiples of 32. Returns a dict of (B, C, H/4, W/4) maps
    (see the module docstring); ``hm`` and ``mask`` are logits."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config or ModelConfig()
        c0 = config.channels[0]
        # [SDT] sec. 4.2: one conv-BN-ReLU per input, summed.
        self.cur_in = _conv_bn_relu(1, c0, 7)
        self.prev_in = _conv_bn_relu(1, c0, 7)
        self.hm_in = _conv_bn_relu(2, c0, 7)
        self.encoder = DLAEncoder(config.levels, config.channels)
        width = config.channels[2]
        self.decoder = IDAUp(config.channels[2:], width)
        if config.roi_fe:
            # [SDT] sec. 4.3: a second IDA up-sampler with its own parameters, 1 output channel.
            self.seg_up = IDAUp(config.channels[2:], width)
            self.seg_out = nn.Conv2d(width, 1, 1)
            nn.init.constant_(self.seg_out.bias, -2.19)
        # Focal-loss prior of 0.1 for the heatmap (CenterNet).
        prior = -math.log((1 - 0.1) / 0.1)
        self.heads = nn.ModuleDict({name: _head(width, config.head_conv, n, prior if name == "hm" else 0.0)
                                    for name, n in config.heads().items()})

    def forward(self, cur: torch.Tensor, prev: torch.Tensor, prev_hm: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.encoder(self.cur_in(cur) + self.prev_in(prev) + self.hm_in(prev_hm))
        fb = self.decoder(feats)
        out = {}
        if self.config.roi_fe:
            out["mask"] = self.seg_out(self.seg_up(feats))
            fb = torch.sigmoid(out["mask"]) * fb  # [SDT] eq. 7: F_en = M ⊙ F_b
        out.update({name: head(fb) for name, head in self.heads.items()})
        return out


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)
