"""`make demo`'s program: sandbox up, the daily job over the whole history, a summary, sandbox down;
then `make next-day`: the clock one day on, the daily job over that day only.

Run as a subprocess with its own warehouse, exactly as the Makefile runs it (the session's first
demo, shared with the browser test). That running the daily job again over a day it ran makes no
write call is the shop on every platform's test (`tests/defs/test_sync_assets.py`), and that
pulling a range again changes no raw row the ingest assets' (`tests/defs/test_ingest_assets.py`);
here the next day may only add.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests

from tests.demo_helpers import DEMO_LAST_DAY, run_demo

# Two demos on a small shop (the first is the session's shared one): minutes on a busy machine.
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


def test_demo_ingests_everything_then_the_next_day_adds_that_day(demo_shop):
    root, _, port, first = demo_shop
    assert "in one pass: succeeded" in first
    assert "] started " in first, "the demo prints its stages as they run"
    counts = _table_counts(first)
    for table in ("raw_shopify.customers", "raw_shopify.orders", "raw_klaviyo.events",
                  "raw_klaviyo.profiles", "raw_klaviyo.metrics"):  # fmt: skip
        assert counts.get(table, 0) > 0, table
    assert "shopify, klaviyo, mailchimp served by the sandbox" in first
    assert re.search(r"csv +not used", first), "no order CSV was imported"
    assert _write_calls(first)["klaviyo"] > 0 and _write_calls(first)["mailchimp"] > 0
    # The next day: the clock moves one day on and the daily job runs that one day, adding it.
    next_day = run_demo(root, port, "--next-day")
    new_day = (DEMO_LAST_DAY + timedelta(days=1)).isoformat()
    assert f"clock at {(DEMO_LAST_DAY + timedelta(days=2)).isoformat()}" in next_day
    assert f"daily_refresh partitions {new_day} to {new_day} in one pass: succeeded" in next_day
    grown = _table_counts(next_day)
    assert grown["raw_klaviyo.events"] > counts["raw_klaviyo.events"]
    assert all(grown[table] >= rows for table, rows in counts.items())
    # Only what the day changed is written: fewer write calls than the first sync made.
    assert _write_calls(next_day)["klaviyo"] < _write_calls(first)["klaviyo"]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=2)


def test_the_terminal_shows_the_steps_and_dbt_log_goes_to_a_file(demo_shop):
    root, _, _, summary = demo_shop
    assert "done    dbt_core_models" in summary
    assert "Running with dbt=" not in summary
    log = root / "artefacts" / "demo-run-output.log"
    assert f"dbt's log     {log}" in summary
    assert "Running with dbt=" in log.read_text()
