"""The night report: one self-contained HTML page of a night's tracks (``debristrack report``).

:func:`find_night` finds what to show (a watch output, a tracks table, or a dataset's results),
:func:`build_report` writes the page.
"""

from .inputs import NightSequence, find_night
from .page import build_report

__all__ = ["NightSequence", "build_report", "find_night"]
