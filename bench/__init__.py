"""Benchmarks; run one from the repository root, e.g. `python -m bench.kernel`."""
