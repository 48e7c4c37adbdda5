"""Runnable benchmarks: each module prints one table (see benchmarks/README.md)."""
