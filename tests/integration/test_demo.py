"""`make demo`'s program: sandbox up, the daily job over the whole history, a summary, sandbox down.

Run as a subprocess with its own warehouse, exactly as the Makefile runs it (the session's first
demo, shared with the browser test); a second demo must leave every raw table as the first left
it and make no write call to the platforms.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests

from tests.demo_helpers import DEMO_LAST_DAY, run_demo

# Three demos on a small shop (the first is the session's shared one): minutes on a busy machine.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(1800),
    pytest.mark.xdist_group("demo_shop"),
]


def _table_counts(summary: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"(raw_\w+\.\w+)\s+(\d+) rows", summary)}


def _write_calls(summary: str) -> dict[str, int]:
    found = re.finditer(r"(klaviyo|mailchimp)\s+sync synced: .*?(\d+) writes", summary)
    return {m[1]: int(m[2]) for m in found}


def test_demo_ingests_everything_then_a_second_demo_changes_nothing(demo_shop):
    root, _, port, first = demo_shop
    assert "in one pass: succeeded" in first
    assert "] started " in first, "the demo prints its stages as they run"
    counts = _table_counts(first)
    for table in ("raw_shopify.customers", "raw_shopify.orders", "raw_klaviyo.events",
                  "raw_klaviyo.profiles", "raw_klaviyo.metrics"):  # fmt: skip
        assert counts.get(table, 0) > 0, table
    assert "shopify, klaviyo, mailchimp served by the sandbox" in first
    assert _write_calls(first)["klaviyo"] > 0 and _write_calls(first)["mailchimp"] > 0
    second = run_demo(root, port)
    again = _table_counts(second)
    # The one change a second pull may see is the first sync's own work: its Klaviyo lists.
    assert again.pop("raw_klaviyo.lists") > counts.pop("raw_klaviyo.lists", 0)
    assert again == counts
    # The second sync finds nothing to change: not one write call to either platform.
    assert _write_calls(second) == {"klaviyo": 0, "mailchimp": 0}
    # The next day: the clock moves one day on and the daily job runs that one day, adding it.
    next_day = run_demo(root, port, "--next-day")
    new_day = (DEMO_LAST_DAY + timedelta(days=1)).isoformat()
    assert f"clock at {(DEMO_LAST_DAY + timedelta(days=2)).isoformat()}" in next_day
    assert f"daily_refresh partitions {new_day} to {new_day} in one pass: succeeded" in next_day
    grown = _table_counts(next_day)
    assert grown["raw_klaviyo.events"] > again["raw_klaviyo.events"]
    assert all(grown[table] >= rows for table, rows in again.items())
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=2)
