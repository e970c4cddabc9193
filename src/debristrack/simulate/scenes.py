"""Scene parameters: one dataclass per observing mode, and the named presets.

Every parameter of a simulated sequence lives in its scene dataclass; the command line
builds its ``--flags`` from these fields (:mod:`debristrack.config`) and ``meta.json``
stores them, so a sequence can be regenerated from its ``meta.json`` and seed.

Units: pixels (px), seconds (s), electrons (e-), ADU, degrees for RA/Dec, arcsec/px for the
plate scale. Ranges are ``(low, high)`` tuples, sampled uniformly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..config import replace_checked
from ..errors import InputError

MODES = ("sidereal", "stare", "target")
MAX_SIZE = 32768  # px a side: a float32 frame of 4 GB; larger is a typo, not a camera


def _finite(value) -> bool:
    """False for a NaN or infinite number (or one inside a tuple); True for anything else."""
    if isinstance(value, tuple):
        return all(_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


def _iso_time(text: str) -> bool:
    from astropy.time import Time

    try:
        Time(text, format="isot", scale="utc")
    except ValueError:
        return False
    return True


def _f(default, help_text: str, **kw):
    return field(default=default, metadata={"help": help_text, **kw})


@dataclass(frozen=True)
class SkyScene:
    """Parameters shared by every mode: frame, timing, pointing, optics, camera, sky."""

    size: int = _f(512, "frame width in px (and height unless --height is given)")
    height: int | None = _f(None, "frame height in px; None = same as --size")
    frames: int = _f(8, "frames per sequence")
    exptime: float = _f(5.0, "exposure time in s (EXPTIME)")
    cadence: float = _f(6.0, "time between exposure starts in s (>= exptime)")
    start_time: str = _f("2025-01-15T18:00:00", "start of the first exposure, ISO UTC (DATE-OBS)")
    ra: float = _f(60.0, "RA of the frame centre at the first exposure, deg")
    dec: float = _f(0.0, "Dec of the frame centre, deg")
    pixscale: float = _f(1.5, "plate scale, arcsec/px (PIXSCALE)")
    psf: str = _f("gaussian", "PSF shape: gaussian ([SDT] eq. 6) or moffat")
    fwhm: float = _f(2.5, "PSF FWHM in px")
    moffat_beta: float = _f(2.5, "Moffat beta (only for --psf moffat)")
    gain: float = _f(1.5, "gain, e-/ADU (GAIN)")
    read_noise: float = _f(8.0, "read noise, e- RMS (RDNOISE)")
    bias: float = _f(100.0, "bias level, ADU")
    saturate: float = _f(65535.0, "saturation level, ADU (SATURATE)")
    sky_level: float = _f(800.0, "mean sky background, e-/px per exposure")
    gradient: float = _f(0.1, "fractional sky gradient across the frame")
    straylight: float = _f(0.0, "moonlight/stray light at the nearest frame edge, x sky level")
    cloud: float = _f(0.0, "peak cloud extinction, 0 (clear) to 1 (opaque)")
    cloud_glow: float = _f(0.3, "light scattered by a full cloud, x sky level")
    cloud_speed: float = _f(4.0, "cloud motion, px per frame")
    clouds: int = _f(6, "number of cloud blobs (when --cloud > 0)")
    star_density: float = _f(420.0, "stars brighter than --mag-limit per megapixel (~7,000 in 4096x4096)")
    mag_bright: float = _f(6.0, "brightest star magnitude")
    mag_limit: float = _f(14.0, "faintest star magnitude")
    limit_snr: float = _f(3.0, "SNR of a star at --mag-limit (sets the zero point)")
    hot_pixels: float = _f(2e-5, "fraction of hot pixels (fixed for a sequence)")
    cosmic_rate: float = _f(5.0, "cosmic-ray hits per megapixel per exposure")
    snr: tuple[float, float] = _f((4.0, 30.0), "range of object SNR by the CCD equation (streaks: per FWHM of length)", metavar="LOW,HIGH")
    objects: tuple[int, int] = _f((1, 3), "range of the number of objects per sequence", metavar="LOW,HIGH")
    background_scale: float = _f(1.0, "resampling factor for a --background image (1 = native pixels)")
    tle: str | None = _f(None, "TLE catalogue file(s), comma-separated: draw the real objects crossing the field "
                               "at their SGP4 positions instead of random ones (NORAD ids in the ground truth)")
    site: str | None = _f(None, "observer as lat,lon[,height] (deg, deg east, m), with --tle; written as OBSGEO-B/L/H")
    unknown: int = _f(0, "with --tle: objects absent from the catalogue added on orbits through the field (NORAD 0)")
    follow: int | None = _f(None, "target mode with --tle: NORAD number to follow (default: the object nearest --ra/--dec)")

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of a frame."""
        return (self.height or self.size, self.size)

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first parameter out of range."""
        bad_number = next((f.name for f in dataclasses.fields(self) if not _finite(getattr(self, f.name))), None)
        if bad_number is not None:
            raise InputError(f"invalid {getattr(self, 'mode', 'sky')} scene: --{bad_number.replace('_', '-')} "
                             f"must be finite, got {getattr(self, bad_number)!r}")
        checks = [
            (16 <= self.size <= MAX_SIZE, f"size must be in [16, {MAX_SIZE}] px"),
            (self.height is None or 16 <= self.height <= MAX_SIZE, f"height must be in [16, {MAX_SIZE}] px"),
            (_iso_time(self.start_time), "start_time must be an ISO UTC time like 2025-01-15T18:00:00"),
            (0 <= self.ra <= 360, "ra must be in [0, 360] deg"),
            (-90 < self.dec < 90, "dec must be in (-90, 90) deg (a pole has no RA axis for the TAN WCS)"),
            (self.gradient >= 0, "gradient must be >= 0"),
            (self.straylight >= 0, "straylight must be >= 0"),
            (self.cloud_glow >= 0, "cloud_glow must be >= 0"),
            (self.clouds >= 0, "clouds must be >= 0"),
            (self.mag_bright >= -30 and self.mag_limit <= 40, "mag_bright/mag_limit must be in [-30, 40]"),
            (self.frames >= 1, "frames must be at least 1"),
            (self.exptime > 0, "exptime must be positive"),
            (self.cadence >= self.exptime, "cadence must be at least exptime"),
            (self.pixscale > 0, "pixscale must be positive"),
            (self.psf in ("gaussian", "moffat"), "psf must be gaussian or moffat"),
            (self.fwhm >= 1.0, "fwhm must be at least 1 px"),
            (self.moffat_beta > 1.0, "moffat_beta must be above 1"),
            (self.gain > 0, "gain must be positive"),
            (self.read_noise >= 0, "read_noise must be >= 0"),
            (self.sky_level >= 0, "sky_level must be >= 0"),
            (self.saturate > self.bias, "saturate must be above bias"),
            (0 <= self.cloud <= 1, "cloud must be in [0, 1]"),
            (self.star_density >= 0, "star_density must be >= 0"),
            (self.mag_bright < self.mag_limit, "mag_bright must be brighter (smaller) than mag_limit"),
            (self.limit_snr > 0, "limit_snr must be positive"),
            (0 <= self.hot_pixels < 0.1, "hot_pixels must be in [0, 0.1)"),
            (self.cosmic_rate >= 0, "cosmic_rate must be >= 0"),
            (len(self.snr) == 2 and 0 < self.snr[0] <= self.snr[1], "snr must be LOW,HIGH with 0 < LOW <= HIGH"),
            (len(self.objects) == 2 and 0 <= self.objects[0] <= self.objects[1], "objects must be LOW,HIGH with 0 <= LOW <= HIGH"),
            (self.background_scale > 0, "background_scale must be positive"),
            (self.unknown >= 0, "unknown must be >= 0"),
            (self.tle is None or bool(self.site), "site is needed with --tle (lat,lon[,height])"),
            (self.tle is not None or (self.unknown == 0 and self.follow is None), "unknown and --follow need --tle"),
        ]
        checks += self._mode_checks()
        for ok, text in checks:
            if not ok:
                name, rest = text.split(" ", 1)
                raise InputError(f"invalid {getattr(self, 'mode', 'sky')} scene: --{name.replace('_', '-')} {rest}")

    def _mode_checks(self) -> list[tuple[bool, str]]:
        return []


@dataclass(frozen=True)
class SiderealScene(SkyScene):
    """[SDT] sec. 3.2: the telescope tracks the stars; K line-source debris per video.

    Each debris has centre, length, width, angle and speed ([SDT] eq. 4) and advances by
    eq. 5 every frame (speed in px per frame, Delta t = 1 frame). With ``consistent_length``
    (the default presets ``debris`` and ``dense``) the motion is physical: the streak is
    ``v x EXPTIME`` long and its centre moves ``v x cadence`` per frame, so consecutive
    streaks lie end to end with a gap; presets ``sdtd`` and ``sdtd-dense`` keep [SDT]'s
    model (length drawn independently of speed) for the paper's Tab. 2/3.
    """

    mode: str = field(default="sidereal", init=False, metadata={"cli": False})
    length: tuple[float, float] = _f((30.0, 150.0), "range of streak length l_k, px ([SDT] eq. 4)", metavar="LOW,HIGH")
    width: tuple[float, float] = _f((0.0, 2.0), "range of streak width w_k before the PSF, px", metavar="LOW,HIGH")
    speed: tuple[float, float] = _f((8.0, 40.0), "range of speed v_k, px per frame ([SDT] eq. 5)", metavar="LOW,HIGH")
    consistent_length: bool = _f(False, "physical motion: l_k = v_k * exptime / cadence (the streak is the motion "
                                        "during the exposure, the centre moves v_k per cadence) instead of drawing it")
    nuisances: bool = _f(False, "real-sky nuisances: saturated stars with halo, spikes and bleed column, nebula with a "
                                "sharp edge, hot column, bright and dead rows, one jittered frame (doubled stars), "
                                "one meteor-like one-frame trail (labelled, id 9001) (simulate/nuisances.py)")
    leo_prob: float = _f(0.0, "probability that an object is a LEO crossing the field within one exposure "
                              "(streak 1.2-3 x the frame size; with --consistent-length)")
    brightness_noise: float = _f(0.25, "RMS of the random brightness along a streak (fraction)")
    gap_prob: float = _f(0.3, "probability that a streak is truncated by a gap in a frame")
    min_separation: float = _f(20.0, "least distance between streak centres in a frame, px (0 = none)")
    parallel_prob: float = _f(0.0, "probability that a new object runs near-parallel to an earlier one")
    cross_prob: float = _f(0.0, "probability that a new object crosses an earlier one's path")

    def _mode_checks(self):
        return [
            (len(self.length) == 2 and 0 < self.length[0] <= self.length[1], "length must be LOW,HIGH with 0 < LOW <= HIGH"),
            (len(self.width) == 2 and 0 <= self.width[0] <= self.width[1], "width must be LOW,HIGH with 0 <= LOW <= HIGH"),
            (len(self.speed) == 2 and 0 <= self.speed[0] <= self.speed[1], "speed must be LOW,HIGH with 0 <= LOW <= HIGH"),
            (0 <= self.gap_prob <= 1, "gap_prob must be in [0, 1]"),
            (0 <= self.parallel_prob <= 1, "parallel_prob must be in [0, 1]"),
            (0 <= self.cross_prob <= 1, "cross_prob must be in [0, 1]"),
            (0 <= self.leo_prob <= 1, "leo_prob must be in [0, 1]"),
            (self.brightness_noise >= 0, "brightness_noise must be >= 0"),
            (self.min_separation >= 0, "min_separation must be >= 0"),
        ]


@dataclass(frozen=True)
class StareScene(SkyScene):
    """[GEO] sec. 2: the telescope is fixed to the Earth; stars drift at the sidereal rate
    (15.04 arcsec/s x cos(dec)), GEO targets stay fixed to within the atmospheric jitter."""

    mode: str = field(default="stare", init=False, metadata={"cli": False})
    jitter: float = _f(0.25, "largest random jitter of a GEO target per frame, px ([GEO] sec. 2: 0.1-0.4)")
    geo_drift: float = _f(0.0, "slow drift of GEO targets, px per frame ([GEO]: ~0.1 px in 100 s)")

    def _mode_checks(self):
        return [(self.jitter >= 0, "jitter must be >= 0"), (self.geo_drift >= 0, "geo_drift must be >= 0")]


@dataclass(frozen=True)
class TargetScene(SkyScene):
    """[TRK] sec. 4: the telescope follows a target; stars move together across the frame,
    the target stays within the following error."""

    mode: str = field(default="target", init=False, metadata={"cli": False})
    track_rate: float = _f(8.0, "target's motion against the stars, arcsec/s")
    track_angle: float | None = _f(None, "direction of the star motion in the frame, deg; None = random")
    following_error: float = _f(1.5, "peak following error of the mount, px ([TRK] sec. 3: 1-2 px)")
    offset: float = _f(0.15, "largest offset of a followed object from the frame centre, x frame size")
    comoving_drift: float = _f(0.3, "largest drift of a 2nd/3rd co-moving object against the first, px per frame")
    collisions: float = _f(0.5, "mean number of star-target collisions per object per sequence ([TRK] fig. 10)")

    def _mode_checks(self):
        return [
            (self.track_rate >= 0, "track_rate must be >= 0"),
            (self.following_error >= 0, "following_error must be >= 0"),
            (0 <= self.offset <= 0.4, "offset must be in [0, 0.4]"),
            (self.comoving_drift >= 0, "comoving_drift must be >= 0"),
            (self.collisions >= 0, "collisions must be >= 0"),
        ]


SCENES = {"sidereal": SiderealScene, "stare": StareScene, "target": TargetScene}

# Presets: changes from the dataclass defaults. The first of each mode is its default.
PRESETS: dict[str, dict[str, dict]] = {
    "sidereal": {
        # physical motion (streak = v x EXPTIME, next one v x cadence later): at 1.5"/px, 5 s every 6 s,
        # 15-150 px per frame is ~4-40"/s (GEO in sidereal tracking ~15"/s, MEO tens of "/s); a
        # fifth of the objects are LEOs that cross the field within one exposure.
        "debris": dict(objects=(1, 3), min_separation=40.0, consistent_length=True, speed=(15.0, 150.0),
                       leo_prob=0.2),
        "dense": dict(objects=(4, 7), min_separation=0.0, parallel_prob=0.35, cross_prob=0.35,
                      snr=(3.0, 25.0), consistent_length=True, speed=(15.0, 150.0), leo_prob=0.2),
        # the physical debris set on a real-looking sky: every nuisance of simulate/nuisances.py, passing clouds
        "nuisance": dict(objects=(1, 3), min_separation=40.0, consistent_length=True, speed=(15.0, 150.0),
                         leo_prob=0.2, nuisances=True, cloud=0.3),
        # [SDT] sec. 3.3.2 "debris" test set: 1-3 objects, little overlap; [SDT] eq. 5 motion.
        "sdtd": dict(objects=(1, 3), min_separation=40.0),
        # "dense debris": more than three objects, crossings and near-parallel tracks.
        "sdtd-dense": dict(objects=(4, 7), min_separation=0.0, parallel_prob=0.35, cross_prob=0.35,
                           snr=(3.0, 25.0)),
    },
    "stare": {
        # [GEO] sec. 2 and 4: 8.79 arcsec/px, 5 s exposures -> stars trail ~8.6 px per frame.
        "good": dict(pixscale=8.79, exptime=5.0, cadence=6.0, fwhm=2.5, objects=(2, 5),
                     snr=(3.0, 50.0), frames=8, mag_limit=14.0),
        # [GEO] fig. 5c: moonlight stray light and passing cloud.
        "straylight": dict(pixscale=8.79, exptime=5.0, cadence=6.0, fwhm=2.5, objects=(2, 5),
                           snr=(3.0, 50.0), frames=8, mag_limit=14.0, straylight=2.0,
                           gradient=0.3, cloud=0.6, cloud_glow=0.5),
    },
    "target": {
        # [TRK] sec. 5: 1.45 arcsec/px, 1 s exposures, thousands of stars in the field.
        "single": dict(pixscale=1.45, exptime=1.0, cadence=3.0, objects=(1, 1), frames=12,
                       star_density=2500.0, mag_limit=16.0, fwhm=2.5, snr=(5.0, 40.0)),
        "multi": dict(pixscale=1.45, exptime=1.0, cadence=3.0, objects=(2, 3), frames=12,
                      star_density=2500.0, mag_limit=16.0, fwhm=2.5, snr=(5.0, 40.0)),
        "empty": dict(pixscale=1.45, exptime=1.0, cadence=3.0, objects=(0, 0), frames=12,
                      star_density=2500.0, mag_limit=16.0, fwhm=2.5, snr=(5.0, 40.0)),
    },
}


def default_preset(mode: str) -> str:
    """The preset used when none is named."""
    return next(iter(PRESETS[_check_mode(mode)]))


def _check_mode(mode: str) -> str:
    if mode not in SCENES:
        raise InputError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    return mode


def make_scene(mode: str, preset: str | None = None, **overrides) -> SkyScene:
    """The scene dataclass of ``mode`` with ``preset`` applied, then ``overrides``.

    Parameters
    ----------
    mode : ``"sidereal"``, ``"stare"`` or ``"target"``.
    preset : a name from ``PRESETS[mode]``; None = the mode's first preset.
    **overrides : field values, e.g. ``size=1024, frames=5``.

    Raises
    ------
    InputError
        on an unknown mode, preset or field, or a value out of range.
    """
    cls = SCENES[_check_mode(mode)]
    preset = preset or default_preset(mode)
    if preset not in PRESETS[mode]:
        raise InputError(f"unknown preset {preset!r} for mode {mode}; "
                         f"use one of {', '.join(PRESETS[mode])}")
    scene = replace_checked(cls(), **PRESETS[mode][preset])
    scene = replace_checked(scene, **overrides)
    scene.validate()
    return scene


def scene_to_dict(scene: SkyScene) -> dict:
    """All fields (and the mode) as a JSON-ready dict."""
    return dataclasses.asdict(scene)


def scene_from_dict(data: dict) -> SkyScene:
    """Inverse of :func:`scene_to_dict` (lists become tuples again)."""
    cls = SCENES[_check_mode(data.get("mode", ""))]
    kwargs = {f.name: (tuple(data[f.name]) if isinstance(data[f.name], list) else data[f.name])
              for f in dataclasses.fields(cls) if f.init and f.name in data}
    scene = cls(**kwargs)
    scene.validate()
    return scene
