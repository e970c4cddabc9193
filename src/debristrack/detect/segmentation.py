"""Threshold segmentation of a stacked image: background, matched filter, connected
components, deblending, centroids and the spot-size constraint.

[GEO] sec. 3 segments the min-stacked image with a global threshold and locates each target
by its centroid; sec. 5 adds a light-spot size constraint to reject overlapping spots. The
formulas of that section were lost in the paper's conversion, so this module follows the
standard practice of source extractors (SExtractor, sep, photutils):

1. background and noise from sigma-clipped meshes (``sep.Background``), measured on a
   strided sub-image (every ``s``-th pixel keeps the per-pixel noise, unlike binning) and
   interpolated back to full resolution; the noise is measured a second time on the
   background-subtracted sub-image, so that a background slope (stray light, cloud) does
   not pass for noise;
2. a matched filter (Gaussian of the PSF FWHM), whose background and noise are measured on
   the filtered image itself so that a correlated noise (e.g. after a local-max stack) is
   accounted for; the significance ``snr = (filtered - back) / rms`` is in units of its own
   noise, and is evaluated only where needed (:class:`Significance`);
3. ``snr > threshold``, 8-connected components (on the selected pixels only);
4. deblending: a component with several local maxima separated by a dip of at least
   ``deblend_dip`` is split, each pixel going to the nearest kept peak;
5. centroids weighted by ``snr`` and the spot-size constraint ``min_area <= area <= max_area``.

Pixel convention: 0-based, ``x`` the column, ``y`` the row, centre of the first pixel (0, 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import sep
from scipy.ndimage import map_coordinates
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..geometry import FWHM_PER_SIGMA_4

THRESHOLDS = ("adaptive", "global")


@dataclass(frozen=True)
class Sources:
    """Spots found in an image; every field is an array of shape (n,).

    ``x``, ``y``: centroid, px. ``peak``: highest significance in the spot (units of the
    filtered image's noise). ``area``: pixels above threshold. ``label``: the connected
    component the spot came from (two deblended spots share one).
    """

    x: np.ndarray
    y: np.ndarray
    peak: np.ndarray
    area: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def take(self, keep: np.ndarray) -> "Sources":
        """The sources selected by a boolean or index array."""
        return Sources(self.x[keep], self.y[keep], self.peak[keep], self.area[keep], self.label[keep])


def empty_sources() -> Sources:
    z = np.zeros(0)
    return Sources(z, z.copy(), z.copy(), np.zeros(0, np.int64), np.zeros(0, np.int64))


def gaussian_kernel_size(fwhm: float) -> int:
    """Odd kernel width covering +-2 sigma of a Gaussian of this FWHM (px).

    +-2 sigma holds 99 % of the matched filter's weight (sum of squares) at half the cost of
    +-3 sigma.
    """
    sigma = fwhm / FWHM_PER_SIGMA_4
    return 2 * int(np.ceil(2 * sigma)) + 1


def background_maps(image: np.ndarray, *, mesh: int = 64, threshold: str = "adaptive"):
    """Background level and noise RMS of an image, on a strided sub-image.

    Parameters
    ----------
    image : float32 (ny, nx); NaN pixels are ignored.
    mesh : background mesh size, px (the scale over which the background may vary).
    threshold : ``"adaptive"``: maps at the sub-image's resolution; ``"global"``: one level
        and one RMS for the whole image (the [GEO] global threshold).

    Returns
    -------
    (back, rms, stride) : float32 arrays (ceil(ny / stride), ceil(nx / stride)) sampled at
    full-resolution pixels ``stride * i + offset`` with ``offset = (stride - 1) // 2``
    (the centres :func:`upsample` assumes), or two floats for ``"global"``.
    """
    if threshold not in THRESHOLDS:
        raise ValueError(f"unknown threshold {threshold!r}; use one of {', '.join(THRESHOLDS)}")
    ny, nx = image.shape
    mesh = int(max(8, min(mesh, min(ny, nx) // 2)))
    stride = max(1, min(4, mesh // 16))
    offset = (stride - 1) // 2
    sub = np.ascontiguousarray(image[offset::stride, offset::stride], dtype=np.float32)
    nan = np.isnan(sub)
    if nan.all():
        sub[:] = 0.0
        nan[:] = False
    has_nan = bool(nan.any())
    if has_nan:
        sub[nan] = np.median(sub[~nan])
    box = max(4, mesh // stride)
    mask = nan if has_nan else None
    bkg = sep.Background(sub, mask=mask, bw=box, bh=box, fw=3, fh=3)
    if threshold == "global":
        return np.float32(bkg.globalback), np.float32(max(bkg.globalrms, 1e-12)), stride
    # The RMS of a mesh includes the background's slope across it (stray light, cloud
    # edges): measure it again on the residual, where the slope is gone.
    back = bkg.back()
    resid = sub - back
    again = sep.Background(resid, mask=mask, bw=box, bh=box, fw=3, fh=3)
    back += again.back()
    rms = again.rms()
    # A flat region (saturated stray light, a filled hole) has no noise: floor the RMS.
    floor = max(0.1 * float(again.globalrms), 1e-12)
    return back, np.maximum(rms, floor).astype(np.float32), stride


def upsample(small: np.ndarray, shape: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Bilinear resize of a sub-sampled map to full resolution (ny, nx), float32.

    Sub-image pixel ``i`` is taken at full pixel ``stride * i + (stride - 1) // 2``, where
    OpenCV's resize puts it (within half a pixel for even strides): background maps vary over
    tens of pixels, so this is exact enough.
    """
    if small.shape == tuple(shape):
        if out is None:
            return small.astype(np.float32)
        np.copyto(out, small)
        return out
    return cv2.resize(small.astype(np.float32, copy=False), (shape[1], shape[0]), dst=out,
                      interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Significance:
    """Matched-filter significance ``(filtered - back) / rms``, evaluated only where needed.

    ``filtered`` is the full-resolution filtered image (ny, nx) (NaN where there is no
    value); ``back`` and ``rms`` are sub-sampled maps (or scalars for a global threshold).
    Writing the full significance image would cost two full-resolution resizes and two
    passes; :meth:`above` needs one resize of the threshold map and one comparison, and
    :meth:`at` samples the maps bilinearly at the few pixels asked for, at the positions
    OpenCV's resize uses, so both agree.
    """

    filtered: np.ndarray
    back: np.ndarray | float
    rms: np.ndarray | float

    @property
    def shape(self) -> tuple[int, int]:
        return self.filtered.shape

    def above(self, threshold: float, scratch: np.ndarray | None = None) -> np.ndarray:
        """Sorted flat indices of the pixels whose significance exceeds ``threshold``."""
        if np.ndim(self.back) == 0:
            level = np.float32(self.back + threshold * self.rms)
        else:
            level = upsample((self.back + threshold * self.rms).astype(np.float32), self.shape, scratch)
        with np.errstate(invalid="ignore"):
            return np.flatnonzero(self.filtered > level)

    def at(self, flat: np.ndarray) -> np.ndarray:
        """Significance at flat pixel indices (k,), float64; -inf where there is no value."""
        flat = np.asarray(flat, dtype=np.int64)
        value = self.filtered.reshape(-1)[flat].astype(np.float64)
        if np.ndim(self.back) == 0:
            out = (value - float(self.back)) / float(self.rms)
        else:
            y, x = np.divmod(flat, self.shape[1])
            sy, sx = self.back.shape[0] / self.shape[0], self.back.shape[1] / self.shape[1]
            coords = np.stack([(y + 0.5) * sy - 0.5, (x + 0.5) * sx - 0.5])
            back = map_coordinates(self.back, coords, order=1, mode="nearest")
            rms = map_coordinates(self.rms, coords, order=1, mode="nearest")
            out = (value - back) / rms
        return np.where(np.isnan(out), -np.inf, out)

    def image(self) -> np.ndarray:
        """The whole significance image, float32 (ny, nx); 0 where there is no value."""
        out = self.at(np.arange(self.filtered.size)).reshape(self.shape)
        return np.where(np.isfinite(out), out, 0.0).astype(np.float32)


@dataclass(frozen=True)
class DenseSignificance:
    """A ready significance image (ny, nx) behind the :class:`Significance` interface."""

    snr: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.snr.shape

    def above(self, threshold: float, scratch: np.ndarray | None = None) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.flatnonzero(self.snr > threshold)

    def at(self, flat: np.ndarray) -> np.ndarray:
        out = self.snr.reshape(-1)[np.asarray(flat, dtype=np.int64)].astype(np.float64)
        return np.where(np.isnan(out), -np.inf, out)

    def image(self) -> np.ndarray:
        return self.snr


def significance(image: np.ndarray, *, fwhm: float = 2.5, mesh: int = 64, threshold: str = "adaptive",
                 out: np.ndarray | None = None) -> Significance:
    """Matched-filter significance of an image: ``(G * image - back) / rms``.

    ``G`` is a Gaussian of the PSF ``fwhm`` (px); ``back`` and ``rms`` are measured on the
    filtered image (:func:`background_maps`), so the significance is in units of its own
    noise whatever the noise's distribution or correlation in ``image``. NaN pixels of
    ``image`` have no significance. ``out``: optional float32 (ny, nx) buffer for the filtered
    image (large fresh arrays cost page faults).

    Returns
    -------
    :class:`Significance` (``.image()`` gives the whole image).
    """
    nan = np.isnan(image[::2, ::2])
    has_nan = bool(nan.any())
    if has_nan:
        nan = np.isnan(image)
        fill = np.nanmedian(image[::4, ::4]) if not nan.all() else 0.0
        image = np.where(nan, np.float32(fill), image)
    k = gaussian_kernel_size(fwhm)
    # Reflected borders: replicating the edge row would weight its noise several times.
    filtered = cv2.GaussianBlur(image.astype(np.float32, copy=False), (k, k), fwhm / FWHM_PER_SIGMA_4, dst=out,
                                borderType=cv2.BORDER_REFLECT_101)
    if has_nan:
        filtered[nan] = np.nan
    back, rms, _ = background_maps(filtered, mesh=mesh, threshold=threshold)
    return Significance(filtered, back, rms)


def _neighbour_max(sig, flat: np.ndarray) -> np.ndarray:
    """Largest significance among the 8 neighbours of each flat index (outside: -inf)."""
    ny, nx = sig.shape
    y, x = np.divmod(flat, nx)
    best = np.full(flat.shape, -np.inf)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            yy, xx = y + dy, x + dx
            ok = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
            v = np.full(flat.shape, -np.inf)
            v[ok] = sig.at(yy[ok] * nx + xx[ok])
            np.maximum(best, v, out=best)
    return best


def label_pixels(flat: np.ndarray, shape: tuple[int, int]) -> tuple[int, np.ndarray]:
    """8-connected components of a sparse set of pixels.

    Works on the selected pixels only (a graph of neighbour pairs found by binary search),
    so the cost grows with the number of pixels above threshold, not with the frame size.

    Parameters
    ----------
    flat : sorted flat indices (k,) of the selected pixels in an image of ``shape``.

    Returns
    -------
    (n_components, labels) with labels (k,) in ``0 .. n_components - 1``.
    """
    k = flat.size
    nx = shape[1]
    col = flat % nx
    rows, cols = [np.arange(k)], [np.arange(k)]
    # Forward neighbours only (right, down-left, down, down-right); the graph is undirected.
    for off, col_ok in ((1, col < nx - 1), (nx - 1, col > 0), (nx, None), (nx + 1, col < nx - 1)):
        nb = flat + off
        pos = np.minimum(np.searchsorted(flat, nb), k - 1)
        hit = flat[pos] == nb
        if col_ok is not None:
            hit &= col_ok
        rows.append(np.flatnonzero(hit))
        cols.append(pos[hit])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(r.size, np.int8), (r, c)), shape=(k, k))
    return connected_components(graph, directed=False)


