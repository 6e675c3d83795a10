"""Benchmarks: each measurement beside a baseline taken in the same run."""
