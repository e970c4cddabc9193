"""Decoding SDT-Net maps into streaks of one frame: peak finding, top-K, gather and endpoint
pairing by line-source embedding ([SDT] sec. 4.4.2, eq. 10).

Pure numpy over the maps of one image (C, h, w) at output resolution. Returned coordinates
are input pixels (0-based, x = column, y = row, centre of the first pixel = (0, 0)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter

from ..geometry import gated_assignment
from .data import to_input
from .model import STRIDE


@dataclass(frozen=True)
class Streaks:
    """Streaks found in one frame, arrays over n streaks.

    left, right : (n, 2) endpoint (x, y), input px; left has the smaller x.
    score : (n,) mean heatmap score of the two endpoints, 0-1.
    off_left, off_right : (n, 2) predicted motion ``c^t - c^{t-1}`` of each endpoint, input
        px per frame ([SDT] eq. 13); zeros when the model has no offset module.
    """

    left: np.ndarray
    right: np.ndarray
    score: np.ndarray
    off_left: np.ndarray
    off_right: np.ndarray

    def __len__(self) -> int:
        return len(self.score)


def find_peaks(heat: np.ndarray, *, top_k: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of a (h, w) probability map (3x3 max-filter NMS, as CenterNet), the
    ``top_k`` best above ``threshold``. Returns cells (n, 2) as (x, y) ints and scores (n,),
    best first."""
    peak = (heat == maximum_filter(heat, size=3, mode="constant", cval=-np.inf)) & (heat >= threshold)
    ys, xs = np.nonzero(peak)
    score = heat[ys, xs]
    order = np.argsort(-score, kind="stable")[:top_k]
    return np.column_stack([xs[order], ys[order]]), score[order]


