"""A shop's order-history CSV export, read as raw records for `raw_files.orders`.

Grain: one record per data row, i.e. one order. A record holds every column of the row (header
names trimmed, lower-cased, spaces and hyphens turned into `_`; empty cells as null), so unknown
columns travel along in the raw JSON. Two values are normalised:

- `ordered_at` becomes ISO 8601 in UTC ("2024-03-05T14:30:00Z") when it parses with the file's date
  format; values without an offset are taken as UTC. A value that does not parse is passed through
  as written, and `load_records` quarantines that row with the reason.
- `order_id`, when the file has no such column, is derived from the row: a hash of customer_id,
  ordered_at and total and product as written, plus how many identical rows came before it. Two
  genuinely identical purchases keep two keys, and importing the same file again gives the same
  keys, so a re-import changes nothing.

The file is checked before anything is returned (it exists, has the required columns, and its
dates fit one format), then streamed in chunks, so a multi-gigabyte export never sits in memory.
Per-row problems (a non-numeric total, one bad date, an empty customer_id) are not errors here:
those rows reach the quarantine with their reason.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

REQUIRED_COLUMNS = ("customer_id", "ordered_at", "total")
OPTIONAL_COLUMNS = ("order_id", "email", "currency", "quantity", "product", "category")
CHUNK_ROWS = 100_000

# Formats tried when none is given, each with and without a time of day. Both day-first and
# month-first are candidates; a file whose sampled dates fit both equally is refused as ambiguous.
_DAY_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%Y/%m/%d")
_TIMES = ("", " %H:%M", " %H:%M:%S")
_DATE_FORMATS = ("ISO8601", *(day + time for day in _DAY_FORMATS for time in _TIMES))
_SAMPLE_ROWS = 1_000
# Most sampled dates must parse; fewer means the format is wrong, not that a few rows are dirty.
_MIN_PARSED_SHARE = 0.5


class CsvOrdersError(ValueError):
    """The order CSV cannot be imported as a whole (missing, unreadable, wrong columns or dates)."""


def read_order_csv(
    path: Path | str, *, date_format: str | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[dict]:
    """Records of an order CSV, checked up front and then streamed.

    `date_format` is a strftime format for `ordered_at` (e.g. "%d/%m/%Y %H:%M"); without it the
    format is inferred from the first rows (ISO 8601 and common day/month orders).
    """
    path = Path(path)
    if not path.is_file():
        raise CsvOrdersError(f"Order CSV not found: {path}")
    chunks = _chunks(path, chunk_rows)
    first = _next_chunk(path, chunks)
    first.columns = _column_names(path, list(first.columns))
    dates = first["ordered_at"].str.strip()
    date_format = _check_format(path, dates, date_format) if date_format else _infer(path, dates)
    return _records(path, itertools.chain([first], chunks), date_format)


def _chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    # Spreadsheets in many locales export with ';' (or tabs); the header line tells which.
    separator = max(",;\t", key=header.count)
    try:
        yield from pd.read_csv(
            path,
            sep=separator,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            chunksize=chunk_rows,
        )
    except pd.errors.EmptyDataError as exc:
        raise CsvOrdersError(f"Order CSV {path} is empty") from exc
    except UnicodeDecodeError as exc:
        raise CsvOrdersError(
            f"Order CSV {path} is not UTF-8 text (byte {exc.start}); export it as UTF-8"
        ) from exc
    except pd.errors.ParserError as exc:
        raise CsvOrdersError(f"Order CSV {path} could not be parsed: {exc}") from exc


def _next_chunk(path: Path, chunks: Iterator[pd.DataFrame]) -> pd.DataFrame:
    first = next(chunks, None)
    if first is None:
        raise CsvOrdersError(f"Order CSV {path} is empty")
    return first


def _column_names(path: Path, found: list[str]) -> list[str]:
    names = [re.sub(r"[\s\-]+", "_", name.strip().lower()) for name in found]
    repeated = sorted(name for name, n in Counter(names).items() if n > 1)
    if repeated:
        raise CsvOrdersError(f"Order CSV {path} has the column(s) {', '.join(repeated)} twice")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise CsvOrdersError(
            f"Order CSV {path} is missing the required column(s) {', '.join(missing)}; "
            f"found: {', '.join(found)}. Required: {', '.join(REQUIRED_COLUMNS)}; "
            f"optional: {', '.join(OPTIONAL_COLUMNS)}."
        )
    return names


def _parse(values: pd.Series, date_format: str) -> pd.Series:
    return pd.to_datetime(values, format=date_format, errors="coerce", utc=True)


def _sample(dates: pd.Series) -> pd.Series:
    return dates[dates != ""].head(_SAMPLE_ROWS)


def _show(dates: pd.Series, parsed: pd.Series) -> str:
    """The first value that did not parse, and where; never an email address, should the
    columns be mixed up."""
    index = parsed.index[parsed.isna()][0]
    value = dates[index]
    shown = "(an email address)" if "@" in value else repr(value[:40])
    return f"{shown} on line {index + 2}"


def _check_format(path: Path, dates: pd.Series, date_format: str) -> str:
    sample = _sample(dates)
    parsed = _parse(sample, date_format)
    if len(sample) and parsed.notna().mean() < _MIN_PARSED_SHARE:
        raise CsvOrdersError(
            f"Order CSV {path}: ordered_at does not match the date format {date_format!r}; "
            f"for example {_show(sample, parsed)}. Pass the format the file uses."
        )
    return date_format


def _infer(path: Path, dates: pd.Series) -> str:
    sample = _sample(dates)
    if sample.empty:
        return "ISO8601"
    tried = {fmt: _parse(sample, fmt) for fmt in _DATE_FORMATS}
    best = max(parsed.notna().sum() for parsed in tried.values())
    fits = [fmt for fmt, parsed in tried.items() if parsed.notna().sum() == best]
    if best < _MIN_PARSED_SHARE * len(sample):
        raise CsvOrdersError(
            f"Order CSV {path}: could not recognise the date format of ordered_at (tried ISO 8601 "
            f"and {', '.join(_DAY_FORMATS)}, with and without a time); for example "
            f"{_show(sample, tried['ISO8601'])}. Pass date_format, e.g. '%d/%m/%Y %H:%M'."
        )
    if any(not tried[fmt].equals(tried[fits[0]]) for fmt in fits[1:]):
        raise CsvOrdersError(
            f"Order CSV {path}: the dates in ordered_at fit both {fits[0]!r} and {fits[1]!r}; "
            "pass date_format to say which."
        )
    return fits[0]


def _records(path: Path, chunks: Iterator[pd.DataFrame], date_format: str) -> Iterator[dict]:
    seen: Counter[bytes] = Counter()
    for chunk in chunks:
        chunk.columns = _column_names(path, list(chunk.columns))
        chunk = chunk.apply(lambda column: column.str.strip())
        written = chunk["ordered_at"]
        parsed = _parse(written, date_format)
        chunk["ordered_at"] = parsed.dt.strftime("%Y-%m-%dT%H:%M:%SZ").where(
            parsed.notna(), written
        )
        names = list(chunk.columns)
        derive = "order_id" not in names
        rows = zip(*(chunk[name].tolist() for name in names), written.tolist(), strict=True)
        for *values, ordered_at in rows:
            record = {name: value or None for name, value in zip(names, values, strict=True)}
            if derive:
                record["order_id"] = _derived_key(record, ordered_at, seen)
            yield record


def _derived_key(record: dict, ordered_at: str, seen: Counter[bytes]) -> str:
    fields = (record["customer_id"], ordered_at, record["total"], record.get("product"))
    row = hashlib.blake2b("\x1f".join(v or "" for v in fields).encode(), digest_size=16).digest()
    occurrence = seen[row]
    seen[row] += 1
    return "derived:" + hashlib.blake2b(row + str(occurrence).encode(), digest_size=16).hexdigest()
