"""Mailchimp's batch operations: `POST /batches`, `GET /batches/{batch_id}`, and the results.

A batch is a list of ordinary API calls (`method`, `path` relative to /3.0, optional `params`,
`body` as a JSON string, `operation_id`) that Mailchimp runs asynchronously, one after another:
the submit answers at once with status `pending`, `GET /batches/{batch_id}` reports progress
(`started`, then `finished` with `finished_operations` and `errored_operations`), and the
results wait at `response_body_url` as a gzipped tar archive of JSON files, each an array of
`{status_code, operation_id, response}` where `response` is the operation's answer as a string.
That URL is a presigned download in Mailchimp (no API key); here it is served under
`/sandbox/mailchimp/batch-results/`. Each operation runs through the same handlers as a direct
call, so a member upsert in a batch obeys exactly what `PUT .../members/{hash}` obeys
(`status_if_new`, merge field checks); an operation that fails counts as errored, the batch goes
on. A run of consecutive operations whose handler can answer many at once (member upserts) is
handed over whole, so it reads the audience once and saves in one transaction; each operation
is still answered as it would be alone, and progress advances by the run. Batches live in
memory: like Mailchimp's, their results are short-lived.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import tarfile
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.rest import (
    MailchimpError,
    McRequest,
    document,
    invalid,
    iso,
    not_found,
    select_fields,
)

RESULTS_PATH = "/sandbox/mailchimp/batch-results"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
Handler = Callable[[Audience, McRequest], Response]
# Answers many requests of one handler at once, each exactly as that handler alone would.
ManyHandler = Callable[[Audience, list[McRequest]], list[Response]]
Routed = tuple[Handler, McRequest] | MailchimpError


@dataclass
class Batch:
    """One submitted batch and, once run, its results archive."""

    id: str
    operations: list[dict[str, Any]]
    submitted_at: Any
    status: str = "pending"
    finished: int = 0
    errored: int = 0
    completed_at: Any = None
    archive: bytes | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def resource(self, request: McRequest) -> dict[str, Any]:
        with self.lock:
            body: dict[str, Any] = {
                "id": self.id,
                "status": self.status,
                "total_operations": len(self.operations),
                "finished_operations": self.finished,
                "errored_operations": self.errored,
                "submitted_at": iso(self.submitted_at),
                "response_body_url": "",
                "_links": [request.link(f"/batches/{self.id}", "self")],
            }
            if self.status == "finished":
                body["completed_at"] = iso(self.completed_at)
                origin = request.base.removesuffix("/3.0")
                body["response_body_url"] = f"{origin}{RESULTS_PATH}/{self.id}.tar.gz"
        return body


class BatchRunner:
    """Accepts batches and runs each in a background thread through `operations`' handlers."""

    def __init__(
        self,
        audience: Audience,
        operations: Mapping[str, Mapping[str, Handler]],
        grouped: Mapping[Handler, ManyHandler] | None = None,
    ):
        self.audience = audience
        self.grouped = dict(grouped or {})
        self.routes = [(_pattern(template), handlers) for template, handlers in operations.items()]
        self.batches: dict[str, Batch] = {}

    def submit(self, _: Audience, request: McRequest) -> Response:
        """POST /batches: check every operation's shape, answer `pending`, run in background."""
        operations = request.json_body().get("operations")
        if not isinstance(operations, list) or not all(_well_formed(o) for o in operations):
            message = (
                "operations must be a list of {method (GET, POST, PUT, PATCH, DELETE), path, "
                "params (object), body (JSON string), operation_id}."
            )
            raise invalid([{"field": "operations", "message": message}])
        batch = Batch(uuid.uuid4().hex[:10], operations, request.now)
        self.batches[batch.id] = batch
        answer = document(batch.resource(request))  # as submitted, before the run starts
        threading.Thread(target=self._run, args=(batch, request), daemon=True).start()
        return answer

    def status(self, _: Audience, request: McRequest) -> Response:
        """GET /batches/{batch_id}."""
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None:
            raise not_found()
        return document(select_fields(batch.resource(request), request.query))

    async def results(self, request: Request) -> Response:
        """The results archive of a finished batch (a presigned download: no API key)."""
        batch = self.batches.get(request.path_params["batch_id"])
        if batch is None or batch.archive is None:
            return Response(status_code=404)
        return Response(batch.archive, media_type="application/x-gzip")

    def _run(self, batch: Batch, submitted: McRequest) -> None:
        with batch.lock:
            batch.status = "started"
        results = []
        routed = [(operation, self._route(operation, submitted)) for operation in batch.operations]
        for _, run in itertools.groupby(enumerate(routed), key=self._run_key):
            calls = [call for _, call in run]
            answers = self._answer(calls)
            for (operation, _), answer in zip(calls, answers, strict=True):
                results.append(
                    {
                        "status_code": answer.status_code,
                        "operation_id": operation.get("operation_id"),
                        "response": bytes(answer.body).decode(),
                    }
                )
            with batch.lock:
                batch.finished += len(answers)
                batch.errored += sum(answer.status_code >= 400 for answer in answers)
        archive = _archive(batch.id, results)
        with batch.lock:
            batch.archive, batch.completed_at, batch.status = archive, submitted.now, "finished"

    def _run_key(self, item: tuple[int, tuple[dict, Routed]]) -> Any:
        """Consecutive operations of one handler that answers many at once share a key (its
        handler); every other operation runs alone."""
        index, (_, routed) = item
        if isinstance(routed, tuple) and routed[0] in self.grouped:
            return routed[0]
        return index

    def _answer(self, calls: list[tuple[dict, Routed]]) -> list[Response]:
        """The answers to one run of operations, in order, exactly as each alone would get."""
        first = calls[0][1]
        if isinstance(first, tuple) and first[0] in self.grouped:
            together = self.grouped[first[0]]
            return together(self.audience, [request for _, (_, request) in calls])
        if isinstance(first, MailchimpError):
            return [first.response()]
        handler, request = first
        try:
            return [handler(self.audience, request)]
        except MailchimpError as error:
            return [error.response()]

    def _route(self, operation: dict[str, Any], submitted: McRequest) -> Routed:
        """The handler of one operation and its request, or the problem it is answered with."""
        path = "/" + operation["path"].strip("/")
        for pattern, handlers in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            handler = handlers.get(operation["method"])
            if handler is None:
                return MailchimpError(405, "Method Not Allowed", f"{operation['method']} {path}")
            params = {k: str(v) for k, v in (operation.get("params") or {}).items()}
            request = McRequest(
                base=submitted.base,
                path_params=match.groupdict(),
                query=QueryParams(params),
                now=submitted.now,
                body=(operation.get("body") or "").encode(),
            )
            return handler, request
        return not_found()


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))


def _well_formed(operation: Any) -> bool:
    return (
        isinstance(operation, dict)
        and operation.get("method") in METHODS
        and isinstance(operation.get("path"), str)
        and isinstance(operation.get("params", {}), dict)
        and isinstance(operation.get("body", ""), str)
    )


def _archive(batch_id: str, results: list[dict[str, Any]]) -> bytes:
    """A gzipped tar holding one JSON file with every operation's result, as Mailchimp's."""
    payload = json.dumps(results).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(f"{batch_id}.json")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()
