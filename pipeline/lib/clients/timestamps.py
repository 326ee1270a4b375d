"""Timestamps as the platform clients read and compare them: aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive ones are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_utc(value: Any) -> datetime | None:
    """An ISO 8601 timestamp from an API record (a trailing `Z` too) as aware UTC; None when the
    value is missing or not a timestamp, for the caller to quarantine or skip."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None
