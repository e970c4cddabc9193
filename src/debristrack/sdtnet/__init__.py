"""SDT-Net, the [SDT] deep streak tracker (Zhuang et al. 2025, sec. 4), in PyTorch.

- :mod:`.model`: DLA backbone, IDA up-samplers, RoI-FE gating and the heads (:class:`SDTNet`);
- :mod:`.losses`: [SDT] eq. 8, 9, 11, 12, 15, 16;
- :mod:`.decode`: peaks, top-K, gather, left/right pairing by embedding (eq. 10);
- :mod:`.data`: training samples from the simulator or a dataset folder;
- :mod:`.train`: the training loop; configs in ``configs/``;
- :mod:`.infer`: the weights and :class:`SdtnetDetector` (the net and decoding on one frame
  after another; the association is :mod:`debristrack.track.offset`, the method
  :class:`debristrack.pipeline.sidereal.SdtnetMethod`).

Import the sub-modules directly; importing this package does not import torch.
"""
