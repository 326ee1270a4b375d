"""Ingest assets: one per source entity, keyed `[source, table]` like the dbt sources."""
