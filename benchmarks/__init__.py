"""Benchmarks of avatar-merge; run them with `python -m benchmarks.run` (see README.md)."""
