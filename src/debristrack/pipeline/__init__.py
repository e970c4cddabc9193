"""The pipeline: one frame loop (:mod:`.loop`) driving one method object.

Each observing mode (:mod:`.sidereal`, :mod:`.stare`, :mod:`.target`) holds its config, its
method names, its method classes and ``track_sequence``; every caller (``debristrack track``,
the benchmarks, the demo, ``watch``) runs a method through :func:`.loop.run_method` (or
:func:`.loop.feed` for frames arriving one at a time).
"""
