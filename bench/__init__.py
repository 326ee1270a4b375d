"""Benchmarks (`make bench`): never part of the tests; each prints what it measured."""
