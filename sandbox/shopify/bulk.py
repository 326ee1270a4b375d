"""Shopify bulk query operations: checked like Shopify checks them, run in the background.

A bulk query is executed chunk by chunk over its top-level connection (keyset pages, so memory
stays bounded however large the store), page sizes are ignored, and every node becomes one
JSONL line; nodes of nested connections follow their parent as their own lines carrying
`"__parentId"`, exactly as in Shopify's bulk output. Status moves CREATED -> RUNNING ->
COMPLETED (or FAILED / CANCELED), and the file is served from this server at `url`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from graphql import execute

from sandbox.shopify.bulk_query import check_bulk_query
from sandbox.shopify.nodes import gid, utc
from sandbox.shopify.resolvers import (
    BulkCursor,
    ExecContext,
    ShopInfo,
    executable_schema,
    parse_gid,
)

CHUNK_SIZE = 1000
THREAD_PREFIX = "shopify-bulk-"
ACTIVE = ("CREATED", "RUNNING", "CANCELING")


@dataclass
class BulkOperation:
    """One bulk query operation and its progress."""

    number: int
    query: str
    created_at: datetime
    status: str = "CREATED"
    error_code: str | None = None
    completed_at: datetime | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


def concurrency_limit(version: str) -> int:
    """Bulk query operations allowed at once: five from API 2026-01, one before (shopify.dev)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", version)
    return 1 if match and (int(match[1]), int(match[2])) < (2026, 1) else 5


def _busy(running: BulkOperation, limit: int) -> dict[str, Any]:
    """The userError for one operation too many (API versions before 2026-01 allow one)."""
    if limit == 1:
        busy = gid("BulkOperation", running.number)
        message = f"A bulk query operation for this app and shop is already in progress: {busy}."
        return {"field": None, "message": message, "code": "OPERATION_IN_PROGRESS"}
    message = "Bulk operations limit reached. Please try again later."
    return {"field": None, "message": message, "code": "LIMIT_REACHED"}


def jsonl_lines(node: dict[str, Any], parent_id: str | None = None) -> Iterator[dict[str, Any]]:
    """A node as bulk output lines: itself without its connections, then their nodes."""
    own = {k: v for k, v in node.items() if not _is_connection(v)}
    if parent_id is not None:
        own["__parentId"] = parent_id
    yield own
    for value in node.values():
        if _is_connection(value):
            for edge in value["edges"]:
                yield from jsonl_lines(edge["node"], node.get("id"))


def _is_connection(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("edges"), list)


def _dump(line: dict[str, Any]) -> str:
    # Shopify's JSONL escapes forward slashes ("gid:\/\/shopify\/..."); any JSON reader agrees.
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")


