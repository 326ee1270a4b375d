"""Shopify's GraphQL Admin API, emulated over the sandbox store and served by Starlette.

`shopify_routes(ctx, bulk_dir=...)` returns the routes the sandbox server mounts:

- `POST /admin/api/{version}/graphql.json`: authenticated by `X-Shopify-Access-Token`; the
  query is parsed, validated and executed by graphql-core against the Shopify schema subset,
  after Shopify's cost check (single-query limit, then the leaky bucket). Every executed
  response carries `extensions.cost`, and `extensions.search` when a `query:` term was ignored.
- `GET /bulk-operation-outputs/{n}.jsonl`: the result file of a bulk query operation (the
  `url` Shopify hands out is a signed storage URL that needs no token either).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.context import SandboxContext
from sandbox.shopify.bulk import BulkOperations
from sandbox.shopify.cost import (
    BUCKET_SIZE,
    MAX_QUERY_COST,
    RESTORE_RATE,
    LeakyBucket,
    QueryCost,
)
from sandbox.shopify.resolvers import ExecContext, ShopInfo, executable_schema
from sandbox.shopify.validation import SHOPIFY_RULES

log = logging.getLogger(__name__)

AUTH_ERROR = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
MISSING_QUERY = {"errors": {"query": "Required parameter missing or invalid"}}
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
_VERSION = re.compile(r"\d{4}-\d{2}|unstable")


def _max_cost_error(cost: int) -> dict[str, Any]:
    message = (
        f"Query cost is {cost}, which exceeds the single query max cost limit "
        f"({MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for "
        "more information on how the\ncost of a query is calculated.\n\nTo query larger "
        "amounts of data with fewer limits, bulk operations should be used instead.\nSee "
        "https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
    )
    return {
        "message": message,
        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST},
    }


def _formatted(error: GraphQLError) -> dict[str, Any]:
    """An execution error as Shopify shows it; unexpected failures do not leak internals."""
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        log.exception("Shopify emulator resolver failed", exc_info=original)
        return {
            "message": "Internal error. Looks like something went wrong on our end.",
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
    return error.formatted


def default_shop(ctx: SandboxContext) -> ShopInfo:
    """The sandbox shop, its currency being the one the store's orders are in."""
    cursor = ctx.view.cursor()
    try:
        row = cursor.execute(
            "SELECT currency FROM v_orders GROUP BY currency ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    finally:
        cursor.close()
    return ShopInfo(currency_code=row[0]) if row else ShopInfo()


class ShopifyService:
    """One shop's GraphQL endpoint: cost checks, execution and bulk operations."""

    def __init__(self, ctx: SandboxContext, shop: ShopInfo, bulk_dir: Path) -> None:
        self.ctx = ctx
        self.shop = shop
        self.schema = executable_schema()
        scale = ctx.rate_limit_scale
        self.bucket = LeakyBucket(BUCKET_SIZE * scale, RESTORE_RATE * scale, ctx.clock)
        self.bulk = BulkOperations(ctx, shop, bulk_dir)

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": self.bucket.status(),
        }

    def handle(self, body: dict[str, Any], version: str, base_url: str) -> tuple[int, dict]:
        """Run one GraphQL request; returns the HTTP status and JSON body Shopify would send."""
        request = _read_body(body)
        if request is None:
            return 400, MISSING_QUERY
        prepared = self._prepare(*request)
        if isinstance(prepared, list):
            return 200, {"errors": [e.formatted for e in prepared]}
        refusal = self._admit(prepared.requested)
        if refusal is not None:
            return 200, refusal
        return 200, self._execute(prepared, version, base_url)

    def _prepare(
        self, query: str, variables: dict[str, Any], operation_name: str | None
    ) -> _Prepared | list[GraphQLError]:
        """Parse, validate and coerce variables; the errors Shopify would return otherwise."""
        try:
            document = parse(query)
        except GraphQLError as exc:
            return [exc]
        errors = validate(self.schema, document, SHOPIFY_RULES)
        operation = get_operation_ast(document, operation_name)
        if errors or operation is None:
            # Without errors, execution words the operation-selection problem for us.
            return errors or list(
                execute(self.schema, document, operation_name=operation_name).errors or []
            )
        coerced = get_variable_values(self.schema, operation.variable_definitions, variables)
        if isinstance(coerced, list):
            return coerced
        cost = QueryCost(self.schema, document, coerced)
        return _Prepared(document, operation, variables, cost, cost.requested(operation))

    def _admit(self, requested: int) -> dict[str, Any] | None:
        """Shopify's checks before execution: the single-query limit, then the bucket."""
        if requested > MAX_QUERY_COST:
            error = _max_cost_error(requested)
        elif not self.bucket.try_take(requested):
            error = {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS},
            }
        else:
            return None
        return {"errors": [error], "extensions": {"cost": self._cost(requested, None)}}

    def _execute(self, prepared: _Prepared, version: str, base_url: str) -> dict[str, Any]:
        cursor = self.ctx.view.cursor()
        context = ExecContext(cursor, self.shop, bulk_ops=self.bulk.for_request(version, base_url))
        try:
            result = execute(
                self.schema,
                prepared.document,
                context_value=context,
                variable_values=prepared.variables,
                operation_name=prepared.operation.name.value if prepared.operation.name else None,
            )
        finally:
            cursor.close()
        requested = prepared.requested
        # Mutations cost a flat 10; a request that returned no data is charged as requested.
        if prepared.operation.operation == OperationType.MUTATION or result.data is None:
            actual = requested
        else:
            actual = min(prepared.cost.actual(prepared.operation, result.data), requested)
        self.bucket.refund(requested - actual)

        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [_formatted(e) for e in result.errors]
        payload["data"] = result.data
        payload["extensions"] = {"cost": self._cost(requested, actual)}
        if context.search:
            payload["extensions"]["search"] = context.search
        return payload


