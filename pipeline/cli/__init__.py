"""Command-line entry points (`make demo`, `make dev`, ...).

Each module has a `main()`, exposed in `[project.scripts]`.
"""
