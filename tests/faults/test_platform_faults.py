"""Platform faults on the Klaviyo emulator: 5xx answers, connections dropped after the write
took effect, malformed records and 429s, all at once. A run either converges or records failed
rows (never a crash, never a duplicate list), and re-runs converge within a few runs."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.lib.clients.http import ApiError
from pipeline.lib.sync import sync
from tests.lib.clients.sandbox_fixtures import serve
from tests.lib.sync.sync_fixtures import (
    SEGMENTS,
    desired_state,
    expected_members,
    harness,
    list_members,
    new_ledger,
    store_profiles,
)

FAULTS = "429=0.1,5xx=0.1,drop=0.05,malformed=0.05"


@pytest.mark.parametrize("seed", [1, 2])
def test_a_faulty_platform_converges_by_the_next_run(small_store_view, tmp_path, seed):
    profiles = store_profiles(small_store_view)
    with serve(small_store_view, tmp_path, faults=FAULTS, seed=seed) as faulty:
        run = harness(faulty.url, group_batch_size=10, session_kwargs={"max_attempts": 10})
        ledger = new_ledger()
        failed = [sync(desired_state(profiles), run.destination, ledger).failed]
        while failed[-1] and len(failed) < 4:
            failed.append(sync(desired_state(profiles), run.destination, ledger).failed)
        assert failed[-1] == 0, f"failed rows per run: {failed}"
        lists = read_through_faults(
            lambda: list(run.client._collection("get_lists", "/api/lists", {}))
        )
        names = Counter((found.get("attributes") or {}).get("name") for found in lists)
        assert all(count == 1 for count in names.values())
        for group in SEGMENTS:
            assert read_through_faults(
                lambda g=group: list_members(faulty.url, run.destination, g)
            ) == expected_members(profiles, group)


def read_through_faults(read):
    """A read of the faulty emulator, asked again while it answers malformed records."""
    for _ in range(10):
        try:
            return read()
        except ApiError:
            continue
    raise AssertionError("the emulator never answered cleanly")
