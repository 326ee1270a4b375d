"""Bulk operations that would stall or mislead a run: one stuck RUNNING is given up on after a
bound with a plain error, and output cut short (fewer lines than the operation's objectCount, or
a last line cut mid-record) is refused before any record is yielded."""

from __future__ import annotations

import pytest

from pipeline.lib.clients import shopify_bulk
from pipeline.lib.clients.http import ApiError, RequestStats
from pipeline.lib.clients.shopify_queries import ENTITIES

CUSTOMERS = ENTITIES["customers"]
LINES = b'{"id": "gid://shopify/Customer/1"}\n{"id": "gid://shopify/Customer/2"}\n'


class FakeSession:
    def __init__(self, output: bytes) -> None:
        self.output, self.stats, self.slept = output, RequestStats(), []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def download(self, url: str, spool) -> int:
        spool.write(self.output)
        return len(self.output)

    def scrub(self, text: str) -> str:
        return text


class FakeClient:
    """Starts operation `op`; every poll answers `status` with `objects` objects."""

    def __init__(self, status: str, objects: int, output: bytes = LINES) -> None:
        self.status, self.objects, self.session = status, objects, FakeSession(output)

    def execute(self, query: str, variables: dict) -> dict:
        if "bulkOperationRunQuery" in query:
            return {"bulkOperationRunQuery": {"userErrors": [], "bulkOperation": {"id": "op"}}}
        return {
            "bulkOperation": {
                "id": "op", "status": self.status, "errorCode": None, "url": "https://files/x",
                "objectCount": str(self.objects), "rootObjectCount": str(self.objects),
            }
        }  # fmt: skip


def test_a_stuck_operation_is_given_up_on_after_the_bound():
    client = FakeClient("RUNNING", 2)
    with pytest.raises(ApiError, match="still running after 60 minutes"):
        list(shopify_bulk.run(client, CUSTOMERS, "updated_at:>0"))
    assert shopify_bulk.POLL_GIVE_UP_SECONDS <= sum(client.session.slept) < 3700


def test_complete_output_is_read():
    records = list(shopify_bulk.run(FakeClient("COMPLETED", 2), CUSTOMERS, "q"))
    assert [r["id"] for r in records] == ["gid://shopify/Customer/1", "gid://shopify/Customer/2"]


@pytest.mark.parametrize(
    ("objects", "output"),
    [(3, LINES), (2, LINES[:-10])],
    ids=["fewer lines than objectCount", "last line cut mid-record"],
)
def test_output_cut_short_is_refused_before_any_record(objects, output):
    records = shopify_bulk.run(FakeClient("COMPLETED", objects, output), CUSTOMERS, "q")
    with pytest.raises(ApiError, match="cut short"):
        next(records)
