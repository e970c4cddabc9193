"""The streamed static sky (detect/streaks/static_sky.py) and its place in the sidereal methods."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from debristrack.detect.streaks.background import subtract_background
from debristrack.detect.streaks.static_sky import StaticSky, order_stats


def sky_frames(n: int, *, size: int = 96, drift: float = 0.0, seed: int = 0) -> list[np.ndarray]:
    """Noise (sigma 10) on a fixed star field, shifted by ``drift`` px per frame in x, with a
    streak moving 12 px per frame."""
    rng = np.random.default_rng(seed)
    stars = rng.uniform(8, size - 8, (12, 2))
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    frames = []
    for k in range(n):
        img = 1000.0 + rng.normal(0, 10.0, (size, size))
        for x, y in stars:
            img += 400.0 * np.exp(-((xx - x - k * drift) ** 2 + (yy - y) ** 2) / (2 * 1.2 ** 2))
        line = np.zeros((size, size))
        x0 = 5 + 12 * k
        line[30, x0:x0 + 10] = 1.0
        img += 300.0 * ndimage.gaussian_filter(line, 1.2)
        frames.append(img.astype(np.float32))
    return frames


def reference(frames, window: int, shifts=None) -> list[np.ndarray | None]:
    """Whole-sequence static sky residuals, written out plainly: frame minus the robust stack
    (lower median, minimum where a slow streak covers most) of its ``window`` nearest frames
    (earlier first on a tie), registered with ``shifts`` (true shifts, px) when given."""
    n = len(frames)
    subs = [subtract_background(f, None) for f in frames]
    out = []
    for i in range(n):
        others = sorted((j for j in range(n) if j != i), key=lambda j: (abs(j - i), j))[:window]
        stack = []
        for j in others:
            img = subs[j][0]
            if shifts is not None:
                img = ndimage.shift(img, (0.0, shifts[i] - shifts[j]), order=1, mode="grid-constant")
            stack.append(img)
        stack = np.stack(stack)
        k = (len(others) - 1) // 2
        low, floor = np.partition(stack, k, axis=0)[k], stack.min(axis=0)
        sky = np.where(low - floor > 5.0 * subs[i][1], floor, low)
        out.append((subs[i][0] - sky).astype(np.float32))
    return out


def streamed(frames, window: int, **kw) -> tuple[list, list[int]]:
    sky = StaticSky(window, **kw)
    got, held = [], []
    for k, f in enumerate(frames):
        got += sky.push(f, None, k)
        held.append(sky.held)
    got += sky.flush()
    assert [s.payload for s in got] == list(range(len(frames)))  # every frame, once, in order
    return [s.static_residual() for s in got], held


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
@pytest.mark.parametrize("n", [2, 3, 5, 9])
def test_order_stats_equal_numpy_partition(n, dtype):
    rng = np.random.default_rng(n)
    images = [(300 * rng.normal(size=(70, 33))).astype(dtype) for _ in range(n)]
    ks = tuple(sorted({0, (n - 1) // 2, n - 1}))
    got = order_stats(n, lambda i, y0, y1: images[i][y0:y1], (70, 33), ks, band=16, dtype=dtype)
    stack = np.stack(images)
    for k, g in zip(ks, got):
        np.testing.assert_array_equal(g, np.partition(stack, k, axis=0)[k])


def test_streamed_static_sky_equals_the_whole_sequence_reference():
    frames = sky_frames(11)
    # a night the window holds whole (at most `window` frames): every frame as the reference
    got, _ = streamed(frames[:10], 10)
    for g, r in zip(got, reference(frames[:10], 10)):
        np.testing.assert_array_equal(g, r)
    # a longer night: the same, except the last window // 2 frames, which reach back only as
    # far as the window holds (ceil(window / 2) frames before the first of them)
    got, _ = streamed(frames, 4)
    ref = reference(frames, 4)
    for k, (g, r) in enumerate(zip(got, ref)):
        if k < len(frames) - 2:
            np.testing.assert_array_equal(g, r)
        else:
            assert not np.array_equal(g, r) and np.std(g - r) < 5.0  # one other fewer, same sky
    # the stars are gone, the streak stays
    stars = subtract_background(frames[5], None)[0]
    assert stars[40:].max() > 300 and np.abs(got[5][40:]).max() < 70 < got[5][30, 67:73].mean()


def test_streamed_static_sky_registers_drifting_frames():
    drift = 0.7
    frames = sky_frames(9, drift=drift)
    got, _ = streamed(frames, 4)
    ref = reference(frames, 4, shifts=[k * drift for k in range(9)])
    for g, r in list(zip(got, ref))[:-2]:  # the last two have one other fewer (test above)
        inner = (slice(10, -10), slice(10, -10))  # the edges repeat differently
        assert np.std(g[inner] - r[inner]) < 2.0  # noise is 10: the same registration to a few % of it
    unregistered = [s[0] for s in map(lambda f: subtract_background(f, None), frames)]
    assert np.abs(got[4][40:, :]).max() < 0.5 * np.abs(unregistered[4] - unregistered[3])[40:, :].max()


@pytest.mark.parametrize("window", [4, 10])
def test_skies_made_one_at_a_time_are_those_of_push_and_flush(window):
    # the frame loop makes one sky at a time (next_sky), each while the frame before is detected
    frames = sky_frames(12)
    eager, _ = streamed(frames, window)
    sky, got, decided = StaticSky(window), [], []
    for k, f in enumerate(frames):
        sky.add(f, None, k)
        n = 0
        while sky.decidable():
            got.append(sky.next_sky())
            n += 1
        decided.append(n)
        assert sky.next_sky() is None
    while sky.decidable(final=True):
        got.append(sky.next_sky(final=True))
    assert not sky.pending and sky.next_sky(final=True) is None
    assert [s.payload for s in got] == list(range(12))
    ref = reference(frames, window)
    for k, (a, b) in enumerate(zip(got, eager)):
        np.testing.assert_array_equal(a.static_residual(), b)
        if k < len(frames) - window // 2:  # the last ones reach back only as far as the window holds
            np.testing.assert_array_equal(b, ref[k])
    # a night's first window decides several frames at once (the loop makes them one by one)
    assert max(decided) == window // 2 + 1


def test_window_memory_does_not_grow_with_the_night():
    frames = sky_frames(6, size=48)
    for centred in (True, False):
        sky = StaticSky(4, centred=centred)
        held, waiting = [], []
        for k in range(40):  # a long night of repeated frames
            sky.push(frames[k % 6], None, k)
            held.append(sky.held)
            waiting.append(len(sky.pending))
        # the window's 4 frames between pushes (the next one's stack, less the frame to come), never more
        assert max(held) == held[-1] == 4
        assert max(waiting[4:]) == (2 if centred else 0)  # frames waiting for the frames after them


def test_past_only_window_gives_each_frame_at_once_after_the_first_two():
    frames = sky_frames(8)
    sky = StaticSky(4, centred=False)
    ready = [[s.payload for s in sky.push(f, None, k)] for k, f in enumerate(frames)]
    assert ready[:3] == [[], [], [0, 1, 2]] and all(r == [k] for k, r in enumerate(ready) if k >= 3)


def _frame(img, k):
    from astropy.io import fits

    header = fits.Header({"DATE-OBS": f"2025-01-15T18:00:{2 * k:02d}", "EXPTIME": 1.0})
    return SimpleNamespace(clean=img, mask=np.zeros(img.shape, bool), header=header, data=img)


def test_watch_gets_a_static_sky_residual_for_every_frame_after_the_second():
    """Live (past-only window): every frame from the third on is detected on its residual as
    soon as it comes, long after the first star_stack frames; the first two when the third
    comes."""
    from debristrack.pipeline import sidereal

    config = sidereal.Config()
    frames = [_frame(img, k) for k, img in enumerate(sky_frames(3 * config.filter.star_stack))]
    seq = [frames[0]]  # watch builds the method from the first frame

    class Seq(list):
        def require(self, n, why):
            pass

    method = sidereal.make_method(Seq(seq), "matched+physical", config, live=True)
    seen = []
    detect = method.detect_soft  # the physical linker's detection (trails and rejected candidates)
    method.detect_soft = lambda frame, sky=None: (seen.append(sky is not None and sky.residual is not None),
                                                  detect(frame, sky))[1]
    done = []
    for k, f in enumerate(frames):
        method.step(k, f)
        done.append(len(seen))
    assert done[:3] == [0, 0, 3] and done[3:] == list(range(4, len(frames) + 1))
    assert all(seen) and len(seen) == len(frames)
    assert method.sky.held <= config.filter.star_stack  # star_stack - 1 others and the frame


@pytest.mark.parametrize("drift", [0.0, 0.7])
def test_big_frames_are_held_as_int16_steps_of_sigma(monkeypatch, drift):
    """Frames of QUANTIZE_PIXELS or more are held as int16 (half the memory), and so is each
    residual until it is detected (a night's first frames come five at once): the residual is
    the float32 one to within the steps (sigma / 8), and the bright stars (+-4096 sigma) fit;
    also when the frames are registered (shifted, then put in the night's steps again)."""
    from debristrack.detect.streaks import static_sky

    frames = sky_frames(7, drift=drift)
    exact, _ = streamed(frames, 4)
    monkeypatch.setattr(static_sky, "QUANTIZE_PIXELS", 0)
    sky = StaticSky(4)
    sky.push(frames[0], None, 0)
    assert sky.frames[0].sub.dtype == np.int16
    got, _ = streamed(frames, 4)
    step = 10.0 / 8  # the noise is 10
    sky = StaticSky(4)
    held = [r for k, f in enumerate(frames) for r in sky.push(f, None, k)] + sky.flush()
    assert all(r.residual.dtype == np.int16 for r in held if r.residual is not None)
    for g, e in zip(got, exact):  # half a step each from the frame, its stack and the residual held
        assert np.abs(g - e).max() <= 1.51 * step and 0 < np.std(g - e) < 0.6 * step


def test_frames_in_one_step_are_stacked_as_int16_with_the_float_stacks_residual(monkeypatch):
    """A steady night's big frames share one step (their noise within STEP_TOL), so their
    stack is made of the int16 steps themselves: the same residual, step for step, as the
    float32 stack of the same held frames; a frame whose noise jumps (a cloud) gets a step of
    its own and its neighbours' stacks fall back to float32, still right to within the steps."""
    from debristrack.detect.streaks import static_sky

    monkeypatch.setattr(static_sky, "QUANTIZE_PIXELS", 0)
    frames = sky_frames(9)
    noisy = 1000.0 + (frames[5] - 1000.0) + np.random.default_rng(3).normal(0, 20.0, frames[5].shape)
    frames[5] = noisy.astype(np.float32)  # noise 22: beyond 1.25 x the night's 10

    def held_residuals():
        sky, out, steps = StaticSky(4), [], []
        for k, f in enumerate(frames):
            out += sky.push(f, None, k)
            steps.append(sky.frames[-1].scale)
        return out + sky.flush(), steps

    fast, steps = held_residuals()
    assert steps[5] > 2 * steps[4] and len(set(steps[:5])) == len(set(steps[6:])) == 1  # its own step
    monkeypatch.setattr(static_sky, "_common_step", lambda frames: None)  # float32 stacks only
    slow, _ = held_residuals()
    for a, b in zip(fast, slow):
        assert a.residual.dtype == np.int16 and a.scale == b.scale
        np.testing.assert_array_equal(a.residual, b.residual)
    monkeypatch.setattr(static_sky, "QUANTIZE_PIXELS", 10 ** 9)
    exact, _ = streamed(frames, 4)
    for a, e in zip(fast, exact):  # half a step each from the frame, its stack and the residual,
        d = np.abs(a.static_residual() - e)  # but for a few pixels at the robust stack's switch
        off = d > 1.51 * 22.4 / 8  # (lower median - minimum at 5 sigma, with the noisy frame the minimum)
        assert np.count_nonzero(off) <= 0.002 * d.size and np.all((d[off] > 40) & (d[off] < 60))


def test_a_nights_frames_share_a_step_while_their_noise_stays_within_tolerance():
    from debristrack.detect.streaks.static_sky import QUANTUM, STEP_TOL, common_step

    first = common_step(None, 10.0)
    assert first == 10.0 / QUANTUM
    assert common_step(first, 10.0 * STEP_TOL * 0.99) == first == common_step(first, 10.0 / STEP_TOL / 0.99)
    assert common_step(first, 10.0 * STEP_TOL * 1.01) == 10.0 * STEP_TOL * 1.01 / QUANTUM


def test_quantized_rounds_to_the_nearest_step_and_saturates():
    from debristrack.detect.streaks.static_sky import quantized, unquantized

    a = np.float32([[0.26, -0.24, 1.0, -1.01, 1e9, -1e9]])
    q = quantized(a, 0.5)
    assert q.dtype == np.int16 and q.tolist() == [[1, 0, 2, -2, 32767, -32768]]
    assert np.allclose(unquantized(q[:, :4], 0.5), [[0.5, 0.0, 1.0, -1.0]])


def _star_field(n_stars: int, flux: tuple[float, float], size: int = 400, seed: int = 5) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    img = rng.normal(0.0, 10.0, (size, size))
    for (x, y), f in zip(rng.uniform(6, size - 6, (n_stars, 2)), rng.uniform(*flux, n_stars)):
        img += f * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.1 ** 2))
    return img.astype(np.float32), 10.0


