"""Benchmarks: how fast the gateway is, always as a ratio against a baseline of the same run.

``python -m bench`` (or ``make bench``) runs every benchmark on SQLite and on the local
PostgreSQL; ``python -m bench.<name>`` runs one. Results go to ``bench/results.json``, merged by
benchmark name and database, and are printed as a table. See ``bench/harness.py`` for the rules
every benchmark follows.
"""