def _line_min(sig, y0, x0, y1, x1) -> float:
    """Lowest significance on the straight segment between two pixels (sampled per pixel)."""
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    t = np.linspace(0.0, 1.0, n + 1)
    yy = np.rint(y0 + (y1 - y0) * t).astype(np.int64)
    xx = np.rint(x0 + (x1 - x0) * t).astype(np.int64)
    return float(sig.at(yy * sig.shape[1] + xx).min())


def segment(snr, *, threshold: float = 4.0, min_area: int = 3, max_area: int = 300,
            deblend_dip: float = 2.0, min_separation: float = 2.0, scratch: np.ndarray | None = None) -> Sources:
    """Connected spots above ``threshold`` in a significance image, deblended and size-checked.

    Parameters
    ----------
    snr : :class:`Significance` (from :func:`significance`) or a float (ny, nx) significance image.
    threshold : detection threshold, in units of the noise of ``snr``.
    min_area, max_area : the spot-size constraint ([GEO] sec. 5), px above threshold.
        Smaller spots are noise; larger ones that cannot be split are not point sources
        (residual of a bright star, edge of a cloud).
    deblend_dip : a second maximum in a component is a separate spot when the significance
        dips by at least this much on the way to every brighter maximum ([GEO] sec. 5,
        "separation rules for multi-target scenarios").
    min_separation : least distance between the maxima of two deblended spots, px.
    scratch : optional float32 (ny, nx) buffer for the full-resolution threshold map.

    Returns
    -------
    Sources, sorted by decreasing peak.
    """
    sig = snr if hasattr(snr, "above") else DenseSignificance(np.asarray(snr))
    shape = sig.shape
    flat = sig.above(threshold, scratch)
    if flat.size == 0:
        return empty_sources()
    n_labels, lab = label_pixels(flat, shape)
    val = sig.at(flat)
    is_peak = val >= _neighbour_max(sig, flat)
    peaks = flat[is_peak]
    peak_lab = lab[is_peak]
    peak_val = val[is_peak]
    order = np.lexsort((-peak_val, peak_lab))
    peaks, peak_lab, peak_val = peaks[order], peak_lab[order], peak_val[order]

    # Keep the brightest peak of each component; a fainter one only if clearly separate.
    keep = np.zeros(peaks.size, bool)
    first = np.r_[True, peak_lab[1:] != peak_lab[:-1]]
    keep[first] = True
    py, px = np.divmod(peaks, shape[1])
    for i in np.flatnonzero(~first):
        kept = np.flatnonzero(keep[: i] & (peak_lab[: i] == peak_lab[i]))
        far = np.hypot(px[kept] - px[i], py[kept] - py[i]) >= min_separation
        if far.all() and all(peak_val[i] - _line_min(sig, py[i], px[i], py[j], px[j]) >= deblend_dip
                             for j in kept):
            keep[i] = True
    peaks, peak_lab, peak_val = peaks[keep], peak_lab[keep], peak_val[keep]
    py, px = py[keep], px[keep]

    # Each pixel goes to the nearest kept peak of its own component.
    owner = np.searchsorted(peak_lab, lab)  # first peak of the pixel's component
    counts = np.bincount(peak_lab, minlength=n_labels)
    multi = counts[lab] > 1
    if multi.any():
        y, x = np.divmod(flat[multi], shape[1])
        for comp in np.unique(lab[multi]):
            sel = np.flatnonzero(lab[multi] == comp)
            cand = np.flatnonzero(peak_lab == comp)
            d = (x[sel, None] - px[cand]) ** 2 + (y[sel, None] - py[cand]) ** 2
            owner[np.flatnonzero(multi)[sel]] = cand[np.argmin(d, axis=1)]

    y, x = np.divmod(flat, shape[1])
    w = val.astype(np.float64)
    n = peaks.size
    wsum = np.bincount(owner, w, n)
    sources = Sources(
        x=np.bincount(owner, w * x, n) / wsum,
        y=np.bincount(owner, w * y, n) / wsum,
        peak=peak_val.astype(np.float64),
        area=np.bincount(owner, minlength=n).astype(np.int64),
        label=peak_lab.astype(np.int64),
    )
    ok = (sources.area >= min_area) & (sources.area <= max_area)
    sources = sources.take(ok)
    return sources.take(np.argsort(-sources.peak, kind="stable"))
