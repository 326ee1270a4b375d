"""KlaviyoClient against the Klaviyo emulator on loopback, and its request shapes on a script."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from pipeline.lib.clients.http import ApiError, RejectedCredentialsError
from pipeline.lib.clients.klaviyo import KlaviyoClient
from tests.lib.clients.sandbox_fixtures import (
    FAULTS,
    FakeClock,
    Reply,
    quiet_session,
    scripted,
    serve,
)

pytestmark = pytest.mark.integration
HISTORY = (datetime(2020, 1, 1), datetime(2025, 1, 1))
N_LISTS = 23  # more than two pages of lists (Klaviyo serves at most 10 per page)


def client(url: str, key: str = "sandbox-key", **kwargs) -> KlaviyoClient:
    return KlaviyoClient(url, key, quiet_session("Klaviyo", "KLAVIYO_API_KEY", **kwargs))


def test_records_carry_no_server_address(everything, sandbox):
    """Two hosts serving the same data must yield identical records (no self links)."""
    assert sandbox.url not in json.dumps(everything["profiles"] + everything["events"][:100])


def by_id(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: r["id"])


def store_rows(view, sql: str) -> list[tuple]:
    with view.cursor() as cur:
        return cur.execute(sql).fetchall()


@pytest.fixture(scope="module")
def sandbox(small_store_view, tmp_path_factory):
    with serve(small_store_view, tmp_path_factory.mktemp("bulk")) as running:
        for n in range(N_LISTS):
            running.ctx.state.create_list(f"List {n}", "single_opt_in", small_store_view.now)
        yield running


@pytest.fixture(scope="module")
def everything(sandbox):
    """Profiles and events of the whole history, read once for the module."""
    klaviyo = client(sandbox.url)
    return {
        "profiles": list(klaviyo.fetch_profiles_updated_between(*HISTORY)),
        "events": list(klaviyo.fetch_events_between(*HISTORY)),
        "pages": klaviyo.session.stats.pages,
    }


def test_profiles_are_read_completely_with_consent(everything, small_store_view):
    profiles = everything["profiles"]
    ids = Counter(p["id"] for p in profiles)
    expected = store_rows(small_store_view, "select profile_id from v_klaviyo_profiles")
    assert set(ids) == {row[0] for row in expected} and max(ids.values()) == 1
    assert all(
        "consent" in p["attributes"]["subscriptions"]["email"]["marketing"] for p in profiles
    )


def test_events_are_read_completely_in_pages_of_a_thousand(everything, small_store_view):
    events = everything["events"]
    (count,) = store_rows(small_store_view, "select count(*) from v_events")[0]
    assert len({e["id"] for e in events}) == len(events) == count
    assert all(e["relationships"]["metric"]["data"]["id"] for e in events)
    profile_pages = -(-len(everything["profiles"]) // 100)
    assert everything["pages"] == profile_pages + -(-count // 1000)


def test_lists_and_metrics_follow_every_next_link(sandbox, small_store_view):
    klaviyo = client(sandbox.url)
    lists = list(klaviyo.fetch_lists())
    assert sorted(item["attributes"]["name"] for item in lists) == sorted(
        f"List {n}" for n in range(N_LISTS)
    )
    assert klaviyo.session.stats.pages == 3
    metrics = list(klaviyo.fetch_metrics())
    expected = store_rows(small_store_view, "select metric_id from v_metrics")
    assert {m["id"] for m in metrics} == {row[0] for row in expected}


def test_adjacent_windows_neither_lose_nor_double_a_record(sandbox, everything, small_store_view):
    (cut_event,) = store_rows(
        small_store_view,
        "select occurred_at from v_events order by occurred_at limit 1 offset 9000",
    )[0]
    (cut_profile,) = store_rows(
        small_store_view,
        "select updated from v_klaviyo_profiles order by updated limit 1 offset 400",
    )[0]
    klaviyo = client(sandbox.url)
    for fetch, cut, key, records in (
        (klaviyo.fetch_events_between, cut_event, "datetime", everything["events"]),
        (klaviyo.fetch_profiles_updated_between, cut_profile, "updated", everything["profiles"]),
    ):
        early, late = list(fetch(HISTORY[0], cut)), list(fetch(cut, HISTORY[1]))
        assert by_id(early + late) == by_id(records)
        stamp = cut.replace(tzinfo=UTC)
        # [start, end): a record stamped exactly at the cut belongs to the later window.
        assert any(datetime.fromisoformat(r["attributes"][key]) == stamp for r in late)
        assert all(datetime.fromisoformat(r["attributes"][key]) < stamp for r in early)


def test_faults_change_nothing_but_the_retry_count(small_store_view, tmp_path, everything, sandbox):
    with serve(small_store_view, tmp_path, faults=FAULTS, seed=5) as faulty:
        klaviyo = client(faulty.url, max_attempts=12)
        profiles = list(klaviyo.fetch_profiles_updated_between(*HISTORY))
        events = list(klaviyo.fetch_events_between(*HISTORY))
    assert by_id(profiles) == by_id(everything["profiles"])
    assert by_id(events) == by_id(everything["events"])
    assert klaviyo.session.stats.retries > 0


def test_rate_limits_are_waited_out(small_store_view, tmp_path, everything, sandbox):
    clock = FakeClock()
    with serve(small_store_view, tmp_path, scale=0.01, clock=clock) as limited:
        klaviyo = client(limited.url, sleep=clock.sleep)
        events = list(klaviyo.fetch_events_between(*HISTORY))
    assert by_id(events) == by_id(everything["events"])
    stats = klaviyo.session.stats
    assert stats.retries > 0 and stats.throttled_seconds >= stats.retries  # Retry-After >= 1 s


def test_a_wrong_key_fails_once_in_plain_words(sandbox):
    klaviyo = client(sandbox.url, key="pk_wrong")
    with pytest.raises(RejectedCredentialsError) as error:
        list(klaviyo.fetch_events_between(*HISTORY))
    assert str(error.value) == "Klaviyo rejected the API key: check KLAVIYO_API_KEY"
    assert klaviyo.session.stats.requests == 1


# -- request shapes on a script ---------------------------------------------------------------


def test_event_filter_uses_unquoted_utc_datetimes_and_is_url_encoded():
    klaviyo = client("https://a.klaviyo.example/api/")
    adapter = scripted(klaviyo.session, [Reply(200, {"data": [], "links": {"next": None}})])
    paris = timezone(timedelta(hours=1))
    list(klaviyo.fetch_events_between(datetime(2024, 1, 1, 1, tzinfo=paris), datetime(2024, 1, 2)))

    [request] = adapter.requests
    url = urlsplit(request.url)
    assert url.path == "/api/events"
    assert "%2B00%3A00" in url.query  # a bare '+' would arrive as a space
    assert parse_qs(url.query)["filter"] == [
        "greater-or-equal(datetime,2024-01-01T00:00:00+00:00),"
        "less-than(datetime,2024-01-02T00:00:00+00:00)"
    ]
    assert request.headers["revision"] == "2026-07-15"
    assert request.headers["Authorization"] == "Klaviyo-API-Key sandbox-key"


def test_profiles_updated_just_before_the_window_are_dropped():
    klaviyo = client("https://a.klaviyo.example")
    page = {
        "data": [
            {"id": "early", "attributes": {"updated": "2024-01-01T23:59:59.500000+00:00"}},
            {"id": "start", "attributes": {"updated": "2024-01-02T00:00:00+00:00"}},
            {"id": "garbled", "attributes": {"updated": "not-a-timestamp"}},
        ],
        "links": {},
    }
    adapter = scripted(klaviyo.session, [Reply(200, page)])
    found = klaviyo.fetch_profiles_updated_between(datetime(2024, 1, 2), datetime(2024, 1, 3))

    assert [p["id"] for p in found] == ["start", "garbled"]
    query = parse_qs(urlsplit(adapter.requests[0].url).query)
    # `updated` accepts only greater-than / less-than, so the request starts a second early.
    assert query["filter"] == [
        "greater-than(updated,2024-01-01T23:59:59+00:00),less-than(updated,2024-01-03T00:00:00+00:00)"
    ]
    assert query["additional-fields[profile]"] == ["subscriptions"]
    assert query["page[size]"] == ["100"]


def test_a_next_link_to_another_host_is_not_followed():
    klaviyo = client("https://a.klaviyo.example")
    page = {"data": [{"id": "1"}], "links": {"next": "https://elsewhere.example/api/metrics"}}
    adapter = scripted(klaviyo.session, [Reply(200, page)])
    with pytest.raises(ApiError, match="another host"):
        list(klaviyo.fetch_metrics())
    assert len(adapter.requests) == 1


def test_an_answer_without_data_is_an_error():
    klaviyo = client("https://a.klaviyo.example")
    scripted(klaviyo.session, [Reply(200, {"errors": []})])
    with pytest.raises(ApiError, match="without a list of data"):
        list(klaviyo.fetch_lists())
