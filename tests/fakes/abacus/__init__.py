"""Abacus: a tiny source that exists only in tests, to show what adding a source takes.

Its districts are in-memory records; its package is all a source needs (a source, a profile with
its wording, its normalizer), and `rostersync.sources.register(make_profile(...))` is its whole
registration (docs/ARCHITECTURE.md, "Adding a source"). tests/integration/test_test_only_source.py
runs it through the whole night.
"""
