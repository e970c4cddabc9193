"""Simulated FITS sequences with ground truth, for the three observing modes.

``make_scene`` builds a scene dataclass (mode + preset + overrides); ``iter_frames`` draws a
sequence in memory; ``simulate_sequence`` and ``simulate_dataset`` write it to disk in the
DESIGN.md layout.
"""

from .dataset import sequence_seed, simulate_dataset, simulate_sequence
from .render import SimFrame, iter_frames, plan_sequence, render_frame
from .scenes import MODES, PRESETS, SiderealScene, StareScene, TargetScene, make_scene, scene_from_dict

__all__ = ["MODES", "PRESETS", "SiderealScene", "SimFrame", "StareScene", "TargetScene", "iter_frames",
           "make_scene", "plan_sequence", "render_frame", "scene_from_dict", "sequence_seed",
           "simulate_dataset", "simulate_sequence"]
