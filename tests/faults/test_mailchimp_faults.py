"""Platform faults on the Mailchimp emulator, against the Mailchimp sync: 429 storms, 5xx
answers, connections dropped after the write took effect, malformed records, and answers slower
than the client's timeout (the write happens, the answer comes too late). Each run ends with
every row ok or recorded as failed (never a crash); re-runs converge to exactly the tags an
undisturbed sync gives, one tag per segment, no member's status moved; and once converged a
re-run writes nothing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
import requests

from pipeline.lib.clients.http import ApiError
from pipeline.lib.clients.mailchimp import MailchimpClient, subscriber_hash
from pipeline.lib.sync import sync
from pipeline.lib.sync.mailchimp_destination import MailchimpDestination
from tests.lib.clients.sandbox_fixtures import quiet_session, serve
from tests.lib.sync.mailchimp_sync_fixtures import desired_state, expected_tagged, new_ledger
from tests.lib.sync.sync_fixtures import SEGMENTS, store_profiles

pytestmark = pytest.mark.integration

FAULTS = {
    "429 storm": "429=0.5",
    "5xx": "5xx=0.3",
    "dropped after the write": "drop=0.2",
    "malformed records": "malformed=0.15",
    "all at once": "429=0.1,5xx=0.1,drop=0.05,malformed=0.05",
    "slower than our timeout": "slow=0.1,slow_seconds=2",
}
SHORT_TIMEOUT = (1.0, 1.0)  # seconds to connect, to read: the slow answers come after 2 s
MAX_RUNS = 5


def destination(url: str, timeout: tuple[float, float] = (5.0, 60.0)) -> MailchimpDestination:
    session = quiet_session("Mailchimp", "MAILCHIMP_API_KEY", max_attempts=12, timeout=timeout)
    return MailchimpDestination(MailchimpClient(f"{url}/3.0", "sandbox-key", session))


def read_through_faults(read):
    """A read of the faulty emulator, asked again while it answers malformed records."""
    last = None
    for _ in range(20):
        try:
            return read()
        except (ApiError, KeyError, ValueError) as error:
            last = error
    raise AssertionError(f"the emulator never answered cleanly: {last!r}")


def audience(client: MailchimpClient, list_id: str) -> tuple[dict[str, dict], Counter]:
    """Members (hash -> status and tag names) and how many static segments carry each name."""
    members = {
        m["id"]: {"status": m["status"], "tags": {t["name"] for t in m["tags"]}}
        for m in client.iter_members(list_id, fields=["id", "status", "tags"])
    }
    segments = client._pages(f"/lists/{list_id}/segments", "segments", {"type": "static"})
    return members, Counter(s["name"] for s in segments)


def audience_profiles(view, data_dir) -> list:
    """The first 120 store profiles that are audience members (a usable email)."""
    with serve(view, data_dir) as clean:
        client = destination(clean.url).client
        held = set(audience(client, client.find_audience()["id"])[0])
    members = [p for p in store_profiles(view) if p.email]
    return [p for p in members if subscriber_hash(p.email) in held][:120]


@dataclass
class FaultyRuns:
    """What syncing through one fault spec came to."""

    failed: list[int]  # failed rows per run, until one had none (or MAX_RUNS)
    settled_writes: int  # write calls of one more run after that
    injected: dict[str, int]  # faults the emulator injected, by kind
    problems: list[str]  # how the final audience differs from what an undisturbed sync gives

    @property
    def converged(self) -> bool:
        return self.failed[-1] == 0 and self.settled_writes == 0 and not self.problems


def sync_through_faults(view, data_dir, profiles, faults: str, seed: int) -> FaultyRuns:
    """Sync the profiles' desired state to an emulator with `faults` until a run fails no row,
    then once more; compare the audience with what an undisturbed sync gives."""
    desired = desired_state(profiles)
    timeout = SHORT_TIMEOUT if "slow" in faults else (5.0, 60.0)
    with serve(view, data_dir, faults=faults, seed=seed) as faulty:
        client = destination(faulty.url).client
        list_id = read_through_faults(lambda: client.find_audience()["id"])
        before, _ = read_through_faults(lambda: audience(client, list_id))
        ledger = new_ledger()
        failed = [sync(desired, destination(faulty.url, timeout), ledger).failed]
        while failed[-1] and len(failed) < MAX_RUNS:
            failed.append(sync(desired, destination(faulty.url, timeout), ledger).failed)
        # Converged: nothing is left to write (a read may still meet a fault, harmlessly).
        settled = sync(desired, destination(faulty.url, timeout), ledger).write_calls
        after, segments = read_through_faults(lambda: audience(client, list_id))
        injected = requests.get(f"{faulty.url}/sandbox/state", timeout=30).json()
    statuses = {h: m["status"] for h, m in before.items()}
    problems = [f"status of {h} moved" for h in before if after[h]["status"] != statuses[h]]
    tags = destination("http://127.0.0.1:9")
    for group in SEGMENTS:
        tag = tags.tag_name(group)
        if segments[tag] != 1:
            problems.append(f"{segments[tag]} segments named {tag}")
        tagged = {h for h, m in after.items() if tag in m["tags"]}
        if tagged != expected_tagged(profiles, group, statuses):
            problems.append(f"{group}: {len(tagged)} tagged, not as an undisturbed sync tags")
    return FaultyRuns(failed, settled, injected["faults_injected"], problems)


@pytest.fixture(scope="module")
def profiles(small_store_view, tmp_path_factory):
    return audience_profiles(small_store_view, tmp_path_factory.mktemp("clean"))


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
def test_a_faulty_mailchimp_converges_and_then_writes_nothing(
    small_store_view, tmp_path, profiles, faults
):
    runs = sync_through_faults(small_store_view, tmp_path, profiles, faults, seed=5)
    assert sum(runs.injected.values()) > 0
    assert runs.failed[-1] == 0, f"failed rows per run: {runs.failed}"
    assert runs.settled_writes == 0 and runs.problems == []
