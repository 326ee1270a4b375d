"""Source records as Arrow batches of canonical JSON text, the input of `record_sql.staging_sql`.

Grain: one Arrow row per source record, in the order the source yielded them (`_ord`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

# Bounds a batch's memory when records are large (orders with hundreds of line items).
_MAX_BATCH_BYTES = 256 * 2**20


def record_batches(records: Iterable[Any], size: int) -> Iterator[pa.Table]:
    """Records as Arrow batches of (`_ord`, `_error`, `record`): the input `staging_sql` reads.

    The text is canonical JSON (keys sorted, compact), so equal records are equal text whatever
    order a source sent the fields in. NaN, which JSON cannot hold, becomes null; a record that
    cannot be JSON at all (a Decimal, a non-string key) gets an `_error` and its repr instead.
    """
    texts: list[bytes] = []
    errors: dict[int, str] = {}
    volume = 0
    for record in records:
        try:
            text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            # Quarantined with what can be shown of it, never dropped.
            errors[len(texts)] = "record is not JSON-serialisable"
            text = orjson.dumps(repr(record))
        texts.append(text)
        volume += len(text)
        if len(texts) == size or volume >= _MAX_BATCH_BYTES:
            yield _arrow(texts, errors)
            texts, errors, volume = [], {}, 0
    if texts:
        yield _arrow(texts, errors)


def _arrow(texts: list[bytes], errors: dict[int, str]) -> pa.Table:
    # One buffer and an offsets array: far cheaper than converting each Python string, and safe
    # because orjson only ever writes valid UTF-8.
    n = len(texts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=n), out=offsets[1:])
    record = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(b"".join(texts))
    )
    error = pa.array([errors.get(i) for i in range(n)] if errors else pa.nulls(n, pa.string()))
    return pa.table({"_ord": pa.array(np.arange(n)), "_error": error, "record": record})
