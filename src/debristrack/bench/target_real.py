"""Real-field target-tracking sequences for ``debristrack bench target`` (issue 20).

A target-tracking sequence built from the pixels of one real frame of ``../shared/real-dev/``:
the telescope follows an object, so the star field slides across the detector frame by
frame while the object stays near the centre. Each frame is

1. a window of the real frame whose origin moves by ``rate`` px per frame along ``angle``
   (sub-pixel positions by cubic-spline interpolation, :func:`scipy.ndimage.shift`), so the
   stars, the galaxies, the comet and the stray light of the real frame all move together;
2. plus fresh Gaussian noise of the frame's own background RMS (so no two frames share their
   noise: the real frame's noise moves with the stars, the fresh noise does not; a sky
   template made of the other frames removes the first part as well, so the bench also runs
   the set with the fresh noise at 3 times the RMS, ``noise_factor``);
3. plus one followed object, a Gaussian of the frame's measured PSF width, near the window
   centre (within 5 % of its size, as in the simulated sets) with a smooth following error
   of peak 0.2-0.6 px (two sinusoids of 6-30 frame periods, [TRK] sec. 3.2).

The object's flux gives it SNR 5-40 by the background-limited CCD equation
``snr = F / sqrt(A * var)`` (``A = 4 pi sigma^2`` the noise-equivalent area, ``var`` the
per-pixel variance of the rendered frame; the real frames' gains are not all known, so the
object's own photon noise is left out). Half of the sequences of a field steer the window so
that a structure of the frame passes over the object in the middle of the sequence: a
star (a collision, [TRK] sec. 5.2) in one sequence of two, otherwise the field's extended
emission (galaxy arm, comet coma, stray-light edge) where it has some.

Only ``real-dev`` frames are used (the development pool), and only single frames that the
loader reads as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sep
from astropy.table import Table
from scipy import ndimage
from scipy.optimize import curve_fit
from scipy.special import erf

from ..detect.extract import extract_sources
from ..errors import InputError
from ..io.sequence import open_sequence

BRIGHT_EMISSION = 30.0  # sky RMS: an object path over brighter emission is redrawn (see FieldImage)
MARGIN = 4  # px kept between the window and the real frame's edge (interpolation support)


@dataclass(frozen=True)
class Field:
    """One real frame used as a star field.

    Attributes
    ----------
    name : short label for the report.
    path : the FITS file, relative to ``real-dev/``.
    columns : (first, stop) columns kept (NEOSSat overscan and its dark edge cut off); None = all.
    features : (m, 2) field positions ``x, y`` of extended emission to steer over the object.
    """

    name: str
    path: str
    columns: tuple[int, int] | None = None
    features: tuple[tuple[float, float], ...] = ()


FIELDS: tuple[Field, ...] = (
    Field("NEOSSat 213P (crowded)", "sequences/neossat-213p/NEOS_SCI_2023311005808.fits"),
    # The loader trims NEOSSat's overscan (TRIMSEC) and bins colour-filter-array frames 2 x 2.
    Field("NEOSSat Leonard (comet)", "sequences/neossat-leonard-night1/NEOS_SCI_2021316234900.fits",
          columns=(8, 1062), features=((541.0, 515.0), (520.0, 530.0))),
    Field("NEOSSat stray light + trails", "streaks/NEOSSAT_240__30_2026025124741.fits",
          columns=(4, 1020), features=((456.0, 330.0), (300.0, 420.0))),
    Field("Seestar M94 (2x2 binned)", "sequences/seestar-m94/Light_M_94_10.0s_IRCUT_20250327-014513.fit",
          features=((285.0, 480.0),)),
    Field("M51 (galaxy)", "no-streaks/M51.fits", features=((330.0, 300.0), (190.0, 200.0), (300.0, 170.0))),
    Field("QHY bright sky", "no-streaks/272_mpc_1.1_00001.fits"),
)


@dataclass(frozen=True)
class FieldImage:
    """A loaded field: pixels and what the sequences need to know of them."""

    field: Field
    image: np.ndarray
    rms: float
    psf_sigma: float
    stars: np.ndarray  # (n, 3) x, y, flux of well-measured stars (collision candidates)
    emission: np.ndarray  # (ny, nx) extended emission above the background (stars filtered out)

    def too_bright(self, xy: np.ndarray) -> bool:
        """True if any field position ``xy`` (n, 2) lies on emission brighter than
        ``BRIGHT_EMISSION`` sky RMS (a galaxy core, a saturated star's halo): its own photon
        noise buries an object there, which is then not the SNR it was given."""
        ix = np.clip(np.rint(xy[:, 0]).astype(int), 0, self.emission.shape[1] - 1)
        iy = np.clip(np.rint(xy[:, 1]).astype(int), 0, self.emission.shape[0] - 1)
        return bool(np.any(self.emission[iy, ix] > BRIGHT_EMISSION * self.rms))


def load_field(root: str | Path, field: Field) -> FieldImage:
    """Read ``field`` under ``root`` (the ``real-dev`` folder) and measure its noise and PSF.

    Raises
    ------
    InputError
        the file is missing or unreadable (the loader's one-line message).
    """
    path = Path(root) / field.path
    if not path.is_file():
        raise InputError(f"{path}: real-dev frame not found (run from the repository root with ../shared beside it)")
    image = np.asarray(open_sequence(path)[0].clean, dtype=np.float64)
    if field.columns is not None:
        image = image[:, field.columns[0]:field.columns[1]]
    data = np.ascontiguousarray(image, dtype=np.float32)
    bkg = sep.Background(data)
    rms = float(bkg.globalrms)
    src = extract_sources(data, thresh=5.0, bkg_box=16, deblend_cont=0.0005)
    sigma = _psf_sigma(data - bkg.back(), src, rms)
    if sigma is None:
        raise InputError(f"{path}: too few unsaturated stars to measure the PSF")
    # Collision candidates: stars clearly above the noise and unsaturated (not hot pixels).
    keep = (src.peak > 10 * rms) & (src.peak < 0.5 * src.peak.max(initial=0)) & (src.peak < 0.7 * src.flux)
    stars = np.column_stack([src.x[keep], src.y[keep], src.flux[keep]])
    # Extended emission: a 9 x 9 px median removes stars (a few px wide), keeps galaxies and comae.
    emission = ndimage.median_filter(data - bkg.back(), size=9)
    return FieldImage(field, image, rms, sigma, stars, emission)


def _psf_sigma(sub: np.ndarray, src, rms: float, r: int = 6) -> float | None:
    """PSF sigma (px): a Gaussian fitted to the median of the peak-normalised stamps of the
    100 brightest stars above 10x the noise and below half the brightest peak (saturation)."""
    ny, nx = sub.shape
    ok = ((src.peak > 10 * rms) & (src.peak < 0.5 * src.peak.max(initial=0)) & (src.x > r + 1)
          & (src.y > r + 1) & (src.x < nx - r - 2) & (src.y < ny - r - 2))
    idx = np.flatnonzero(ok)[np.argsort(-src.flux[ok])][:100]
    if idx.size < 5:
        return None
    stamps = []
    for i in idx:
        cx, cy = int(round(src.x[i])), int(round(src.y[i]))
        stamp = sub[cy - r:cy + r + 1, cx - r:cx + r + 1]
        stamps.append(stamp / stamp[r, r] if stamp[r, r] > 0 else np.full_like(stamp, np.nan))
    stack = np.nanmedian(stamps, axis=0)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    model = lambda p, a, s, b: a * np.exp(-(p[0] ** 2 + p[1] ** 2) / (2 * s * s)) + b
    good = np.isfinite(stack.ravel())
    (_, s, _), _ = curve_fit(model, (xx.ravel()[good], yy.ravel()[good]), stack.ravel()[good], p0=(1.0, 1.5, 0.0))
    return float(np.clip(abs(s), 0.5, 4.0))


@dataclass(frozen=True)
class RealSequence:
    """One real-field sequence: frames in memory and the object's truth.

    ``frames`` (n_frames, ny, nx) float32; ``truth`` a point table ``frame,id,x,y,snr``;
    ``crossing`` is ``"star"``, ``"emission"`` or ``""`` (what was steered over the object).
    """

    frames: np.ndarray
    truth: Table
    crossing: str
    rate: float
    angle: float


def make_real_sequence(field: FieldImage, rng: np.random.Generator, *, n_frames: int = 16,
                       rate: float = 5.0, angle: float = 0.0, snr: float = 20.0, error_peak: float = 0.4,
                       crossing: str = "", max_window: int = 384, noise_factor: float = 1.0) -> RealSequence:
    """Build one sequence from ``field`` (module docstring).

    Parameters
    ----------
    rng : the sequence's random generator (noise, object offset, error phases, the crossing star).
    rate : star motion, px per frame; angle : its direction, radians (the window moves the other way).
    snr : the object's SNR; error_peak : peak following error per axis, px.
    crossing : ``"star"`` steers a star over the object in the middle third of the sequence,
        ``"emission"`` one of the field's features at mid-sequence, ``""`` a random window.
    max_window : largest window side, px.
    noise_factor : the fresh noise is this many times the frame's RMS. The real frame's own
        noise slides with its stars, so a method that subtracts the sky seen in other frames
        removes it too; real frames have independent noise only. A factor of 3 leaves that
        part at a tenth of the variance (the object's flux still follows ``snr``).
    """
    image = field.image
    fy, fx = image.shape
    v = rate * np.array([math.cos(angle), math.sin(angle)])   # window origin motion, (x, y) px/frame
    span = (n_frames - 1) * v
    # At most 70 % of the room along each axis, so the window's place (and the crossings
    # steered over the object) can vary even on a small frame.
    wx = int(min(max_window, 0.7 * (fx - abs(span[0]) - 2 * MARGIN)))
    wy = int(min(max_window, 0.7 * (fy - abs(span[1]) - 2 * MARGIN)))
    if wx < 64 or wy < 64:
        raise ValueError(f"{field.field.name}: {rate} px/frame over {n_frames} frames leaves no window")
    lo = np.array([MARGIN - min(0.0, span[0]), MARGIN - min(0.0, span[1])])
    hi = np.maximum(lo, [fx - wx - MARGIN - max(0.0, span[0]), fy - wy - MARGIN - max(0.0, span[1])])
    centre = np.array([(wx - 1) / 2, (wy - 1) / 2])
    c = centre + rng.uniform(-0.05, 0.05, 2) * np.array([wx, wy])
    path = np.arange(n_frames)[:, None] * v + c   # the object's position in field coordinates, minus origin
    origin = rng.uniform(lo, hi)
    for _ in range(100):   # a random window whose object path stays off over-bright emission
        if not field.too_bright(origin + path):
            break
        origin = rng.uniform(lo, hi)
    used = ""
    targets = []
    if crossing == "star" and len(field.stars):
        k_c = rng.integers(n_frames // 3, max(n_frames // 3 + 1, 2 * n_frames // 3))
        targets = [(s[:2], k_c) for s in field.stars[rng.permutation(len(field.stars))]]
    elif crossing == "emission" and field.field.features:
        feats = list(field.field.features)
        targets = [(np.asarray(feats[i]), (n_frames - 1) / 2) for i in rng.permutation(len(feats))]
    for point, k in targets:
        o = np.asarray(point) - c - k * v
        if np.all(o >= lo) and np.all(o <= hi) and (crossing == "star" or not field.too_bright(o + path)):
            origin, used = o, crossing
            break

    periods = rng.uniform(6.0, 30.0, 2)
    phases = rng.uniform(0.0, 2 * math.pi, 2)
    k = np.arange(n_frames)
    error = error_peak * np.sin(2 * math.pi * k[:, None] / periods + phases)   # (n, 2) px

    frames = np.empty((n_frames, wy, wx), np.float32)
    for i in range(n_frames):
        o = origin + i * v
        n0 = np.floor(o).astype(int)
        frac = o - n0
        crop = image[n0[1] - MARGIN:n0[1] + wy + MARGIN, n0[0] - MARGIN:n0[0] + wx + MARGIN]
        moved = ndimage.shift(crop, (-frac[1], -frac[0]), order=3, mode="nearest")
        frames[i] = moved[MARGIN:MARGIN + wy, MARGIN:MARGIN + wx]
    frames += rng.normal(0.0, noise_factor * field.rms, frames.shape).astype(np.float32)
    var = float(sep.Background(np.ascontiguousarray(frames[0])).globalrms) ** 2
    area = 4 * math.pi * field.psf_sigma**2
    flux = snr * math.sqrt(area * var)
    xy = c + error
    for i in range(n_frames):
        _add_gaussian(frames[i], xy[i], flux, field.psf_sigma)
    truth = Table({"frame": k.astype(np.int64), "id": np.ones(n_frames, np.int64),
                   "x": xy[:, 0], "y": xy[:, 1], "snr": np.full(n_frames, snr)})
    return RealSequence(frames, truth, used, rate, angle)


def _add_gaussian(img: np.ndarray, xy: np.ndarray, flux: float, sigma: float) -> None:
    """Add a pixel-integrated Gaussian of total ``flux`` centred on ``xy`` (x, y) in place."""
    r = int(math.ceil(4 * sigma)) + 1
    cx, cy = int(round(xy[0])), int(round(xy[1]))
    xs = np.arange(cx - r, cx + r + 1)
    ys = np.arange(cy - r, cy + r + 1)
    gx, gy = _pixel_profile(xs, xy[0], sigma), _pixel_profile(ys, xy[1], sigma)
    ok_x = (xs >= 0) & (xs < img.shape[1])
    ok_y = (ys >= 0) & (ys < img.shape[0])
    img[np.ix_(ys[ok_y], xs[ok_x])] += (flux * np.outer(gy, gx)[np.ix_(ok_y, ok_x)]).astype(np.float32)


def _pixel_profile(p: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    """The fraction of a 1-D Gaussian falling in each pixel ``p`` (pixel edges at p +- 0.5)."""
    edges = np.append(p - 0.5, p[-1] + 0.5)
    return np.diff(erf((edges - centre) / (math.sqrt(2) * sigma))) / 2
