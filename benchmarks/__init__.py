"""Reproducible benchmarks; each module runs as a script and prints its numbers."""
