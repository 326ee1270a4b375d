"""The DuckDB warehouse file: opening it, with a clear message when another program holds it.

Loading raw records into it is `raw_load`'s; the raw and quarantine tables it writes are
`raw_schema`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseLockedError(RuntimeError):
    """Another process holds the warehouse file open for writing."""


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for the length of a `with` block (creating its folder when writing)."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "Could not set lock" not in str(exc):
            raise
        holder = _LOCK_HOLDER.search(str(exc))
        who = f"{holder['program']}, PID {holder['pid']}" if holder else "another process"
        raise WarehouseLockedError(
            f"The warehouse {path} is open in another program ({who}). Close that notebook / "
            "duckdb CLI session (even a read-only one blocks writers; analyse a copy of the "
            "file instead), then run again."
        ) from exc
    try:
        yield con
    finally:
        con.close()
