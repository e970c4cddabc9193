"""Benchmark runners; each writes its own section of BENCHMARKS.md."""
