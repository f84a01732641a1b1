"""Benchmarks: each module prints its figures and ends with one summary line (README, Benchmarks).

Run them through their wrappers, `scripts/bench_<name>`, from the repository root.
"""
