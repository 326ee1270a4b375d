"""API timestamps read as aware UTC; what is not a timestamp reads as None."""

from datetime import UTC, datetime, timedelta, timezone

from pipeline.lib.clients.timestamps import as_utc, parse_utc


def test_timestamps_read_as_aware_utc():
    noon = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_utc("2024-05-01T12:00:00Z") == noon
    assert parse_utc("2024-05-01T14:00:00+02:00") == noon
    assert parse_utc("2024-05-01T12:00:00") == noon  # naive: taken as UTC
    assert as_utc(datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=-4)))) == noon


def test_what_is_not_a_timestamp_reads_as_none():
    assert parse_utc(None) is None
    assert parse_utc(1714564800) is None
    assert parse_utc("yesterday") is None
