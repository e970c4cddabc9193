"""The pipeline: one frame loop (:mod:`.loop`) driving one method object (:mod:`.methods`).

The observing modes (:mod:`.sidereal`, :mod:`.stare`, :mod:`.target`) hold each mode's
config, its method names and ``track_sequence``; every caller (``debristrack track``, the
benchmarks, the demo, ``watch``) runs a method through :func:`.loop.run_method`.
"""
