"""Milliseconds per member upsert in the sandbox Mailchimp emulator's batch operations.

    python -m bench.mailchimp_emulator [--members 2000] [--state-file | --in-memory]

The emulator runs over the tests' small store with its platform state in a DuckDB file (as the
sandbox server keeps it). Two merge fields are created, as a sync does before its first write;
then `--members` new members are upserted through `POST /batches` (500 `PUT`s per batch, the
shape a sync sends), then the same members again with changed merge values. Each pass prints
milliseconds per operation, timed from submit to the batch being `finished`, and fails if any
operation errored.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from sandbox.mailchimp.api import mailchimp_routes
from sandbox.mailchimp.rest import subscriber_hash
from sandbox.state import SandboxState
from tests.sandbox.klaviyo_fixtures import make_ctx
from tests.sandbox.mailchimp_fixtures import AUTH, LIST_ID

BATCH = 500  # operations per batch, as the product's client sends them
FIELDS = (
    {"tag": "CHURN", "name": "Churn probability", "type": "number"},
    {"tag": "SEGMENT", "name": "Segment", "type": "text"},
)


def upsert_operations(emails: list[str], round_no: int) -> list[dict]:
    """One `PUT` per member with `status_if_new` and merge values that differ per round."""
    return [
        {
            "method": "PUT",
            "path": f"/lists/{LIST_ID}/members/{subscriber_hash(email)}",
            "operation_id": str(index),
            "body": json.dumps(
                {
                    "email_address": email,
                    "status_if_new": "transactional",
                    "merge_fields": {
                        "CHURN": round((index * 7 + round_no) % 100 / 100, 2),
                        "SEGMENT": f"segment-{(index + round_no) % 5}",
                    },
                }
            ),
        }
        for index, email in enumerate(emails)
    ]


def run_batch(client: TestClient, operations: list[dict]) -> None:
    """Submit one batch and wait until it is finished; raise if any operation errored."""
    batch = client.post("/3.0/batches", json={"operations": operations}).json()
    while batch["status"] != "finished":
        time.sleep(0.005)
        batch = client.get(f"/3.0/batches/{batch['id']}").json()
    if batch["errored_operations"]:
        raise RuntimeError(f"{batch['errored_operations']} operations errored in {batch['id']}")


def time_pass(client: TestClient, emails: list[str], round_no: int) -> float:
    """Milliseconds per upserted member over every batch of one pass."""
    began = time.perf_counter()
    for start in range(0, len(emails), BATCH):
        run_batch(client, upsert_operations(emails[start : start + BATCH], round_no))
    return (time.perf_counter() - began) * 1000 / len(emails)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument(
        "--in-memory", action="store_true", help="keep the platform state in memory, not a file"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        state = SandboxState(":memory:" if args.in_memory else Path(scratch) / "state.duckdb")
        app = Starlette(routes=mailchimp_routes(make_ctx(state=state)))
        with TestClient(app, headers=AUTH) as client:
            for field in FIELDS:
                client.post(f"/3.0/lists/{LIST_ID}/merge-fields", json=field).raise_for_status()
            emails = [f"bench{n}@example.org" for n in range(args.members)]
            print(f"{'pass':<28} {'members':>8} {'ms/upsert':>10}")
            for round_no, label in enumerate(("new members", "same members, new values")):
                ms = time_pass(client, emails, round_no)
                print(f"{label:<28} {len(emails):>8} {ms:>10.2f}")
        state.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