def test_registration_sources_reuse_the_psf_extraction_only_when_it_holds_enough(monkeypatch):
    """A crowded frame's 300 brightest sources come from its 10-sigma extraction (no second
    sep pass); a sparse field's come from an 8-sigma one, whose faint stars its shift needs."""
    from debristrack.detect.streaks import static_sky

    calls = []
    real = static_sky.bright_objects
    monkeypatch.setattr(static_sky, "bright_objects", lambda *a, **k: calls.append(k.get("thresh", 10.0)) or real(*a, **k))
    crowded, sigma = _star_field(700, (300.0, 3000.0))
    m = static_sky.measure(crowded, None)
    assert calls == [10.0] and len(m.sources) == static_sky.SOURCES
    calls.clear()
    sparse, _ = _star_field(40, (150.0, 250.0))  # faint stars: half of them under 10 sigma after sep's filter
    m = static_sky.measure(sparse, None)
    assert calls == [10.0, static_sky.SOURCE_SNR]
    assert len(m.sources) > len(static_sky.brightest(m.objects, static_sky.SOURCES)) > 0


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("drift", [0.0, 0.6])
def test_stack_made_ahead_gives_the_same_residuals(monkeypatch, drift, big):
    """A past-only window's next stack made before the frame comes (watch's wait) is used when
    none of the frames is shifted from the new one; otherwise the stack is made again,
    registered: the residuals equal those of a window that never stacks ahead (also for big
    frames, held and stacked in int16 steps)."""
    from debristrack.detect.streaks import static_sky

    if big:
        monkeypatch.setattr(static_sky, "QUANTIZE_PIXELS", 0)
    frames = sky_frames(8, drift=drift)
    plain, _ = streamed(frames, 4, centred=False)
    calls = []
    real = static_sky.order_stats
    monkeypatch.setattr(static_sky, "order_stats", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    sky = StaticSky(4, centred=False)
    got, in_sky = [], 0
    for k, f in enumerate(frames):
        before = len(calls)
        got += sky.push(f, None, k)
        in_sky += len(calls) - before  # stacks made when the frame came
        sky.prestack()
    got += sky.flush()
    ahead = [s.static_residual() for s in got]
    for a, b in zip(ahead, plain):
        assert (a is None and b is None) or np.array_equal(a, b)
    if drift == 0.0:
        assert in_sky == 3  # the first three frames' (the first two wait for the third); every later one made ahead
    else:
        assert in_sky == len(frames)  # 0.6 px a frame: every stack registered to its frame, when it comes
