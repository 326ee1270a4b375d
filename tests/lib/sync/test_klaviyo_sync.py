"""The sync against the Klaviyo emulator on 127.0.0.1: consent, idempotence, crashes, faults,
dry runs, the blast radius and client-side rate limits."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from pipeline.lib.sync import BlastRadiusExceeded, BlastRadiusPolicy, KlaviyoDestination, sync
from tests.lib.clients.sandbox_fixtures import FakeClock, serve
from tests.lib.sync.sync_fixtures import (
    SEGMENTS,
    desired_state,
    expected_members,
    harness,
    ledger_rows,
    list_members,
    new_ledger,
    store_profiles,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def profiles(small_store_view):
    return store_profiles(small_store_view)


def assert_lists_match(url: str, destination: KlaviyoDestination, profiles) -> None:
    for group in SEGMENTS:
        assert list_members(url, destination, group) == expected_members(profiles, group), group


def test_first_sync_lists_only_people_who_may_be_marketed_to(sandbox, profiles):
    run = harness(sandbox.url)
    desired = desired_state(profiles)
    # The warehouse is stale for two people Klaviyo knows to be unsubscribed or never
    # subscribed: Klaviyo's own answer wins.
    stale = [p.profile_id for p in profiles if not p.marketable and p.email][:2]
    desired = [
        replace(c, can_receive_email_marketing=True, segments=frozenset(SEGMENTS))
        if c.contact_id in stale
        else c
        for c in desired
    ]
    result = sync(desired, run.destination, new_ledger())
    assert (result.failed, result.dry_run, result.blast_radius) == (0, False, [])
    assert_lists_match(sandbox.url, run.destination, profiles)
    not_marketable = {p.profile_id for p in profiles if not p.marketable}
    for group in SEGMENTS:
        assert not list_members(sandbox.url, run.destination, group) & not_marketable
    # Properties reached every profile, the new customer's profile included (never subscribed).
    reader = run.client
    found = reader.marketing_consent(emails=["brand.new.customer@example.com"])
    assert found["brand.new.customer@example.com"][1] is False
    assert sandbox.ctx.state.summary()["profile_writes"] == len(profiles) + 1


def test_a_second_run_with_nothing_changed_writes_nothing(sandbox, profiles):
    run = harness(sandbox.url)
    ledger = new_ledger()
    sync(desired_state(profiles), run.destination, ledger)
    run.sent.clear()
    again = sync(desired_state(profiles), run.destination, ledger)
    assert again.write_calls == 0 and run.writes_sent == []
    assert again.failed == 0


def test_failed_rows_are_recorded_and_retried_next_run(sandbox, profiles):
    run = harness(sandbox.url)
    ledger = new_ledger()
    first = sync(desired_state(profiles, with_bad_email=True), run.destination, ledger)
    assert first.failed == 1
    second = sync(desired_state(profiles, with_bad_email=True), run.destination, ledger)
    assert (second.planned, second.failed, second.write_calls) == (1, 1, 1)
    errors = ledger_rows(ledger, "outcome = 'error'")
    assert [(r[1], r[2], r[5]) for r in errors] == [
        ("cust-bad", "set_properties", "invalid: Invalid email address: 'not-an-email'."),
    ] * 2


def test_losing_consent_removes_our_membership_but_not_one_added_by_hand(sandbox, profiles):
    run = harness(sandbox.url)
    ledger = new_ledger()
    desired = desired_state(profiles)
    sync(desired, run.destination, ledger)
    vip = run.client.find_list(run.destination.list_name("vip"))
    outsider = next(
        p.profile_id for p in profiles if p.profile_id not in expected_members(profiles, "vip")
    )
    sandbox.ctx.state.add_members(vip, [outsider], sandbox.ctx.view.now)
    leaver = sorted(expected_members(profiles, "vip"))[0]
    desired = [
        replace(c, can_receive_email_marketing=False) if c.contact_id == leaver else c
        for c in desired
    ]
    result = sync(desired, run.destination, ledger)
    members = list_members(sandbox.url, run.destination, "vip")
    assert leaver not in members and outsider in members
    assert result.plan["groups"]["vip"]["consent_removals"] == 1


class Crash(Exception):
    """The process dying between Klaviyo's answer and the ledger write."""


