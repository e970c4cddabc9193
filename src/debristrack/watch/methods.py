"""The frame loop's methods for frames that arrive one at a time.

``debristrack track`` builds a method from the whole sequence (``make_method(seq, ...)`` of each
mode: the stare window from the cadence, the frame times, the frame shape and plate scale). Live, only the frames seen so far exist, so
:func:`live_method` builds the same method from the first frames (:class:`Deferred` holds
them until there are enough, then feeds them in order) and the rest go through
:func:`~debristrack.pipeline.loop.feed`. Where that must differ from a finished folder:

- sidereal ``matched``: the static sky window (:class:`~debristrack.detect.streaks.static_sky.StaticSky`)
  is past-only: each frame's static sky is the stack of the ``star_stack - 1`` frames before
  it (the first two frames of a night wait for the third), where ``track`` stacks the frames
  around it (half before, half after: its rows come ``star_stack // 2`` frames later, which
  would break the live latency). Every frame gets its static-sky residual; only the window
  is kept in memory;
- stare: the window comes from the cadence of the first two frames (the batch run takes the
  median cadence of all); blocks end every ``window`` frames, and at the finish the last
  ``window`` frames make the last block, as in the batch run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from astropy.table import Table, vstack

from ..errors import InputError
from ..io.sequence import Frame, FrameRef, FrameSequence


class HeldFrames(FrameSequence):
    """A :class:`FrameSequence` over frames already in memory (the first frames of a night)."""

    def __init__(self, frames: list[Frame], where: Path):
        refs = [FrameRef(where / f.name, 0, None, f.name) for f in frames]
        super().__init__(where, refs, [f.header for f in frames], frames[0].data.shape, [f.time for f in frames])
        self._frames = frames

    def __getitem__(self, i: int) -> Frame:
        return self._frames[i]


def _rows(parts) -> Table | None:
    """The parts' rows as one table (an empty one keeps the columns; None when no part)."""
    given = [p for p in parts if p is not None]
    full = [p for p in given if len(p)]
    if not full:
        return given[-1] if given else None
    return full[0] if len(full) == 1 else vstack(full, metadata_conflicts="silent")


class Deferred:
    """A method built once ``needs`` frames have arrived (``build(HeldFrames) -> method``); the
    held frames are then fed in order and the rows they decide are returned together. A night
    of fewer than ``min_frames`` frames is refused at the finish, as ``track`` refuses it."""

    def __init__(self, build, needs: int, where: Path, *, min_frames: int = 1, why: str = ""):
        self.build, self.needs, self.where = build, max(1, int(needs)), where
        self.min_frames, self.why = min_frames, why
        self.held: list[tuple[int, Frame]] = []
        self.method = None
        self.frames = 0

    def _start(self) -> Table | None:
        from ..pipeline.loop import feed

        self.method = self.build(HeldFrames([f for _, f in self.held], self.where))
        rows = _rows(feed(self.method, i, f) for i, f in self.held)
        self.held = []
        return rows

    def step(self, index: int, frame: Frame) -> Table | None:
        from ..pipeline.loop import feed

        self.frames += 1
        if self.method is not None:
            return feed(self.method, index, frame)
        self.held.append((index, frame))
        return self._start() if len(self.held) >= self.needs else None

    def finish(self) -> Table | None:
        if self.frames < self.min_frames:
            raise InputError(f"{self.where}: {self.frames} frame(s); {self.why}")
        early = self._start() if self.method is None else None
        return _rows([early, self.method.finish()])


@dataclass(frozen=True)
class Builder:
    """Builds the mode's method from the first frames (a plain object, so a watch checkpoint
    can pickle the :class:`Deferred` that holds it)."""

    mode: str
    method: str
    config: object
    where: Path

    def __call__(self, seq):
        from ..pipeline import load_mode

        module, method, config = load_mode(self.mode), self.method, self.config
        if self.mode == "stare":
            window = module.sequence_window(seq, method=method, config=config)
            return module.StackMethod(method, config, window=window, n_frames=None)
        if self.mode == "sidereal":
            return module.make_method(seq, method, config, live=True)
        k_max = module.resolve_k_max(config, seq.plate_scale(), str(self.where)) if method == "motionlist" else None
        return module.TargetMethod(method, config, shape=seq.shape, k_max=k_max, pixels=FolderPixels(self.where))


@dataclass(frozen=True)
class FolderPixels:
    """Target mode's ``pixels(index, name)``: a frame read again from the watched folder at the
    finish (the forced measurements), so the method holds no frame's pixels over the night."""

    where: Path

    def __call__(self, index: int, name: str):
        from ..io.sequence import open_sequence
        from .folder import frames_folder

        seq = open_sequence(frames_folder(self.where) / name.split("[")[0])
        for i in range(len(seq)):
            if len(seq) == 1 or seq[i].name == name:
                return seq[i].clean
        raise InputError(f"{frames_folder(self.where) / name}: frame gone before the finish")


def live_method(mode: str, method: str, config, *, where: Path) -> Deferred:
    """The method ``method`` of ``mode`` for live frames (module docstring): stare waits for two
    frames (the window from the cadence), sidereal and target for one (target: the frame shape
    and the plate scale; sidereal ``matched`` keeps its own past-only static sky window)."""
    from ..pipeline import load_mode

    module = load_mode(mode)
    if method not in module.METHODS:
        raise InputError(f"unknown method {method!r} for mode {mode}; choose one of {', '.join(module.METHODS)}")
    least = 1
    if mode == "stare":
        needs, least = (1 if config.window is not None else 2), module.MIN_FRAMES
    elif mode == "sidereal":
        needs = 1
    else:
        needs, least = 1, (3 if method == "motionlist" else 1)
    return Deferred(Builder(mode, method, config, Path(where)), needs, Path(where), min_frames=least,
                    why=f"{method} needs at least {least} frames")
