"""Dagster wiring only: thin declarations over `pipeline.lib`.

The project's `.env` is read here, before any module below reads a setting (the history start,
the platforms' credentials), so every way of loading the definitions (the UI, the command line
tools, the schedules) sees the same settings.
"""

from pipeline.lib.platforms import load_env_file

load_env_file()
