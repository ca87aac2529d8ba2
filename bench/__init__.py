"""Benchmarks of orchestrate: `make bench` writes docs/BENCHMARKS.md."""
