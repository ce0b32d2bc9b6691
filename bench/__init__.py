"""Benchmarks: `python -m bench.run [--quick]` runs every bench/bench_*.py module."""
