"""Dagster wiring only: thin declarations over `pipeline.lib`."""
