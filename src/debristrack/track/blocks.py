"""Staring-mode block linker: targets found in successive stacks joined into tracks ([GEO]).

A tracker in the shape of the segment trackers (:mod:`.segments`): one :class:`BlockTrack`
per target, one ``update`` per block (associate, update, birth). A GEO target stays put, so
a block's verified positions are matched to the tracks' last positions by the gated
assignment (:func:`debristrack.geometry.gated_assignment`) within ``radius`` px.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry import gated_assignment


@dataclass
class BlockTrack:
    """One target: last block position ``pos`` (x, y), its per-frame ``rows``
    ``(frame, x, y, flux, score, ok, xb, yb)``, the disjoint ``blocks`` it was found in and
    the end (exclusive) of the last block counted."""

    pos: np.ndarray
    rows: list[tuple] = field(default_factory=list)
    blocks: int = 0
    until: int = 0


def link(track_pos: np.ndarray, new_pos: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assign new positions to existing tracks (gated by ``radius`` px).

    Parameters
    ----------
    track_pos : (m, 2) last (x, y) of each track. new_pos : (n, 2).

    Returns
    -------
    matches : (k, 2) int array of (track index, new index); unmatched_tracks : (m-k,);
    unmatched_new : (n-k,).
    """
    m, n = len(track_pos), len(new_pos)
    if m == 0 or n == 0:
        return np.zeros((0, 2), int), np.arange(m), np.arange(n)
    d = np.hypot(track_pos[:, None, 0] - new_pos[None, :, 0], track_pos[:, None, 1] - new_pos[None, :, 1])
    return gated_assignment(np.where(d <= radius, d, np.inf), radius)


class BlockTracker:
    """Link the verified targets of successive blocks; tracks are never deleted (a GEO
    target may fade for a block and come back where it was)."""

    def __init__(self, radius: float):
        self.radius = radius
        self.tracks: list[BlockTrack] = []

    @property
    def positions(self) -> np.ndarray:
        """(n, 2) last position of every track."""
        return np.array([t.pos for t in self.tracks]).reshape(-1, 2)

    def update(self, new_pos: np.ndarray) -> list[BlockTrack]:
        """The track of each of the (n, 2) positions of a block, new tracks born for the
        unmatched; every matched or born track moves to its new position."""
        matches, _, unmatched = link(self.positions, new_pos, self.radius)
        out: list[BlockTrack | None] = [None] * len(new_pos)
        for i, j in matches:
            out[j] = self.tracks[i]
        for j in unmatched:
            out[j] = BlockTrack(np.asarray(new_pos[j], float))
            self.tracks.append(out[j])
        for track, pos in zip(out, new_pos):
            track.pos = np.asarray(pos, float)
        return out


def fit_line(t: np.ndarray, v: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Values of a straight line fitted to ``v[use]`` over ``t`` (one 3-MAD clipping pass):
    GEO/GSO targets move uniformly over minutes."""
    if use.sum() < 3:
        centre = np.median(v[use]) if use.any() else np.median(v)
        return np.full_like(v, centre)
    for _ in range(2):
        coef = np.polyfit(t[use], v[use], 1)
        resid = v - np.polyval(coef, t)
        mad = 1.4826 * np.median(np.abs(resid[use])) + 1e-3
        clipped = use & (np.abs(resid) <= 3 * mad)
        if clipped.sum() < 3 or clipped.sum() == use.sum():
            break
        use = clipped
    return np.polyval(coef, t)
