"""Seeded mesh generator and benchmarks for kumahc (``python -m bench``; see bench/README.md)."""