class CrashAfterAdds:
    """Passes calls through, then dies right after the n-th add was acknowledged by Klaviyo."""

    def __init__(self, inner: KlaviyoDestination, crash_after: int) -> None:
        self.inner, self.left = inner, crash_after
        self.name = inner.name
        self.property_batch_size = inner.property_batch_size
        self.group_batch_size = inner.group_batch_size
        self.set_properties = inner.set_properties
        self.remove_from_group = inner.remove_from_group

    @property
    def write_calls(self) -> int:
        return self.inner.write_calls

    def add_to_group(self, group, members):
        outcomes = self.inner.add_to_group(group, members)
        self.left -= 1
        if self.left == 0:
            raise Crash
        return outcomes


def test_a_crash_mid_sync_then_a_rerun_converges_without_duplicates(sandbox, profiles):
    run = harness(sandbox.url, group_batch_size=50)
    ledger = new_ledger()
    with pytest.raises(Crash):
        sync(desired_state(profiles), CrashAfterAdds(run.destination, 4), ledger, run_id="r1")
    sync(desired_state(profiles), run.destination, ledger, run_id="r2")
    assert_lists_match(sandbox.url, run.destination, profiles)
    adds = [
        [(r.path_url, p["id"]) for p in json.loads(r.body)["data"]]
        for r in run.sent
        if r.method == "POST" and "/relationships/profiles" in r.path_url
    ]
    sent = Counter(member for call in adds for member in call)
    # Only the batch in flight at the crash (the 4th add call) was sent twice.
    assert {member for member, times in sent.items() if times > 1} == set(adds[3])
    assert max(sent.values()) == 2
    states = ledger.con.execute(
        "select status, count(*) from activation.sync_memberships group by all"
    ).fetchall()
    assert states == [("added", sum(len(expected_members(profiles, g)) for g in SEGMENTS))]
    assert sync(desired_state(profiles), run.destination, ledger).write_calls == 0


def test_a_429_storm_is_survived(small_store_view, tmp_path, profiles):
    with serve(small_store_view, tmp_path, faults="429=0.3", seed=3) as stormy:
        run = harness(
            stormy.url,
            group_batch_size=10,
            property_batch_size=100,
            session_kwargs={"max_attempts": 12},
        )
        result = sync(desired_state(profiles), run.destination, new_ledger())
        assert result.failed == 0 and run.client.session.stats.retries > 20
        assert_lists_match(stormy.url, run.destination, profiles)


def test_a_dry_run_calls_nothing_and_returns_the_plan(sandbox, profiles):
    run = harness(sandbox.url)
    ledger = new_ledger()
    result = sync(desired_state(profiles), run.destination, ledger, dry_run=True)
    assert run.sent == [] and run.client.session.stats.requests == 0
    assert ledger.load_state().is_empty and ledger_rows(ledger) == []
    vip = result.plan["groups"]["vip"]
    assert vip["adds"] == len(expected_members(profiles, "vip")) and vip["removes"] == 0
    assert result.plan["property_writes"] == len(profiles) + 1
    assert result.sent == 0 and "@" not in json.dumps(result.plan)


def test_the_blast_radius_blocks_an_oversized_live_change(sandbox, profiles):
    run = harness(sandbox.url)
    ledger = new_ledger()
    sync(desired_state(profiles), run.destination, ledger)
    # A broken model puts everyone in vip.
    broken = [replace(c, segments=c.segments | {"vip"}) for c in desired_state(profiles)]
    run.sent.clear()
    with pytest.raises(BlastRadiusExceeded, match=r"group 'vip' would change by \d+ of"):
        sync(broken, run.destination, ledger)
    assert run.sent == []
    dry = sync(broken, run.destination, ledger, dry_run=True)
    assert dry.blast_radius and run.sent == []
    override = BlastRadiusPolicy(allow_large_change=True)
    assert sync(broken, run.destination, ledger, policy=override).failed == 0


def test_client_side_rate_limits_prevent_429s(small_store_view, tmp_path, profiles):
    clock = FakeClock()
    # The emulator enforces Klaviyo's real tiers on the clock the client's waits move.
    with serve(small_store_view, tmp_path, scale=1.0, clock=clock) as limited:
        run = harness(
            limited.url, group_batch_size=10, clock=clock, session_kwargs={"sleep": clock.sleep}
        )
        result = sync(desired_state(profiles), run.destination, new_ledger())
    assert result.failed == 0 and result.write_calls > 40
    assert run.client.session.stats.retries == 0 and run.client.limiter.waited_seconds > 0
