"""Mailchimp batch operations: many API calls in one write request.

`POST /batches` takes a list of operations (method, path relative to /3.0, body as a JSON
string, an `operation_id` of our choosing) and answers at once; Mailchimp runs them in the
background. `GET /batches/{id}` reports `pending`, `started`, ... `finished`; a finished batch
names `response_body_url`, a pre-signed download (no credential sent) of a gzipped tar of JSON
files, each an array of `{status_code, operation_id, response}`. One batch call replaces up to
`MAX_OPERATIONS` single calls, and each operation still succeeds or fails on its own.

`BatchCalls` is mixed into `MailchimpClient`, which supplies `session` and `_call` (every write
goes through `_call`, which counts it in `write_calls`; the status polls are reads).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.lib.clients.http import ApiError, ApiSession

MAX_OPERATIONS = 500  # operations per batch call this client sends
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.25, 10.0
BATCH_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class OperationResult:
    """One operation's answer: its HTTP status and decoded body (a problem document on error)."""

    status_code: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def error(self) -> str:
        """Mailchimp's own words for a failed operation: title, detail and field errors."""
        title, detail = self.body.get("title", "error"), self.body.get("detail", "no details")
        fields = [
            f"{e.get('field')}: {e.get('message')}"
            for e in self.body.get("errors") or []
            if isinstance(e, dict) and e.get("field")
        ]
        return "; ".join([f"Mailchimp refused ({self.status_code}) {title}: {detail}", *fields])


class BatchCalls:
    """Batch operations of `MailchimpClient`, which supplies `session` and `_call` (every write
    goes through `_call`, which counts it in `write_calls`)."""

    session: ApiSession
    _call: Callable[..., dict[str, Any]]
    batch_timeout_seconds: float = BATCH_TIMEOUT_SECONDS

    def run_batch(self, operations: Sequence[dict[str, Any]]) -> dict[str, OperationResult]:
        """Run up to `MAX_OPERATIONS` operations as one batch; results by `operation_id`.

        Waits for the batch to finish (polling with growing pauses, up to
        `batch_timeout_seconds`). An operation missing from the results is absent from the
        answer: the caller decides what that means for its record.
        """
        if len(operations) > MAX_OPERATIONS:
            raise ValueError(f"a batch takes at most {MAX_OPERATIONS} operations")
        if not operations:
            return {}
        batch = self._call("POST", "/batches", json={"operations": list(operations)})
        batch_id = batch.get("id")
        if not batch_id:
            raise ApiError("Mailchimp answered POST /batches without a batch id")
        deadline = time.monotonic() + self.batch_timeout_seconds
        pause = FIRST_POLL_SECONDS
        while batch.get("status") != "finished":
            if time.monotonic() > deadline:
                raise ApiError(
                    f"Mailchimp batch {batch_id} did not finish within "
                    f"{self.batch_timeout_seconds:.0f}s (status {batch.get('status')}); "
                    "its operations may still run, and a re-run repeats them safely"
                )
            time.sleep(pause)
            pause = min(pause * 2, MAX_POLL_SECONDS)
            batch = self._call("GET", f"/batches/{batch_id}")
        return self._batch_results(str(batch.get("response_body_url") or ""))

    def _batch_results(self, url: str) -> dict[str, OperationResult]:
        if not url:
            raise ApiError("Mailchimp finished a batch without a response_body_url")
        archive = io.BytesIO()
        self.session.download(url, archive)
        archive.seek(0)
        results: dict[str, OperationResult] = {}
        try:
            with tarfile.open(fileobj=archive, mode="r:gz") as files:
                for member in files.getmembers():
                    content = files.extractfile(member) if member.isfile() else None
                    if content is None or not member.name.endswith(".json"):
                        continue
                    for item in json.load(content):
                        results[str(item.get("operation_id"))] = _result(item)
        except (tarfile.TarError, ValueError, AttributeError) as error:
            raise ApiError(f"Mailchimp's batch results could not be read: {error}") from None
        return results


def _result(item: dict[str, Any]) -> OperationResult:
    raw = item.get("response") or "{}"
    body = json.loads(raw) if isinstance(raw, str) else raw
    return OperationResult(int(item.get("status_code", 0)), body if isinstance(body, dict) else {})
