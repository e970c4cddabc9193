"""Static sky removed before streak detection in a sidereal sequence, streamed.

With the telescope tracking the stars, everything fixed on the sky (stars, galaxies,
nebulae, the halos and spikes of bright stars, hot pixels and bias structure of the
detector) sits on the same pixels in every frame, while a satellite's trail is somewhere
else in each. Subtracting from a frame a robust stack (lower median) of OTHER frames leaves
only what changed: the trails, cosmic rays and noise. Frames are registered first when the
stars moved by more than ``min_shift`` px (guiding drift): the shift is measured from
the sources matched between the frame and its neighbour (sep positions, median offset),
after a phase correlation (on a binned copy of a big frame) has found it to about a pixel.
Sky levels are removed per frame (the background of a NEOSSat sequence climbs by a factor
of ten), so the stack is of background-subtracted frames. At least 2 other frames are
needed; a sequence of fewer than 3 frames has no residual and the trail validator alone
must tell trails from sky.

:class:`StaticSky` streams: frames are pushed one at a time, in time order, and it keeps a
bounded window of them (``window + 1`` background-subtracted frames, whatever the length of
the night). A frame's stack is made of the ``window`` frames nearest to it (earlier first on a tie):
``ceil(window / 2)`` before and ``window // 2`` after it (``centred``; the frame's residual
comes that many frames later; the first frames of a night take more after them, the last
ones more before them, as far back as the window holds) or the ``window`` before it
(past-only, for live frames: the residual comes at once; the first two frames of a night
wait for the third). A night of at most ``window`` frames thus gets the stacks of the
whole-sequence rule (every frame's ``window`` nearest others); a longer one too, except its
last ``window // 2`` frames, which have fewer. Per-pixel order statistics are computed in row bands with a compare-exchange
network (:func:`order_stats`), so no ``(n, ny, nx)`` stack is ever allocated. Big frames are
held as int16 steps of their noise; a night's frames share one step while their noise stays
within :data:`STEP_TOL` (:func:`common_step`), and a stack of frames in one step is made of the
int16 values themselves (the same residual as their float32 stack, in half the time).
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from scipy.spatial import cKDTree

from ..extract import bright_objects
from .background import subtract_background

BAND = 64  # rows per band of a frame-sized loop: no frame-sized temporaries
# pixels per band of the order statistics: the n + 1 bands of the network stay in the CPU's
# cache (on a 4096 px wide frame 8 rows took 0.34 s where 64 rows took 0.44-0.69)
BAND_PIXELS = 32768


def brightest(objects: np.ndarray | None, n: int) -> np.ndarray:
    """(M, 2) x, y of the ``n`` brightest compact, unflagged ``objects`` (sep's, from
    :func:`~debristrack.detect.extract.bright_objects`; None: none)."""
    if objects is None:
        return np.zeros((0, 2))
    objs = objects[(objects["flag"] == 0) & (objects["a"] < 2.0 * objects["b"])]
    objs = objs[np.argsort(-objs["flux"])[:n]]
    return np.column_stack([objs["x"], objs["y"]])


SOURCES = 300  # registration sources per frame
SOURCE_SNR = 8.0  # their extraction threshold: a small or sparse field's faint stars count


def _sources(residual: np.ndarray, sigma: float, mask: np.ndarray | None, n: int = SOURCES, *,
             objects: np.ndarray | None = None) -> np.ndarray:
    """(M, 2) x, y of the ``n`` brightest compact sources of a background-subtracted frame
    above :data:`SOURCE_SNR`; from ``objects`` (the frame's :func:`bright_objects`, above
    10 sigma) when those hold ``n`` already (a crowded field: the same brightest stars, without a
    second extraction)."""
    if objects is not None:
        found = brightest(objects, n)
        if len(found) >= n:
            return found
    return brightest(bright_objects(residual, sigma, mask, thresh=SOURCE_SNR), n)


def _correlation_image(sub: np.ndarray, sigma: float) -> tuple[np.ndarray, int]:
    """The frame in units of its noise, clipped, binned so its short side is at most ~1024 px
    (a phase correlation of a 4096^2 frame costs a second; of its 4 x 4 binned copy a few
    hundredths, and the sources refine the shift anyway); and the binning factor."""
    k = max(1, min(sub.shape) // 1024)
    img = np.asarray(sub, dtype=np.float32)
    if k > 1:  # binned first: the clipping then costs 1 / k^2 of a frame
        img = cv2.resize(img, (img.shape[1] // k, img.shape[0] // k), interpolation=cv2.INTER_AREA)
    return np.clip(img / np.float32(max(sigma, 1e-9)), -5, 50), k


def _match_shift(sa: np.ndarray, sb: np.ndarray, guess: tuple[float, float]) -> tuple[float, float, int]:
    """Median offset of the sources ``sb`` matched to ``sa`` within 2 px after ``guess``."""
    px, py = guess
    if len(sa) < 3 or len(sb) < 3:
        return float(px), float(py), 0
    dist, idx = cKDTree(sa).query(sb + [px, py], distance_upper_bound=2.0)
    ok = np.isfinite(dist)
    if ok.sum() < 3:
        return float(px), float(py), 0
    off = sa[idx[ok]] - sb[ok]
    return float(np.median(off[:, 0])), float(np.median(off[:, 1])), int(ok.sum())


def measure_shift(ref: np.ndarray, img: np.ndarray, *, ref_sigma: float, sigma: float,
                  ref_mask: np.ndarray | None = None, mask: np.ndarray | None = None) -> tuple[float, float, int]:
    """Shift ``(dx, dy)`` (px) that carries ``img``'s stars onto ``ref``'s, and the number of
    matched sources it rests on (0 = no match: shift from the phase correlation alone).

    Both inputs are background-subtracted frames. A phase correlation (OpenCV) finds the
    shift to about a pixel; sources of the two frames within 2 px after that shift are
    matched and the median of their offsets is the shift.
    """
    (a, k), (b, _) = _correlation_image(ref, ref_sigma), _correlation_image(img, sigma)
    (px, py), _ = cv2.phaseCorrelate(b, a)
    return _match_shift(_sources(ref, ref_sigma, ref_mask), _sources(img, sigma, mask), (px * k, py * k))


def sorting_network(n: int) -> list[tuple[int, int]]:
    """Compare-exchange pairs ``(i, j)``, ``i < j``, that sort ``n`` values ascending (Batcher's
    odd-even merge sort on the next power of two; pairs that touch the padding wires, which
    hold +inf and never move, are dropped)."""
    size = 1 << max(0, (n - 1).bit_length())
    pairs = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return [(a, b) for a, b in pairs if b < n]


def _pruned(n: int, wanted: tuple[int, ...]) -> list[tuple[int, int]]:
    """The pairs of :func:`sorting_network` that the outputs ``wanted`` depend on."""
    need, out = set(wanted), []
    for a, b in reversed(sorting_network(n)):
        if a in need or b in need:
            need |= {a, b}
            out.append((a, b))
    return out[::-1]


def order_stats(n: int, band_of, shape: tuple[int, int], ks: tuple[int, ...], *,
                band: int | None = None, dtype=np.float32) -> list[np.ndarray]:
    """Per-pixel ``k``-th smallest of ``n`` images, for each ``k`` of ``ks``, ``dtype`` ``shape``.

    ``band_of(i, y0, y1)`` gives rows ``y0:y1`` of image ``i`` (of ``dtype``: float32, or int16
    for images held in one common step, whose order is that of their values). The images are
    taken a band of rows at a time through a compare-exchange network (:func:`_pruned`),
    so the temporaries are ``n + 1`` bands, not an ``(n, ny, nx)`` stack; the same values as
    ``np.partition(stack, k, axis=0)[k]``. ``band``: rows per band (default: ~:data:`BAND_PIXELS`).
    """
    pairs = _pruned(n, ks)
    out = [np.empty(shape, dtype) for _ in ks]
    ny, nx = shape
    band = band or max(1, BAND_PIXELS // max(nx, 1))
    tmp = np.empty((band, nx), dtype)
    for y0 in range(0, ny, band):
        y1 = min(ny, y0 + band)
        w = [_own_band(band_of(i, y0, y1), dtype) for i in range(n)]
        t = tmp[: y1 - y0]
        for a, b in pairs:
            np.minimum(w[a], w[b], out=t)
            np.maximum(w[a], w[b], out=w[b])
            w[a], t = t, w[a]
        for o, k in zip(out, ks):
            o[y0:y1] = w[k]
    return out


def _own_band(a: np.ndarray, dtype=np.float32) -> np.ndarray:
    """``a`` as a ``dtype`` array :func:`order_stats` may overwrite: ``a`` itself when it is one
    made for the call (a held int16 band read as float32, a shifted band), else a copy (a view
    of a held frame)."""
    if a.dtype == dtype and a.base is None and a.flags.writeable and a.flags.c_contiguous:
        return a
    return np.array(a, dtype=dtype, copy=True)


def robust_stack(low: np.ndarray, floor: np.ndarray, sigma: float, *, spread: float = 5.0,
                 band: int = BAND) -> np.ndarray:
    """The static sky from the lower median ``low`` of the other frames (the ``(n - 1) // 2``-th
    smallest: with an even number of frames a pixel that a moving streak covers in half of
    them still reads the sky) and their minimum ``floor``: the lower median, except where it
    exceeds the minimum by more than ``spread`` x ``sigma``: there a moving streak covers
    more than half of the other frames (a slow object whose streaks overlap from frame to
    frame) and the minimum is the sky. A static source is bright in every frame, so its
    minimum stays within a few sigma of its median. In place in ``low``, a band of rows at
    a time (no frame-sized temporaries); ``sigma`` in the units of ``low`` (steps, for int16
    stacks)."""
    for y0 in range(0, low.shape[0], band):
        lo, fl = low[y0:y0 + band], floor[y0:y0 + band]
        # in float32: a difference of int16 steps may exceed their range
        np.copyto(lo, fl, where=np.subtract(lo, fl, dtype=np.float32) > spread * sigma)
    return low


def _common_step(frames) -> float | None:
    """The one step all ``frames`` (:class:`_Held`) are held in; None when they are float32 or
    in different steps."""
    steps = {f.scale for f in frames}
    return steps.pop() if len(steps) == 1 else None


def _source_rows(ny: int, dy: float, y0: int, y1: int) -> tuple[int, int]:
    """The rows ``b0:b1`` of a frame of ``ny`` rows that rows ``y0:y1`` shifted by ``dy`` read."""
    b0 = max(0, int(math.floor(y0 - dy)) - 1)
    b1 = min(ny, int(math.ceil(y1 - dy)) + 2)
    if b1 <= b0:  # shifted off the frame: the nearest edge row
        b0 = min(max(b0, 0), ny - 1)
        b1 = b0 + 1
    return b0, b1


def _shifted_rows(block: np.ndarray, dx: float, dy: float, y0: int, y1: int) -> np.ndarray:
    """Rows ``y0:y1`` (counted from the block's first row) of a frame shifted by ``(dx, dy)`` px
    (``out(y, x) = img(y - dy, x - dx)``, bilinear: ``scipy.ndimage.shift(order=1,
    mode="grid-constant")``), from ``block``, the rows of the frame that :func:`_source_rows`
    names (the block starts at the frame's top or far enough above, so its edges are the
    frame's). Where the shifted frame did not see the sky it reads 0, the sky level of a
    background-subtracted frame: repeating the edge pixels instead drew each edge pixel's
    noise as a line as long as the shift (a Seestar re-pointing of 25 px made a 27 px false
    trail at the field's edge)."""
    m = np.float32([[1, 0, -dx], [0, 1, y0 - dy]])
    return cv2.warpAffine(np.ascontiguousarray(block, dtype=np.float32), m, (block.shape[1], y1 - y0),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


@dataclass(frozen=True)
class Measured:
    """What the window needs of a frame that depends on that frame alone (:func:`measure`),
    and the bright objects its sources come from (for the frame's PSF, :func:`.validate.frame_fwhm`)."""

    sub: np.ndarray
    sigma: float
    corr: tuple[np.ndarray, int]
    sources: np.ndarray
    objects: np.ndarray | None = None


def measure(image: np.ndarray, mask: np.ndarray | None) -> Measured:
    """A frame's background-subtracted pixels and noise, its phase-correlation image and its
    brightest sources: no state, so the frame loop's read-ahead thread can do it
    (:meth:`StaticSky.push` does it otherwise)."""
    sub, sigma = subtract_background(image, mask)
    objects = bright_objects(sub, sigma, mask)
    return Measured(sub, sigma, _correlation_image(sub, sigma), _sources(sub, sigma, mask, objects=objects), objects)


# frames of this many pixels or more are held as int16 in steps of sigma / QUANTUM (+-4096
# sigma): half the memory of float32, and the steps add sigma / 28 rms, nothing a stack sees
QUANTIZE_PIXELS = 2048 * 2048
QUANTUM = 8.0
# a night's frames share one step while their noise stays within this factor of the step's:
# the order statistics of frames in one step are those of their int16 values, with no float
# copies (half the time); the steps then add at most sigma / 23 rms
STEP_TOL = 1.25


def common_step(step: float | None, sigma: float) -> float:
    """The step of a big frame of noise ``sigma``: ``step`` (the night's so far, None: none)
    while it is within :data:`STEP_TOL` of ``sigma / QUANTUM``, else ``sigma / QUANTUM``."""
    own = max(float(sigma), 1e-12) / QUANTUM
    if step is not None and 1.0 / STEP_TOL <= step / own <= STEP_TOL:
        return step
    return own


def quantized(a: np.ndarray, scale: float) -> np.ndarray:
    """``a`` (2-D float32) as int16 in steps of ``scale``, rounded to the nearest step and clipped to
    the int16 range: OpenCV's saturating multiply, one pass with no float temporary (and
    without the GIL)."""
    return cv2.multiply(np.ascontiguousarray(a, dtype=np.float32), (1.0 / float(scale), 0.0, 0.0, 0.0),
                        dtype=cv2.CV_16S)


def unquantized(q: np.ndarray, scale: float | None) -> np.ndarray:
    """:func:`quantized`'s int16 steps (or a float array, ``scale`` None) as float32."""
    return q if scale is None else np.multiply(q, np.float32(scale), dtype=np.float32)


def pack_mask(mask: np.ndarray | None) -> tuple | None:
    """A bool mask as bits (an eighth of its bytes), None for None."""
    return None if mask is None else (np.packbits(mask, axis=None), mask.shape)


def unpack_mask(packed: tuple | None) -> np.ndarray | None:
    if packed is None:
        return None
    bits, shape = packed
    return np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).view(bool)


@dataclass
class _Held:
    """One frame of the window: its place in the night, background-subtracted pixels (float32,
    or int16 in steps of ``scale`` for big frames), noise, bad pixels (as bits), shift from the
    first frame and sources (for the next frame's shift)."""

    position: int
    sub: np.ndarray
    sigma: float
    packed: tuple | None
    shift: tuple[float, float]
    sources: np.ndarray
    corr: tuple[np.ndarray, int]
    scale: float | None = None

    @classmethod
    def of(cls, position, sub, sigma, mask, shift, sources, corr, *, quantize: bool = True,
           step: float | None = None) -> _Held:
        """``step``: the previous frame's (:func:`common_step`)."""
        scale = None
        if quantize and sub.size >= QUANTIZE_PIXELS:  # (not raw frames: their sky may be far from 0)
            scale = common_step(step, sigma)
            sub = quantized(sub, scale)
        return cls(position, sub, sigma, pack_mask(mask), shift, sources, corr, scale)

    def rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``y0:y1`` of the background-subtracted frame, float32."""
        return unquantized(self.sub[y0:y1], self.scale)

    @property
    def mask(self) -> np.ndarray | None:
        return unpack_mask(self.packed)


@dataclass(frozen=True)
class Sky:
    """What :class:`StaticSky` gives for one frame: the caller's ``payload``, the frame minus
    its static sky (``residual``, float32, bad pixels 0; None with fewer than 2 others, and
    ``own`` is then the frame's background-subtracted pixels as the window holds them, for a
    caller that kept no copy), and when asked for (``median=True``) the plain median of the
    frame and its others (``median``) with the union of their bad pixels (``bad``), for a
    static-star mask. The residual of a big frame is held as int16 in steps of ``scale``
    (as the window holds its frames: :meth:`StaticSky.push` decides a night's first five at once), read as
    float32 by :meth:`static_residual`. ``cleaned``: :func:`.clean.prepare`'s information when
    the caller has put the residual through it already (:meth:`cleaned_by`)."""

    payload: Any
    residual: np.ndarray | None
    median: np.ndarray | None = None
    bad: np.ndarray | None = None
    own: np.ndarray | None = None
    scale: float | None = None
    cleaned: dict | None = None

    def cleaned_by(self, clean) -> Sky:
        """This sky with its residual replaced by ``clean(residual) -> (image, info)`` (float32:
        not rounded to the window's steps again) and ``cleaned`` = ``info``; itself when it has
        no residual."""
        if self.residual is None:
            return self
        image, info = clean(self.static_residual())
        return replace(self, residual=image, scale=None, cleaned=info)

    def static_residual(self) -> np.ndarray | None:
        """The frame minus its static sky, float32 (None without one)."""
        return None if self.residual is None else unquantized(self.residual, self.scale)


class StaticSky:
    """The static sky of a sidereal sequence, streamed (module docstring).

    Parameters
    ----------
    window : other frames in each stack (at least 2). centred : stack of the frames around
        each frame (its residual comes ``window // 2`` frames later), else of the frames before
        it (live frames: at once, except for the first two of a night).
    min_shift : shifts below this (px) are not applied.
    residuals : compute each frame's residual. median : compute each frame's window median
        (and bad pixels), for a static-star mask (of the frames themselves, not
        background-subtracted, when ``residuals`` is off).

    ``push(image, mask, payload)`` takes the next frame (``frame.clean``, its bad pixels, any
    object to hand back; ``measured``: its :func:`measure`, if done already) and returns a :class:`Sky` for every frame decidable now, in order;
    ``flush()`` returns the rest once no frame follows. ``held`` is the number of frames kept.
    """

    def __init__(self, window: int = 8, *, centred: bool = True, min_shift: float = 0.25,
                 residuals: bool = True, median: bool = False):
        self.window = max(2, int(window))
        self.before = math.ceil(self.window / 2) if centred else self.window
        self.after = self.window // 2 if centred else 0
        self.min_shift, self.residuals, self.median = float(min_shift), residuals, median
        self.frames: collections.deque[_Held] = collections.deque()
        self.pending: collections.deque[tuple[int, Any]] = collections.deque()
        self.count = 0  # frames pushed
        self._ahead = None  # (positions, (lower median, minimum)) of the next frame's stack (:meth:`prestack`)

    @property
    def held(self) -> int:
        return len(self.frames)

    def own(self, position: int) -> np.ndarray:
        """Frame ``position``'s pixels as the window holds them (float32): background-subtracted
        (to steps of sigma / 8 on big frames) with ``residuals``, else as pushed."""
        me = next(f for f in self.frames if f.position == position)
        return me.rows(0, me.sub.shape[0])

    def push(self, image: np.ndarray, mask: np.ndarray | None, payload: Any = None, *,
             measured: Measured | None = None) -> list[Sky]:
        self.add(image, mask, payload, measured=measured)
        return self._ready(final=False)

    def add(self, image: np.ndarray, mask: np.ndarray | None, payload: Any = None, *,
            measured: Measured | None = None) -> None:
        """:meth:`push` without making the skies it decides: :meth:`next_sky` makes them one at a time."""
        m = measured if measured is not None else measure(image, mask)
        sub, sigma, corr, sources = m.sub, m.sigma, m.corr, m.sources
        shift = (0.0, 0.0)
        if self.frames:  # chained through neighbours: drift is slow
            prev = self.frames[-1]
            (px, py), _ = cv2.phaseCorrelate(corr[0], prev.corr[0])
            dx, dy, _ = _match_shift(prev.sources, sources, (px * corr[1], py * corr[1]))
            shift = (prev.shift[0] + dx, prev.shift[1] + dy)
        # the static-star median is of the frames as they are (the star mask measures their sky
        # itself); the residuals' stacks are of background-subtracted frames
        kept = sub if self.residuals else np.asarray(image, dtype=np.float32)
        step = self.frames[-1].scale if self.frames else None
        self.frames.append(_Held.of(self.count, kept, sigma, mask, shift, sources, corr, quantize=self.residuals,
                                    step=step))
        self.pending.append((self.count, payload))
        self.count += 1

    def flush(self) -> list[Sky]:
        return self._ready(final=True)

    def decidable(self, final: bool = False) -> bool:
        """Whether the first frame waiting has its window complete (``final``: no frame follows)."""
        return bool(self.pending) and (final or self._last(self.pending[0][0]) <= self.count - 1)

    def next_sky(self, final: bool = False) -> Sky | None:
        """The :class:`Sky` of the first frame waiting when it is :meth:`decidable`, else None:
        :meth:`push` and :meth:`flush` a frame at a time, the same skies (a caller may then
        detect one frame while the next one's sky is made). Between frames, the frames no later
        window reaches are let go; at the end of a night (``final``) they are kept, as the last
        frames reach back as far as the window holds."""
        if not self.decidable(final):
            return None
        position, payload = self.pending.popleft()
        sky = self._sky(position, payload)
        if not final:
            self._trim()
        return sky

    def prestack(self) -> None:
        """Past-only windows: the order statistics of the next frame's stack (the frames held,
        as they are), made before that frame comes, so a live night (``watch``) spends the wait
        for it rather than the frame's latency. The next frame uses them when none of its others
        is shifted from it by more than ``min_shift`` (:meth:`_sky` checks; otherwise the stack
        is made again, registered), so its residual is the same either way. Nothing to do for a
        centred window, before the third frame or when a held frame is shifted already."""
        self._ahead = None
        if self.after or not self.residuals or self.pending or len(self.frames) < 2:
            return
        group = list(self.frames)
        last = group[-1].shift
        if any(math.hypot(f.shift[0] - last[0], f.shift[1] - last[1]) > self.min_shift for f in group):
            return
        n, step = len(group), _common_step(group)
        if step is None:
            stats = order_stats(n, lambda i, y0, y1: group[i].rows(y0, y1), group[0].sub.shape, ((n - 1) // 2, 0))
        else:
            stats = order_stats(n, lambda i, y0, y1: group[i].sub[y0:y1], group[0].sub.shape, ((n - 1) // 2, 0),
                                dtype=np.int16)
        self._ahead = (tuple(f.position for f in group), stats, step)

    def _last(self, position: int) -> int:
        """The last frame of ``position``'s window: ``after`` frames later, or more for the first
        frames of a night, which have fewer than ``before`` frames before them (centred: the
        ``window`` nearest frames; past-only: at least 2 others)."""
        if self.after:
            return position + self.window - min(position, self.before)
        return position + max(0, 2 - position)

    def _ready(self, final: bool) -> list[Sky]:
        out = []
        while (sky := self.next_sky(final)) is not None:
            out.append(sky)
        self._trim()
        return out

    def _trim(self) -> None:
        first = self.pending[0][0] if self.pending else self.count
        while self.frames and self.frames[0].position < first - self.before:
            self.frames.popleft()  # no later frame's window reaches it

    def _sky(self, position: int, payload: Any) -> Sky:
        me = next(f for f in self.frames if f.position == position)
        last = self._last(position)
        # the `window` nearest frames held (earlier first on a tie): at the end of a night the
        # last frames reach back as far as the window still holds
        others = sorted((f for f in self.frames if f is not me and f.position <= last),
                        key=lambda f: (abs(f.position - position), f.position))[: self.window]
        others.sort(key=lambda f: f.position)
        if len(others) < 2:
            return Sky(payload, None, own=me.rows(0, me.sub.shape[0]))
        shape = me.sub.shape
        # frames held in one step (big frames of a steady night): their stack in steps, int16
        step = _common_step(others + [me]) if self.residuals else None

        def rows(group, in_steps=None):  # float32 bands, or int16 ones in the steps ``in_steps``
            def band_of(i, y0, y1):
                f = group[i]
                dx, dy = f.shift[0] - me.shift[0], f.shift[1] - me.shift[1]
                if math.hypot(dx, dy) > self.min_shift:  # carry frame f onto this frame's pixels
                    b0, b1 = _source_rows(f.sub.shape[0], dy, y0, y1)
                    band = _shifted_rows(f.rows(b0, b1), dx, dy, y0 - b0, y1 - b0)
                    return band if in_steps is None else quantized(band, in_steps)
                return f.rows(y0, y1) if in_steps is None else f.sub[y0:y1]
            return band_of

        residual = median = bad = None
        ahead, self._ahead = self._ahead, None
        if self.residuals:
            n = len(others)
            if (ahead is not None and ahead[0] == tuple(f.position for f in others) and ahead[2] == step
                    and all(math.hypot(f.shift[0] - me.shift[0], f.shift[1] - me.shift[1]) <= self.min_shift
                            for f in others)):
                low, floor = ahead[1]  # made by prestack: the same frames, none of them shifted
            else:
                low, floor = order_stats(n, rows(others, step), shape, ((n - 1) // 2, 0),
                                         dtype=np.float32 if step is None else np.int16)
            if step is None:
                residual = robust_stack(low, floor, me.sigma)  # the static sky, then the residual in its place
                del floor
                for y0 in range(0, shape[0], BAND):
                    np.subtract(me.rows(y0, y0 + BAND), residual[y0:y0 + BAND], out=residual[y0:y0 + BAND])
            else:  # the frame's steps minus the sky's, saturated to int16: what quantizing the float difference gives
                residual = cv2.subtract(me.sub, robust_stack(low, floor, me.sigma / step), dtype=cv2.CV_16S)
                del low, floor
            mask = me.mask
            if mask is not None:
                residual[mask] = 0
            if me.scale is not None and step is None:  # a big frame: held in steps of sigma / QUANTUM until detected
                residual = quantized(residual, me.scale)
        if self.median:
            group = others + [me]
            n = len(group)
            ks = (n // 2,) if n % 2 else (n // 2 - 1, n // 2)
            parts = order_stats(n, rows(group), shape, ks)
            median = parts[0] if n % 2 else 0.5 * (parts[0] + parts[1])
            masks = [m for m in (f.mask for f in group) if m is not None]
            bad = np.logical_or.reduce(masks) if masks else None
        return Sky(payload, residual, median, bad, scale=me.scale)
