"""Shopify bulk query operations: start, poll, download, and re-nest the JSONL output.

Flow (shopify.dev, "Perform bulk operations with the GraphQL Admin API"): `bulkOperationRunQuery`
starts the operation (its `userErrors` say why one is refused); `bulkOperation(id:)` is polled
until COMPLETED, FAILED or CANCELED; a COMPLETED operation with a null `url` found no records.
The JSONL file has one line per node; nodes of nested connections are lines of their own carrying
`__parentId`. We ask for `groupObjects: true` (the default became false in API 2026-01) so every
child follows its parent before the next top-level line, which lets a record be yielded as soon as
the next one starts. The file is spooled to a temporary file first, so a dropped download is
retried whole and memory holds one record at a time.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from pipeline.lib.clients.http import ApiError
from pipeline.lib.clients.shopify_queries import POLL_BULK, RUN_BULK, Entity, bulk_query

if TYPE_CHECKING:
    from pipeline.lib.clients.shopify import ShopifyClient

log = logging.getLogger(__name__)

POLL_FIRST_SECONDS = 0.5
POLL_GROWTH = 1.5
POLL_MAX_SECONDS = 15.0
# A real operation over a shop's history takes minutes; one still running after this is stuck.
POLL_GIVE_UP_SECONDS = 3600.0
_FINISHED = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")


def run(client: ShopifyClient, entity: Entity, search: str) -> Iterator[dict[str, Any]]:
    """Every `entity` node matching `search`, read through one bulk operation."""
    started = client.execute(RUN_BULK, {"query": bulk_query(entity, search)})
    payload = started["bulkOperationRunQuery"]
    if payload["userErrors"]:
        reasons = "; ".join(e["message"] for e in payload["userErrors"])
        raise ApiError(f"Shopify refused the bulk query: {client.session.scrub(reasons)}")
    operation = _wait(client, payload["bulkOperation"]["id"])
    status = operation["status"]
    if status == "FAILED":
        raise ApiError(
            f"Shopify's bulk operation {operation['id']} failed "
            f"(error code {operation['errorCode']}); run the window again"
        )
    if status != "COMPLETED":
        raise ApiError(f"Shopify's bulk operation {operation['id']} ended {status.lower()}")
    log.info(
        "Shopify bulk operation %s: %s objects, %s records",
        operation["id"],
        operation["objectCount"],
        operation["rootObjectCount"],
    )
    if operation["url"] is None:
        # Shopify gives no file when the query matched nothing.
        return
    with tempfile.TemporaryFile() as spool:
        size = client.session.download(operation["url"], spool)
        client.session.stats.pages += 1
        log.info("Shopify bulk output downloaded: %d bytes", size)
        _check_complete(spool, operation)
        yield from renest(io.TextIOWrapper(spool, encoding="utf-8"), entity)


def _check_complete(spool, operation: dict[str, Any]) -> None:
    """Refuse output with fewer or more lines than the operation's `objectCount` (a truncated
    file would otherwise load part of the window as if it were all); rewinds `spool`."""
    spool.seek(0)
    lines = sum(1 for line in spool if line.strip())
    spool.seek(0)
    expected = operation.get("objectCount")
    if expected is not None and lines != int(expected):
        raise ApiError(
            f"Shopify's bulk output for operation {operation['id']} holds {lines} of "
            f"{expected} objects (cut short?); run the window again"
        )


def _wait(client: ShopifyClient, operation_id: str) -> dict[str, Any]:
    """Poll the operation, backing off, until it has finished one way or another, or give up
    after `POLL_GIVE_UP_SECONDS` of waiting (a stuck operation must not hold the run for ever)."""
    delay, waited = POLL_FIRST_SECONDS, 0.0
    while True:
        operation = client.execute(POLL_BULK, {"id": operation_id})["bulkOperation"]
        if operation is None:
            raise ApiError(f"Shopify does not know bulk operation {operation_id}")
        if operation["status"] in _FINISHED:
            return operation
        if waited >= POLL_GIVE_UP_SECONDS:
            raise ApiError(
                f"Shopify's bulk operation {operation_id} is still {operation['status'].lower()} "
                f"after {waited / 60:.0f} minutes; run the window again later"
            )
        log.debug("Shopify bulk operation %s: %s", operation_id, operation["status"])
        client.session.sleep(delay)
        waited += delay
        delay = min(delay * POLL_GROWTH, POLL_MAX_SECONDS)


def renest(lines: Iterable[str], entity: Entity) -> Iterator[dict[str, Any]]:
    """Records from bulk JSONL lines, each child moved into its parent's list.

    A child's list is the nested connection whose node type matches the type in the child's
    GID (gid://shopify/LineItem/1 -> `lineItems`). Children must follow their parent before the
    next top-level line (grouped output); anything else is an error rather than a silent loss.
    """
    lists = {conn.node_type: name for name, conn in entity.nested.items()}
    current: dict[str, Any] | None = None
    for line in lines:
        if not line.strip():
            continue
        try:
            node = json.loads(line)
        except ValueError:
            raise ApiError("a line of Shopify's bulk output is not JSON (cut short?)") from None
        parent = node.pop("__parentId", None)
        if parent is None:
            if current is not None:
                yield current
            current = node | {name: [] for name in entity.nested}
            continue
        if current is None or parent != current.get("id"):
            raise ApiError(
                "Shopify's bulk output lists a nested record away from its parent; "
                "the output was not grouped as requested"
            )
        name = lists.get(_gid_type(node.get("id")))
        if name is None:
            raise ApiError(
                f"Shopify's bulk output for {entity.connection} holds a nested record of a type "
                "the query did not ask for"
            )
        current[name].append(node)
    if current is not None:
        yield current


def _gid_type(gid: Any) -> str | None:
    """`LineItem` from gid://shopify/LineItem/123."""
    if not isinstance(gid, str) or not gid.startswith("gid://"):
        return None
    parts = gid.split("/")
    return parts[3] if len(parts) > 4 else None
