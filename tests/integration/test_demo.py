"""`make demo`'s program: sandbox up, the daily job over the whole history, a summary, sandbox down.

Run as a subprocess with its own warehouse, exactly as the Makefile runs it; a second demo must
leave every raw table as the first left it and make no write call to the platforms.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest
import requests

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _demo(tmp_path, port: int, *extra: str) -> str:
    platforms = ("SHOPIFY_", "KLAVIYO_", "MAILCHIMP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(platforms)}
    env.pop("DAGSTER_HOME", None)
    env["WAREHOUSE_PATH"] = str(tmp_path / "warehouse.duckdb")
    env["FORESIGHT_HISTORY_START"] = "2024-01-01"
    command = [sys.executable, "-m", "pipeline.cli.demo", "--port", str(port), "--customers", "300",
               "--days", "90", "--data-dir", str(tmp_path / "sandbox"), *extra]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _table_counts(summary: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"(raw_\w+\.\w+)\s+(\d+) rows", summary)}


def _write_calls(summary: str) -> dict[str, int]:
    found = re.finditer(r"(klaviyo|mailchimp)\s+sync synced: .*?(\d+) writes", summary)
    return {m[1]: int(m[2]) for m in found}


def test_demo_ingests_everything_then_a_second_demo_changes_nothing(tmp_path):
    port = _free_port()
    first = _demo(tmp_path, port)
    assert "in one pass: succeeded" in first
    assert "] started " in first, "the demo prints its stages as they run"
    counts = _table_counts(first)
    for table in ("raw_shopify.customers", "raw_shopify.orders", "raw_klaviyo.events",
                  "raw_klaviyo.profiles", "raw_klaviyo.metrics"):  # fmt: skip
        assert counts.get(table, 0) > 0, table
    assert "shopify, klaviyo, mailchimp served by the sandbox" in first
    assert _write_calls(first)["klaviyo"] > 0 and _write_calls(first)["mailchimp"] > 0
    second = _demo(tmp_path, port)
    again = _table_counts(second)
    # The one change a second pull may see is the first sync's own work: its Klaviyo lists.
    assert again.pop("raw_klaviyo.lists") > counts.pop("raw_klaviyo.lists", 0)
    assert again == counts
    # The second sync finds nothing to change: not one write call to either platform.
    assert _write_calls(second) == {"klaviyo": 0, "mailchimp": 0}
    # The next day: the clock moves one day on and the daily job runs that one day, adding it.
    next_day = _demo(tmp_path, port, "--next-day")
    assert "clock at 2024-04-01" in next_day
    assert "daily_refresh partitions 2024-03-31 to 2024-03-31 in one pass: succeeded" in next_day
    grown = _table_counts(next_day)
    assert grown["raw_klaviyo.events"] > again["raw_klaviyo.events"]
    assert all(grown[table] >= rows for table, rows in again.items())
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=2)