@dataclass(frozen=True)
class _Prepared:
    """A validated operation ready to run, with its requested cost."""

    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any]
    cost: QueryCost
    requested: int


def _read_body(body: dict[str, Any]) -> tuple[str, dict[str, Any], str | None] | None:
    """(query, variables, operationName) from a request body; None when Shopify answers 400."""
    query, variables = body.get("query"), body.get("variables") or {}
    if isinstance(variables, str):
        try:
            variables = json.loads(variables or "{}")
        except ValueError:
            return None
    if not isinstance(query, str) or not query.strip() or not isinstance(variables, dict):
        return None
    return query, variables, body.get("operationName")


def shopify_routes(
    ctx: SandboxContext, *, bulk_dir: Path, shop: ShopInfo | None = None
) -> list[BaseRoute]:
    """The Shopify Admin API routes for the sandbox server to mount."""
    service = ShopifyService(ctx, shop or default_shop(ctx), bulk_dir)

    async def graphql(request: Request) -> Response:
        version = request.path_params["version"]
        if not _VERSION.fullmatch(version):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if request.headers.get("X-Shopify-Access-Token") != ctx.api_token:
            return JSONResponse(AUTH_ERROR, status_code=401)
        raw = await request.body()
        if "application/graphql" in request.headers.get("content-type", ""):
            body: Any = {"query": raw.decode("utf-8", "replace")}
        else:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return JSONResponse(MISSING_QUERY, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse(MISSING_QUERY, status_code=400)
        base_url = str(request.base_url).rstrip("/")
        status, payload = await run_in_threadpool(service.handle, body, version, base_url)
        return JSONResponse(payload, status_code=status, headers={"X-Shopify-API-Version": version})

    async def bulk_output(request: Request) -> Response:
        path = service.bulk.result_path(request.path_params["number"])
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(path, media_type="application/jsonl", filename=path.name)

    return [
        Route("/admin/api/{version}/graphql.json", graphql, methods=["POST"]),
        Route("/bulk-operation-outputs/{number:int}.jsonl", bulk_output, methods=["GET"]),
    ]
