"""SDT-Net tracking options, importable without torch (the sidereal CLI builds its flags from them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
CPU_WEIGHTS = WEIGHTS_DIR / "sdtnet_cpu.pt"  # issue 7: [SDT] eq. 5 motion, ZScale input (WEIGHTS.md)
REAL_WEIGHTS = WEIGHTS_DIR / "sdtnet_real.pt"  # issue 17: physical motion, randomised skies, asinh input
RESIDUAL_WEIGHTS = WEIGHTS_DIR / "sdtnet_residual.pt"  # issue 17: the same trained on static-sky residuals
REALSEQ_WEIGHTS = WEIGHTS_DIR / "sdtnet_realseq.pt"  # issue 17: residuals, half the scenes real sequences
FIRST_WEIGHTS = WEIGHTS_DIR / "sdtnet_realseq_first.pt"  # issue 17: the same fine-tuned with first-frame samples
DEFAULT_WEIGHTS = FIRST_WEIGHTS  # what --sdtnet-weights defaults to
SHIPPED_WEIGHTS = (CPU_WEIGHTS, REAL_WEIGHTS, RESIDUAL_WEIGHTS, REALSEQ_WEIGHTS, FIRST_WEIGHTS)  # every file of WEIGHTS.md
INPUTS = ("auto", "residual", "frame")  # SdtnetConfig.input


@dataclass(frozen=True)
class SdtnetConfig:
    """SDT-Net tracking parameters ([SDT] sec. 4.4-4.5)."""

    RANGES = {  # valid interval of each numeric parameter (config.check_ranges)
        "threads": "[0, inf)", "score_threshold": "[0, 1]", "top_k": "[1, inf)",
        "embedding_distance": "(0, inf)", "mask_support": "[0, 1]", "support_weight": "[0, inf)",
        "radius": "(0, inf)", "max_gap": "[0, inf)", "min_length": "[0, inf)",
        "tile": "[64, inf)", "tile_overlap": "[0, inf)"}

    weights: str | None = field(default=None, metadata={"help": "weights file (.pt); None = the shipped default (sdtnet/weights/WEIGHTS.md)"})
    input: str = field(default="auto", metadata={
        "help": "what the net sees: residual (the classical real-sky front end: the frame minus its static sky in a "
                "sequence of 3+ frames, impulses and stripes cleaned), frame (the frame itself, as [SDT]) or auto "
                "(what the weights were trained on: their model config's input)"})
    device: str = field(default="auto", metadata={"help": "auto (cuda if available), cpu or cuda"})
    threads: int = field(default=0, metadata={"help": "CPU threads for torch (0 = torch's default)"})
    score_threshold: float = field(default=0.4, metadata={"help": "least endpoint heatmap score"})
    top_k: int = field(default=64, metadata={"help": "most endpoints per side and frame"})
    embedding_distance: float = field(default=1.2, metadata={
        "help": "largest embedding distance of a left/right pair ([SDT] eq. 10)"})
    mask_support: float = field(default=0.3, metadata={
        "help": "least mean RoI-FE mask along a left-right pair (0 = pair by embedding only, as [SDT])"})
    support_weight: float = field(default=4.0, metadata={
        "help": "weight of (1 - mean RoI-FE mask along the segment) in the pairing cost (0 = embedding only, eq. 10)"})
    radius: float = field(default=90.0, metadata={
        "help": "association radius r, px: largest eq. 14 distance of a match"})
    motion: bool = field(default=True, metadata={
        "help": "predict a track seen twice at its own velocity (off = [SDT] eq. 14 with the net's offsets only)"})
    physics: bool = field(default=True, metadata={
        "help": "predict a track seen once from its streak's geometry (rate = length / EXPTIME, the next streak a "
                "cadence later on the same line; needs frame times) besides the net's offsets"})
    validate: bool = field(default=True, metadata={
        "help": "run the classical trail validator (--trail-* options, detect/streaks/validate.py) on every "
                "streak the net finds and drop the tracks of one or two streaks most of which it rejects (star halos, "
                "spikes, bleed columns, edges, bad lines)"})
    singles: bool = field(default=True, metadata={
        "help": "report one-frame trails that would have left the field before the neighbouring exposures "
                "(as the classical physical linker); false = only tracks of min_hits detections"})
    max_gap: int = field(default=2, metadata={"help": "frames a track may go unseen and still continue"})
    min_length: float = field(default=3.0, metadata={"help": "shortest streak kept, px"})
    tile: int = field(default=1024, metadata={
        "help": "largest tile side, px (rounded down to a multiple of 32): larger frames go through the net in "
                "overlapping tiles (memory bounded by the tile)"})
    tile_overlap: int = field(default=96, metadata={
        "help": "px shared by neighbouring tiles (each keeps its half; the net's context across a seam)"})