def gather_cells(maps: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Values (n, C) of (C, h, w) ``maps`` at (n, 2) (x, y) ``cells``."""
    return maps[:, cells[:, 1], cells[:, 0]].T


def mask_support(mask: np.ndarray, uv_left: np.ndarray, uv_right: np.ndarray, *, samples: int = 16) -> np.ndarray:
    """Mean of the (h, w) debris-mask probability along every left-right segment (N, M), the
    ends given in output-map coordinates (N, 2) and (M, 2); nearest-cell sampling."""
    t = np.linspace(0.0, 1.0, samples)[None, None, :, None]
    pts = uv_left[:, None, None, :] + t * (uv_right[None, :, None, :] - uv_left[:, None, None, :])
    ij = np.clip(np.rint(pts).astype(np.int64), 0, np.array(mask.shape[::-1]) - 1)
    return mask[ij[..., 1], ij[..., 0]].mean(axis=-1)


def pair_endpoints(emb_left: np.ndarray, emb_right: np.ndarray, x_left: np.ndarray, x_right: np.ndarray, *,
                   max_distance: float, slack: float = 2.0, support: np.ndarray | None = None,
                   min_support: float = 0.0, support_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Match left to right endpoints by embedding distance ([SDT] eq. 10).

    The paper takes each left point's nearest right point; here the matches are one-to-one
    (Hungarian on the eq. 10 distances) so two streaks never share an endpoint, and a pair is
    kept only if its distance is below ``max_distance`` and the right point is not left of the
    left point by more than ``slack`` px (a vertical streak has the two almost on one column)
    and, with ``support`` (N, M) given, the predicted debris mask along the segment averages at
    least ``min_support`` (the RoI-FE mask of [SDT] sec. 4.3 used as a check on the pair).
    With ``support`` and ``support_weight`` w > 0 the matching cost is the embedding distance
    plus w x (1 - support): where streaks cross or run side by side the embeddings of the
    wrong pair can be as close as the right one's, but the wrong pair's segment leaves the
    debris mask.

    Returns index arrays (m,) into the left and the right points.
    """
    if len(emb_left) == 0 or len(emb_right) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    dist = np.linalg.norm(emb_left[:, None, :] - emb_right[None, :, :], axis=-1)  # [SDT] eq. 10
    bad = (dist > max_distance) | (x_right[None, :] < x_left[:, None] - slack)
    cost = dist
    if support is not None:
        bad |= support < min_support
        cost = dist + support_weight * (1.0 - support)
    # every allowed pair costs at most max_distance + support_weight: the gate only keeps `bad` out
    m, _, _ = gated_assignment(np.where(bad, np.inf, cost), max_distance + max(support_weight, 0.0))
    return m[:, 0].astype(np.int64), m[:, 1].astype(np.int64)


def decode_maps(maps: dict[str, np.ndarray], *, top_k: int = 64, threshold: float = 0.3,
                max_distance: float = 0.5, min_support: float = 0.0, support_weight: float = 0.0) -> Streaks:
    """Streaks of one image from its maps.

    Parameters
    ----------
    maps : ``hm`` (2, h, w) probabilities (sigmoid applied), ``emb`` (2D, h, w), ``reg``
        (4, h, w), optional ``off`` (4, h, w); output resolution (input / 4).
    top_k : most peaks per endpoint channel.
    threshold : least endpoint probability.
    max_distance : largest embedding distance of a pair (the push margin is 1).
    min_support : least mean ``mask`` probability along a pair's segment (0 = no check; needs
        the RoI-FE ``mask`` (1, h, w) in ``maps``).
    support_weight : weight of (1 - mask support) in the pairing cost (0 = embedding
        distance alone, eq. 10); needs ``mask``.
    """
    hm, emb, reg = maps["hm"], maps["emb"], maps["reg"]
    d = emb.shape[0] // 2
    cl, sl = find_peaks(hm[0], top_k=top_k, threshold=threshold)
    cr, sr = find_peaks(hm[1], top_k=top_k, threshold=threshold)
    uv_l, uv_r = cl + gather_cells(reg[:2], cl), cr + gather_cells(reg[2:], cr)
    left, right = to_input(uv_l), to_input(uv_r)
    use_mask = (min_support > 0 or support_weight > 0) and "mask" in maps
    support = mask_support(maps["mask"][0], uv_l, uv_r) if use_mask else None
    i, j = pair_endpoints(gather_cells(emb[:d], cl), gather_cells(emb[d:], cr), left[:, 0], right[:, 0],
                          max_distance=max_distance, support=support, min_support=min_support,
                          support_weight=support_weight)
    if "off" in maps:
        off_l, off_r = gather_cells(maps["off"][:2], cl[i]) * STRIDE, gather_cells(maps["off"][2:], cr[j]) * STRIDE
    else:
        off_l = off_r = np.zeros((len(i), 2))
    return Streaks(left=left[i], right=right[j], score=(sl[i] + sr[j]) / 2, off_left=off_l, off_right=off_r)


def decode_centres(maps: dict[str, np.ndarray], *, top_k: int = 64, threshold: float = 0.3) -> Streaks:
    """Streaks from the centre variant's maps ([SDT] Tab. 3 row a): ``hm`` (1, h, w)
    probabilities, ``wh`` (2, h, w) segment vectors, ``reg`` (2, h, w), optional ``off``
    (2, h, w); both endpoints get the centre's tracking offset."""
    cells, score = find_peaks(maps["hm"][0], top_k=top_k, threshold=threshold)
    centre = cells + gather_cells(maps["reg"], cells)
    half = gather_cells(maps["wh"], cells) / 2
    left, right = to_input(centre - half), to_input(centre + half)
    swap = left[:, 0] > right[:, 0]
    left[swap], right[swap] = right[swap], left[swap].copy()
    off = gather_cells(maps["off"], cells) * STRIDE if "off" in maps else np.zeros((len(cells), 2))
    return Streaks(left=left, right=right, score=score, off_left=off, off_right=off.copy())


def decode(maps: dict[str, np.ndarray], *, top_k: int = 64, threshold: float = 0.3,
           max_distance: float = 0.5, min_support: float = 0.0, support_weight: float = 0.0) -> Streaks:
    """:func:`decode_maps` or, for centre-variant maps (with ``wh``), :func:`decode_centres`."""
    if "wh" in maps:
        return decode_centres(maps, top_k=top_k, threshold=threshold)
    return decode_maps(maps, top_k=top_k, threshold=threshold, max_distance=max_distance,
                       min_support=min_support, support_weight=support_weight)
