"""Mailchimp as a source, against the emulator over the small store: the activity a client reads
equals, person by person, what the Klaviyo emulator serves from the same simulated behaviour;
windows split the activity without losing or repeating any; member and campaign windows hold."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from pipeline.lib.clients.klaviyo import KlaviyoClient
from pipeline.lib.clients.mailchimp import MailchimpClient
from tests.lib.clients.sandbox_fixtures import quiet_session

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KLAVIYO_TYPES = {
    "Received Email": "received",
    "Opened Email": "opened",
    "Clicked Email": "clicked",
    "Bounced Email": "bounced",
    "Unsubscribed from Email Marketing": "unsubscribed",
    "Marked Email as Spam": "unsubscribed",
}
MAILCHIMP_TYPES = {"open": "opened", "click": "clicked", "bounce": "bounced"}


@pytest.fixture(scope="module")
def mailchimp(sandbox):
    session = quiet_session("Mailchimp", "MAILCHIMP_API_KEY")
    return MailchimpClient(f"{sandbox.url}/3.0", "sandbox-key", session)


@pytest.fixture(scope="module")
def list_id(mailchimp):
    return mailchimp.find_audience()["id"]


@pytest.fixture(scope="module")
def now(small_store_view):
    return small_store_view.now.replace(tzinfo=UTC)


def mailchimp_counts(records) -> Counter:
    """(email, kind) -> count, a send counting as received unless that recipient bounced."""
    records = list(records)
    bounced = {(r["campaign_id"], r["email_id"]) for r in records if r["action"] == "bounce"}
    counts: Counter = Counter()
    for r in records:
        if r["action"] == "sent":
            if (r["campaign_id"], r["email_id"]) not in bounced:
                counts[(r["email_address"], "received")] += 1
        elif r["action"] == "unsubscribe":
            counts[(r["email_address"], "unsubscribed")] += 1
        else:
            counts[(r["email_address"], MAILCHIMP_TYPES[r["action"]])] += 1
    return counts


def test_activity_counts_equal_the_klaviyo_events_per_person(sandbox, mailchimp, list_id, now):
    klaviyo = KlaviyoClient(sandbox.url, "sandbox-key", quiet_session("Klaviyo", "KLAVIYO_API_KEY"))
    metrics = {m["id"]: m["attributes"]["name"] for m in klaviyo.fetch_metrics()}
    emails = {
        p["id"]: (p["attributes"].get("email") or "").strip().lower()
        for p in klaviyo.fetch_profiles_updated_between(EPOCH, now)
    }
    expected: Counter = Counter()
    for event in klaviyo.fetch_events_between(EPOCH, now):
        kind = KLAVIYO_TYPES.get(metrics[event["relationships"]["metric"]["data"]["id"]])
        if kind:
            expected[(emails[event["relationships"]["profile"]["data"]["id"]], kind)] += 1

    served = mailchimp_counts(mailchimp.fetch_email_activity_between(list_id, EPOCH, now))

    assert {kind for _, kind in expected} == set(KLAVIYO_TYPES.values())
    assert sum(expected.values()) > 1000
    assert served == expected


def test_daily_windows_read_each_activity_exactly_once(mailchimp, list_id, now):
    start = now - timedelta(days=8)
    whole = list(mailchimp.fetch_email_activity_between(list_id, start, now, lookback_days=14))
    days = [start + timedelta(days=i) for i in range(9)]
    by_day = [
        record
        for low, high in pairwise(days)
        for record in mailchimp.fetch_email_activity_between(list_id, low, high, lookback_days=14)
    ]
    ids = [r["id"] for r in by_day]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(r["id"] for r in whole)
    assert {r["action"] for r in whole} >= {"sent", "open", "click"}
    # Re-reading a window gives the same records, so a reload adds nothing.
    again = list(mailchimp.fetch_email_activity_between(list_id, start, now, lookback_days=14))
    assert again == whole


def test_member_and_campaign_windows_hold_their_bounds(mailchimp, list_id, now):
    low, high = now - timedelta(days=30), now - timedelta(days=10)
    members = list(mailchimp.fetch_members_changed_between(list_id, low, high))
    everyone = list(mailchimp.fetch_members_changed_between(list_id, EPOCH, now))
    assert members and len(members) < len(everyone)
    changed = [datetime.fromisoformat(m["last_changed"]) for m in members]
    assert all(low <= moment < high for moment in changed)
    assert {m["status"] for m in everyone} >= {"subscribed", "unsubscribed", "transactional"}
    assert all("_links" not in m for m in everyone)

    campaigns = list(mailchimp.fetch_campaigns_sent_between(list_id, low, high))
    sent = [datetime.fromisoformat(c["send_time"]) for c in campaigns]
    assert len(campaigns) == 3  # weekly newsletters over 20 days
    assert all(low <= moment < high for moment in sent)
    assert sent == sorted(sent)
