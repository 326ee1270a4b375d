"""Shopify's GraphQL Admin API: cost-aware queries and windowed reads of the pipeline's entities.

`ShopifyClient.fetch_updated_between` reads every record of an entity whose `updatedAt` lies in
[start, end), either page by page (pages sized from Shopify's cost rules to stay under the
1000-point single-query limit; a record whose nested list spills past its first page is completed
with follow-up queries) or as one bulk operation. Both paths yield the same dicts: the node's
fields as GraphQL returns them, nested connections as plain lists under the connection's name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pipeline.lib.clients import shopify_bulk
from pipeline.lib.clients.http import ApiError, ApiSession, RejectedCredentialsError
from pipeline.lib.clients.shopify_queries import (
    ENTITIES,
    MAX_QUERY_COST,
    Conn,
    Entity,
    page_query,
    page_size,
    rest_page_size,
    rest_query,
)

log = logging.getLogger(__name__)

# The Admin API version the pipeline speaks (the graphql.json URL names it; see SHOPIFY_API_URL).
SHOPIFY_API_VERSION = "2026-10"
SHOPIFY_ENTITIES = ("customers", "orders", "products", "abandoned_checkouts")


class QueryCostError(ApiError):
    """Shopify refused a query as too expensive (MAX_COST_EXCEEDED); `cost` is what it computed."""

    def __init__(self, message: str, cost: int | None) -> None:
        super().__init__(message)
        self.cost = cost


class ShopifyClient:
    """One shop's GraphQL Admin endpoint (`graphql_url` ends in `/graphql.json`)."""

    def __init__(
        self, graphql_url: str, access_token: str, session: ApiSession | None = None
    ) -> None:
        self.graphql_url = graphql_url
        self.session = session or ApiSession("Shopify", "SHOPIFY_ACCESS_TOKEN")
        access_token = self.session.credential(access_token)
        self._headers = {"X-Shopify-Access-Token": access_token, "Accept": "application/json"}

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one query or mutation and return its `data`.

        A THROTTLED answer waits until the cost bucket holds the query's requested cost
        ((requested - available) / restore rate, from `extensions.cost`) and asks again; any
        other GraphQL error is an ApiError.
        """
        body = {"query": query, "variables": variables or {}}
        for throttled in range(self.session.max_attempts):
            answer = self.session.request_json(
                "POST", self.graphql_url, json=body, headers=self._headers
            )
            errors = answer.get("errors") if isinstance(answer, dict) else None
            if not errors:
                if not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
                    raise ApiError("Shopify answered a query without data or errors")
                return answer["data"]
            if _code(errors) != "THROTTLED":
                raise self._error(errors)
            delay = self._throttle_wait(answer, throttled + 1)
            log.info("Shopify: query cost throttled; waiting %.1f s for the bucket", delay)
            self.session.stats.retries += 1
            self.session.wait(delay, throttled=True)
        raise ApiError(
            f"Shopify kept throttling the same query {self.session.max_attempts} times in a row: "
            "another app may be using this shop's API budget"
        )

    def fetch_updated_between(
        self, entity: str, start: datetime, end: datetime, *, bulk: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every `entity` record with start <= updatedAt < end (naive datetimes are UTC)."""
        if entity not in SHOPIFY_ENTITIES:
            raise ValueError(
                f"unknown Shopify entity {entity!r}; expected one of {SHOPIFY_ENTITIES}"
            )
        low, high = _utc(start), _utc(end)
        if low >= high:
            raise ValueError(f"empty window: start {low} is not before end {high}")
        search = f"updated_at:>='{low}' AND updated_at:<'{high}'"
        spec = ENTITIES[entity]
        if bulk:
            return shopify_bulk.run(self, spec, search)
        return self._pages(spec, search)

    def _pages(self, spec: Entity, search: str) -> Iterator[dict[str, Any]]:
        query, first, after = page_query(spec), page_size(spec), None
        while True:
            try:
                data = self.execute(query, {"first": first, "after": after, "query": search})
            except QueryCostError as exc:
                # Our estimate is conservative; if Shopify still counts more, shrink and ask again.
                if first == 1 or not exc.cost:
                    raise
                first = max(1, min(first - 1, first * MAX_QUERY_COST // exc.cost))
                log.warning("Shopify: page too expensive (%s points); %d per page", exc.cost, first)
                continue
            self.session.stats.pages += 1
            connection = data[spec.connection]
            for edge in connection["edges"]:
                yield self._complete(spec, edge["node"])
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = _next_cursor(connection["pageInfo"], after, spec.connection)

    def _complete(self, spec: Entity, node: dict[str, Any]) -> dict[str, Any]:
        """The node with each nested connection flattened to a list, fetching any later pages."""
        for name, conn in spec.nested.items():
            page = node[name]
            items = [edge["node"] for edge in page["edges"]]
            if page["pageInfo"]["hasNextPage"]:
                items += self._rest(spec, conn, node["id"], page["pageInfo"]["endCursor"])
            node[name] = items
        return node

    def _rest(self, spec: Entity, conn: Conn, gid: str, after: str) -> list[dict[str, Any]]:
        query, items = rest_query(spec, conn), []
        variables = {"query": f"id:{gid.rsplit('/', 1)[-1]}", "first": rest_page_size(conn)}
        while True:
            data = self.execute(query, {**variables, "after": after})
            self.session.stats.pages += 1
            edges = data[spec.connection]["edges"]
            if not edges:
                raise ApiError(
                    f"Shopify no longer returns {gid} while its {conn.name} were being read; "
                    "run the window again"
                )
            page = edges[0]["node"][conn.name]
            items += [edge["node"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return items
            after = _next_cursor(page["pageInfo"], after, conn.name)

    def _throttle_wait(self, answer: dict[str, Any], attempt: int) -> float:
        cost = (answer.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        requested, available = cost.get("requestedQueryCost"), status.get("currentlyAvailable")
        rate, maximum = status.get("restoreRate"), status.get("maximumAvailable")
        if None in (requested, available, rate, maximum) or not rate:
            return self.session.backoff(attempt)
        if requested > maximum:
            raise ApiError(
                f"Shopify's cost bucket holds {maximum:g} points, less than the {requested} "
                "this query needs"
            )
        # At least one point's worth, so a bucket that refilled meanwhile is not hammered.
        return max(requested - available, 1) / rate

    def _error(self, errors: Any) -> ApiError:
        if not isinstance(errors, list):
            return ApiError(f"Shopify rejected a query: {self.session.scrub(str(errors))}")
        messages = self.session.scrub(
            "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
        )
        code = _code(errors)
        if code == "MAX_COST_EXCEEDED":
            extensions = errors[0].get("extensions") or {}
            return QueryCostError(
                f"Shopify refused a query as too expensive: {messages}", extensions.get("cost")
            )
        if code == "ACCESS_DENIED":
            return RejectedCredentialsError(
                "Shopify refused access: check SHOPIFY_ACCESS_TOKEN and the scopes its app "
                f"was given ({messages})"
            )
        return ApiError(f"Shopify rejected a query: {messages}")


def _code(errors: Any) -> str | None:
    """The `extensions.code` of the first GraphQL error, if it has one."""
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return (errors[0].get("extensions") or {}).get("code")
    return None


def _utc(moment: datetime) -> str:
    """Shopify's search syntax wants UTC ISO-8601 with a Z."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _next_cursor(page_info: dict[str, Any], after: str | None, name: str) -> str:
    """The cursor of the next page; one equal to the current page's (or none) would read the
    same page for ever."""
    cursor = page_info.get("endCursor")
    if not cursor or cursor == after:
        raise ApiError(f"Shopify's next-page cursor for {name} repeats the current page")
    return cursor
