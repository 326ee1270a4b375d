"""Reusable pipeline logic with no Dagster imports, unit-tested directly."""
