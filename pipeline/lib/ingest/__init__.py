"""Ingest: raw record specs, loading into the DuckDB warehouse, and order-history CSV files."""
