"""Records fetched from a platform, held in a temporary file until the warehouse is free.

Paging through an API can take minutes (rate limits, slow answers, retries). Loading straight
from the pages would hold the warehouse open for writing all that time, and DuckDB lets only one
process write: every other writer (another run, the CSV import, an erasure) would be locked out
by a slow platform. So ingest fetches everything into a spool first, then opens the warehouse
only to load what it fetched.

Grain: one entry per fetched record, in fetch order, exactly as fetched (pickled, so a value the
loader will quarantine as not JSON-serialisable reaches it unchanged). The file lives in the
system's temporary folder (or `directory`) and is deleted when the spool closes.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


class RecordSpool:
    """The records of one fetch, readable as often as needed while the spool is open."""

    def __init__(self, file: BinaryIO, count: int) -> None:
        self._file = file
        self.count = count

    def __iter__(self) -> Iterator[dict]:
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)

    def __len__(self) -> int:
        return self.count


@contextmanager
def spooled(records: Iterable[dict], directory: Path | None = None) -> Iterator[RecordSpool]:
    """Fetch every record of `records` into a temporary file, then yield them as a spool.

    The fetch finishes (or fails) before the block starts, so a platform error never reaches
    the warehouse half-way through a load."""
    with tempfile.TemporaryFile(prefix="foresight-fetch-", dir=directory) as file:
        count = 0
        for record in records:
            pickle.dump(record, file, protocol=pickle.HIGHEST_PROTOCOL)
            count += 1
        file.flush()
        yield RecordSpool(file, count)
