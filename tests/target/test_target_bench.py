"""The target benchmark's pieces on tiny sequences (the full run is `debristrack bench target`)."""

import argparse

from debristrack.bench import target as bench
from debristrack.pipeline.target import METHODS, Config


def test_benchmark_pieces_produce_the_report(tmp_path):
    scene = bench._scene(7000, 1.5, 256, 6)
    gt, results = bench.run_sequence(scene, 5, Config(), bench._k_max(1.5))
    assert set(results) == set(METHODS)
    tallies = {m: bench.Tally() for m in METHODS}
    for m, (pred, secs) in results.items():
        tallies[m].add(gt, pred, secs, 6)
    assert tallies["motionlist"].figures.n_true == len(gt)
    speed = bench.speed_run(256, 30, 3, 1, Config())
    assert speed["end_to_end"] > 0 and speed["sources"] > 0
    args = argparse.Namespace(quick=True)
    text = bench._report(args, tallies, [(7000, 1.5, tallies)], speed, 256, 6, 1)
    assert "| `motionlist` |" in text and "| `nearest` |" in text and "s per frame" in text
    assert bench._k_max(0.5) == 2.0 and bench._k_max(3.0) == 6.0
