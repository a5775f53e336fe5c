"""Benchmark harnesses (``make bench-access``, ``bench-search``, ``bench-graph``, ``bench-er``).

Each benchmark is a harness module here (``search``, ``graph``, ``er``: data, load, timing) and a
command-line front end in ``commands/``, run by ``python -m tools.bench NAME [options]``.
Results are recorded in ``docs/benchmarks.md``.
"""