class BulkOperations:
    """The shop's bulk operations, their worker threads and their result files."""

    def __init__(self, ctx: Any, shop: ShopInfo, directory: Path) -> None:
        self._ctx = ctx
        self._shop = shop
        self._dir = directory
        self._ops: dict[int, BulkOperation] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def result_path(self, number: int) -> Path | None:
        """The finished JSONL file of an operation, if it has one."""
        op = self._ops.get(number)
        path = self._dir / f"{number}.jsonl"
        return path if op is not None and op.file_size is not None and path.exists() else None

    def for_request(self, version: str, base_url: str) -> BulkRequest:
        return BulkRequest(self, version, base_url)

    def create(self, text: str, version: str) -> tuple[BulkOperation | None, Any, list[dict]]:
        """A new CREATED operation for `text`, or Shopify's userErrors refusing it."""
        document, errors = check_bulk_query(text)
        if errors:
            return None, None, errors
        limit = concurrency_limit(version)
        with self._lock:
            active = [op for op in self._ops.values() if op.status in ACTIVE]
            if len(active) >= limit:
                return None, None, [_busy(active[0], limit)]
            op = BulkOperation(next(self._numbers), text, self._ctx.view.now)
            self._ops[op.number] = op
        return op, document, []

    def launch(self, op: BulkOperation, document: Any) -> None:
        """Run a created operation on its own worker thread."""
        name = f"{THREAD_PREFIX}{op.number}"
        threading.Thread(target=self._run, args=(op, document), name=name, daemon=True).start()

    def find(self, number: int | None) -> BulkOperation | None:
        return self._ops.get(number) if number is not None else None

    def latest(self) -> BulkOperation | None:
        return self._ops[max(self._ops)] if self._ops else None

    def request_cancel(self, op: BulkOperation) -> bool:
        """Ask a running operation to stop; False when it has already finished."""
        with self._lock:
            if op.status not in ACTIVE:
                return False
            op.status = "CANCELING"
            op.cancel.set()
            return True

    def _run(self, op: BulkOperation, document: Any) -> None:
        with self._lock:
            if op.status == "CREATED":
                op.status = "RUNNING"
        part = self._dir / f"{op.number}.jsonl.part"
        status, error_code = "COMPLETED", None
        try:
            with part.open("w", encoding="utf-8") as out:
                self._write(op, document, out)
            if op.cancel.is_set():
                status = "CANCELED"
        except Exception:
            # Shopify reports the failure on the operation; partial data stays downloadable.
            status, error_code = "FAILED", "INTERNAL_SERVER_ERROR"
        if part.exists():
            op.file_size = part.stat().st_size
            part.replace(self._dir / f"{op.number}.jsonl")
        op.completed_at, op.error_code = self._ctx.view.now, error_code
        # Last, so a poller never sees a finished status before the file and counts are final.
        with self._lock:
            op.status = status

    def _write(self, op: BulkOperation, document: Any, out: TextIO) -> None:
        """Execute the query one chunk of top-level nodes at a time, appending JSONL lines."""
        lookups, stream = self._ctx.view.cursor(), self._ctx.view.cursor()
        try:
            state = BulkCursor(chunk=CHUNK_SIZE, stream=stream)
            while state.more and not op.cancel.is_set():
                context = ExecContext(cursor=lookups, shop=self._shop, bulk=state)
                result = execute(executable_schema(), document, context_value=context)
                if result.errors or not result.data:
                    raise RuntimeError(result.errors)
                for edge in next(iter(result.data.values()))["edges"]:
                    op.root_object_count += 1
                    for line in jsonl_lines(edge["node"]):
                        out.write(_dump(line) + "\n")
                        op.object_count += 1
        finally:
            stream.close()
            lookups.close()


@dataclass
class BulkRequest:
    """The bulk-operation fields of one GraphQL request (its API version and base URL)."""

    registry: BulkOperations
    version: str
    base_url: str

    def node(self, op: BulkOperation | None) -> dict[str, Any] | None:
        if op is None:
            return None
        url = f"{self.base_url}/bulk-operation-outputs/{op.number}.jsonl"
        has_data = op.file_size is not None and op.object_count > 0
        return {
            "id": gid("BulkOperation", op.number),
            "status": op.status,
            "errorCode": op.error_code,
            "createdAt": utc(op.created_at),
            "completedAt": utc(op.completed_at),
            "objectCount": str(op.object_count),
            "rootObjectCount": str(op.root_object_count),
            "fileSize": str(op.file_size) if op.file_size is not None else None,
            # Shopify gives no url when an operation produced no objects.
            "url": url if has_data and op.status == "COMPLETED" else None,
            "partialDataUrl": url if has_data and op.status == "FAILED" else None,
            "query": op.query,
            "type": "QUERY",
        }

    def get(self, id: str) -> dict[str, Any] | None:
        """bulkOperation(id:): null for an id this shop never issued."""
        return self.node(self.registry.find(parse_gid(id, "BulkOperation")))

    def current(self, type: str = "QUERY") -> dict[str, Any] | None:
        """currentBulkOperation: the most recent query operation (there are no mutations)."""
        return self.node(self.registry.latest()) if type == "QUERY" else None

    def run_query(self, query: str, groupObjects: bool = False) -> dict[str, Any]:
        """bulkOperationRunQuery. `groupObjects` needs no handling: child lines already
        follow their parent directly, which is the grouped layout."""
        op, document, errors = self.registry.create(query, self.version)
        payload = {"bulkOperation": self.node(op), "userErrors": errors}
        if op is not None:
            self.registry.launch(op, document)
        return payload

    def cancel(self, id: str) -> dict[str, Any]:
        """bulkOperationCancel, with Shopify's userErrors for unknown or finished operations."""
        op = self.registry.find(parse_gid(id, "BulkOperation"))
        if op is None:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}],
            }
        if not self.registry.request_cancel(op):
            message = f"A bulk operation cannot be canceled when it is {op.status.lower()}"
            return {
                "bulkOperation": self.node(op),
                "userErrors": [{"field": None, "message": message}],
            }
        return {"bulkOperation": self.node(op), "userErrors": []}
