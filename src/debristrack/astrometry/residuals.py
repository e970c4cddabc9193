"""O-C residuals and external accuracy, [TRK] sec. 5.3 eq. 23-24.

For each frame where the object was measured: Delta = O - C, the observed sky position
minus the predicted one. Right-ascension residuals are taken on the sky (times cos dec).

- eq. 23: sigma = sqrt(sum(Delta^2) / n) per axis, n = the frames with a measurement;
- eq. 24: sigma_total = sqrt(sigma_ra^2 + sigma_dec^2).

Given the range, sigma in metres is sigma (radians) x the mean range. ([TRK] used the orbit's
mean altitude for this; the topocentric range is what the angle actually subtends.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

ARCSEC_PER_DEG = 3600.0


@dataclass(frozen=True)
class AccuracyFigures:
    n: int
    sigma_ra_arcsec: float  # RMS of (RA_O - RA_C) cos(dec), eq. 23
    sigma_dec_arcsec: float  # RMS of Dec_O - Dec_C, eq. 23
    sigma_total_arcsec: float  # eq. 24
    mean_ra_arcsec: float  # systematic offsets: a timing or WCS error shows up here
    mean_dec_arcsec: float
    sigma_m: float | None  # total sigma at the mean range, metres
    mean_range_km: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def oc_residuals(ra_obs, dec_obs, ra_pred, dec_pred) -> tuple[np.ndarray, np.ndarray]:
    """(dRA cos dec, dDec) in arcsec; RA differences wrapped into [-180, 180) degrees."""
    dra = (np.asarray(ra_obs, float) - np.asarray(ra_pred, float) + 180.0) % 360.0 - 180.0
    cosd = np.cos(np.radians(np.asarray(dec_pred, float)))
    return dra * cosd * ARCSEC_PER_DEG, (np.asarray(dec_obs, float) - np.asarray(dec_pred, float)) * ARCSEC_PER_DEG


def accuracy(dra_arcsec, ddec_arcsec, range_m=None) -> AccuracyFigures:
    """[TRK] eq. 23-24 from residuals in arcsec (NaN rows are skipped)."""
    dra, ddec = np.asarray(dra_arcsec, float), np.asarray(ddec_arcsec, float)
    ok = np.isfinite(dra) & np.isfinite(ddec)
    n = int(ok.sum())
    if n == 0:
        raise ValueError("no finite residuals")
    s_ra = float(np.sqrt(np.mean(dra[ok] ** 2)))  # eq. 23
    s_dec = float(np.sqrt(np.mean(ddec[ok] ** 2)))
    total = float(np.hypot(s_ra, s_dec))  # eq. 24
    mean_range = None if range_m is None else float(np.mean(np.asarray(range_m, float)[ok]))
    sigma_m = None if mean_range is None else float(np.radians(total / ARCSEC_PER_DEG) * mean_range)
    return AccuracyFigures(n, s_ra, s_dec, total, float(dra[ok].mean()), float(ddec[ok].mean()),
                           sigma_m, None if mean_range is None else mean_range / 1e3)


def plot_residuals(times_mjd, dra, ddec, figures: AccuracyFigures, path, *, title: str = "") -> None:
    """Residuals against time, one panel per axis, with the RMS written on each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.atomic import atomic_write

    t = (np.asarray(times_mjd) - np.nanmin(times_mjd)) * 86400.0
    fig, axes = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    for ax, values, label, sigma in ((axes[0], dra, "ΔRA cos δ", figures.sigma_ra_arcsec),
                                     (axes[1], ddec, "ΔDec", figures.sigma_dec_arcsec)):
        ax.axhline(0, color="0.6", lw=0.8)
        ax.plot(t, values, "o", ms=3)
        ax.set_ylabel(f"{label} (arcsec)")
        ax.set_title(f"{label}: RMS {sigma:.3f}\"", fontsize=9, loc="right")
    axes[1].set_xlabel("time since first frame (s)")
    total = f"σ = {figures.sigma_total_arcsec:.3f}\""
    if figures.sigma_m is not None:
        total += f" ≈ {figures.sigma_m:.1f} m at {figures.mean_range_km:.0f} km"
    fig.suptitle(f"{title} O-C, n = {figures.n}, {total}".strip(), fontsize=10)
    fig.tight_layout()
    suffix = str(path).rsplit(".", 1)[-1]
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format=suffix, dpi=110)
    plt.close(fig)
