"""Source extraction with ``sep``: background model, thresholded extraction, windowed centroids.

This is the step SExtractor plays in [TRK] sec. 4.2: one catalogue of source centroids per
frame. ``sep`` is the SExtractor algorithm as a library (same background mesh, same
extraction, deblending and windowed centroids), so no external program is run.

Pixel convention: 0-based, ``x`` = column, ``y`` = row, the centre of the first pixel is
(0, 0) (``sep`` uses the same convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep

# sep keeps the pixel buffer of one extraction in a fixed-size stack; crowded or large frames
# overflow the default, so extraction retries with a larger one up to this many pixels.
_MAX_PIXSTACK = 64_000_000


@dataclass(frozen=True)
class Sources:
    """The sources found in one frame; every array has shape (n,).

    Attributes
    ----------
    x, y : windowed centroids in pixels (float64).
    flux : isophotal flux above the background, in image units (ADU) summed over pixels.
    peak : highest background-subtracted pixel value of the source.
    a, b : semi-major and semi-minor axes of the isophotal second moments, pixels.
    bbox : (n, 4) int, the source footprint's bounding box ``xmin, xmax, ymin, ymax``
        (inclusive pixel indices).
    background_rms : the frame's global background RMS (image units).
    """

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    peak: np.ndarray
    a: np.ndarray
    b: np.ndarray
    bbox: np.ndarray
    background_rms: float

    def __len__(self) -> int:
        return int(self.x.size)

    @property
    def xy(self) -> np.ndarray:
        """(n, 2) array of ``(x, y)`` centroids."""
        return np.column_stack([self.x, self.y])

    def select(self, keep: np.ndarray) -> Sources:
        """The sources where the boolean (n,) array ``keep`` is True."""
        return Sources(self.x[keep], self.y[keep], self.flux[keep], self.peak[keep], self.a[keep],
                       self.b[keep], self.bbox[keep], self.background_rms)


def extract_sources(image: np.ndarray, *, mask: np.ndarray | None = None, thresh: float = 1.0,
                    minarea: int = 3, deblend_nthresh: int = 32, deblend_cont: float = 0.005,
                    clean_spurious: bool = False, bkg_box: int = 64, bkg_filter: int = 3,
                    windowed: bool = True, max_peak_fraction: float | None = 0.7) -> Sources:
    """Find the sources of one frame and measure their centroids.

    Steps (SExtractor's, through ``sep``): a mesh background model (``bkg_box`` px cells,
    median-filtered over ``bkg_filter`` cells) subtracted once; extraction of pixels above
    ``thresh`` times the global background RMS after sep's default 3x3 filter (the kernel sums
    to 1, so ``thresh = 1`` is about 2.7 sigma of the filtered image), with deblending on; windowed centroids (SExtractor ``XWIN``/``YWIN``) with a Gaussian window
    of sigma ``sqrt(a * b)``, which for a Gaussian PSF equals the PSF sigma that
    SExtractor's ``2 FLUX_RADIUS / 2.35`` estimates, at a fraction of the cost.

    Parameters
    ----------
    image : (ny, nx) float array, raw counts with bad pixels already replaced (e.g. ``Frame.clean``).
    mask : (ny, nx) bool, True on bad pixels; ignored by the background and the extraction.
    thresh : detection threshold in units of the global background RMS (unfiltered pixels).
        The default 1.0 finds ~98 % of SNR-5 point sources (FWHM 2.5 px) at the cost of
        noise detections, which the motion lists discard as they do not persist. (1.5 gives
        the same real-field figures but loses the SNR 3-5 objects of the simulated sets.)
    minarea : minimum number of connected pixels above the threshold.
    deblend_nthresh, deblend_cont : sep/SExtractor deblending levels and contrast (default
        SExtractor's 0.005). Target mode uses 0.0005, which splits a faint object off a
        galaxy arm or a comet's coma whose footprint holds thousands of times its flux.
    clean_spurious : SExtractor's CLEAN pass (drops detections in bright sources' wings); off
        by default: it costs ~40 % of the extraction time on a crowded 4096x4096 frame and
        the spurious sources it removes move with their star.
    bkg_box, bkg_filter : background mesh cell size (px) and median-filter size (cells);
        default SExtractor's usual 64 px. Target mode uses 16 px (4-6 PSF FWHM), a local
        background: it follows extended emission (galaxies, nebulae, comae, stray-light edges) that a 64 px mesh leaves in the image,
        where it merges with the object or leaves blobs fixed on the detector that look
        like followed objects; sep's clipped mode per cell keeps the stars out of it.
    windowed : use windowed centroids; False keeps the isophotal barycentres.
    max_peak_fraction : drop sources whose peak pixel holds more than this fraction of their
        flux: hot pixels and one-pixel cosmic-ray hits, which are not blurred by the optics
        (a Gaussian PSF of FWHM 1.5 px puts 0.39 of its flux in the peak pixel, FWHM 2 px
        0.22). None keeps every source (for undersampled images, FWHM < 1.3 px).

    Returns
    -------
    Sources
        ordered as sep returns them (by first pixel row).
    """
    data = np.array(image, dtype=np.float32, order="C", copy=True)
    if data.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {data.shape}")
    if mask is not None:
        # no bad pixel: no mask, the same sources without sep's per-pixel mask tests
        mask = np.ascontiguousarray(mask, dtype=bool) if mask.any() else None
    bkg = sep.Background(data, mask=mask, bw=bkg_box, bh=bkg_box, fw=bkg_filter, fh=bkg_filter)
    bkg.subfrom(data)
    rms = float(bkg.globalrms)
    if not np.isfinite(rms) or rms <= 0:
        rms = 1.0  # a flat (noise-free) image: thresholds become absolute counts
    objects = _extract_with_room(data, thresh, err=rms, mask=mask, minarea=minarea,
                                 deblend_nthresh=deblend_nthresh, deblend_cont=deblend_cont,
                                 clean=clean_spurious)
    x = objects["x"].astype(np.float64)
    y = objects["y"].astype(np.float64)
    a = objects["a"].astype(np.float64)
    b = objects["b"].astype(np.float64)
    if windowed and x.size:
        sig = np.maximum(np.sqrt(a * b), 0.5)
        xw, yw, flag = sep.winpos(data, x, y, sig, subpix=1)
        # The windowed iteration can wander off a source in a blend; keep the isophotal
        # barycentre there, as SExtractor does when WINPOS fails.
        good = (flag == 0) & np.isfinite(xw) & np.isfinite(yw) & (np.hypot(xw - x, yw - y) < 2 * sig + 1)
        x = np.where(good, xw, x)
        y = np.where(good, yw, y)
    bbox = np.column_stack([objects["xmin"], objects["xmax"], objects["ymin"], objects["ymax"]]).astype(np.int64)
    sources = Sources(x, y, objects["flux"].astype(np.float64), objects["peak"].astype(np.float64),
                      a, b, bbox.reshape(-1, 4), rms)
    if max_peak_fraction is not None and len(sources):
        with np.errstate(divide="ignore", invalid="ignore"):
            sharp = sources.peak > max_peak_fraction * sources.flux
        sources = sources.select(~sharp)
    return sources


def _extract_with_room(data: np.ndarray, thresh: float, **kwargs) -> np.ndarray:
    """``sep.extract``, enlarging sep's pixel stack and sub-object limit when they overflow."""
    while True:
        try:
            return sep.extract(data, thresh, **kwargs)
        except Exception as exc:  # sep raises a bare Exception with its C error text
            text = str(exc)
            if "pixel buffer full" in text and sep.get_extract_pixstack() < _MAX_PIXSTACK:
                sep.set_extract_pixstack(min(_MAX_PIXSTACK, 4 * sep.get_extract_pixstack()))
            elif "deblending overflow" in text and sep.get_sub_object_limit() < 65536:
                sep.set_sub_object_limit(4 * sep.get_sub_object_limit())
            else:
                raise


BRIGHT_SNR = 10.0  # sources that measure a frame's PSF and register it: well above its noise


def bright_objects(residual: np.ndarray, sigma: float, mask: np.ndarray | None = None, *,
                   thresh: float = BRIGHT_SNR) -> np.ndarray | None:
    """sep's objects above ``thresh`` x ``sigma`` (5 px or more) of a background-subtracted
    frame, one extraction that serves the PSF measurement
    (:func:`.streaks.validate.frame_fwhm`) and the static sky's registration
    (:func:`.streaks.static_sky.brightest`); None when sep overflows on a pathological frame
    (a flood of pixels above the threshold)."""
    m = None if mask is None else np.ascontiguousarray(mask, dtype=bool)
    try:
        return _extract_with_room(np.ascontiguousarray(residual, dtype=np.float32), thresh, err=float(sigma),
                                  mask=m, minarea=5)
    except Exception:
        return None

