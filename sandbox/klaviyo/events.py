"""Klaviyo metrics and events endpoints over the store's `v_metrics` and `v_events` views.

Events page in (occurred_at, event_id) order, the store's stable order, so a cursor never skips
or repeats an event. Events of deleted profiles are hidden.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import duckdb
from starlette.responses import Response

from sandbox.context import SandboxContext
from sandbox.klaviyo.jsonapi import (
    ApiRequest,
    check_params,
    collection_links,
    csv_param,
    document,
    iso,
    not_found,
    page_size,
    relationship_links,
    request_cursor,
    sort_param,
    sparse,
)
from sandbox.klaviyo.paging import Order, keyset_page
from sandbox.klaviyo.profile_resources import profile_resource
from sandbox.klaviyo.profiles import fetch_profiles, register_state
from sandbox.klaviyo.query import fld, where_sql

METRICS_SQL = (
    "select metric_id, name, integration_name, integration_category, created, updated"
    " from v_metrics"
)
METRIC_FILTERS = {
    "integration.name": fld("integration_name", "str", "equals"),
    "integration.category": fld("integration_category", "str", "equals"),
}
EVENTS_SQL = (
    "select event_id, metric_id, profile_id, occurred_at, tz_offset_minutes, value, properties,"
    " event_uuid from v_events where profile_id not in (select profile_id from st_deleted)"
)
_RANGE = ("greater-or-equal", "greater-than", "less-or-equal", "less-than")
EVENT_FILTERS = {
    "metric_id": fld("metric_id", "str", "equals"),
    "profile_id": fld("profile_id", "str", "equals"),
    # Every stored event has a profile and a metric.
    "profile": fld("", "always", "has"),
    "metric": fld("", "always", "has"),
    "datetime": fld("occurred_at", "datetime", *_RANGE),
    "timestamp": fld("occurred_at", "timestamp", *_RANGE),
}
_EVENT_KEY = (("occurred_at", "timestamp"), ("event_id", "varchar"))
_METRIC_PAGE = 200  # GET /api/metrics has no page[size]; Klaviyo returns up to 200 per page.
_EPOCH = datetime(1970, 1, 1)


def _rows(result: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def metric_resource(request: ApiRequest, row: dict[str, Any], fields: list[str]) -> dict:
    name = row["integration_name"]
    integration = {
        "object": "integration",
        # Klaviyo's integration ids are short opaque strings; derive a stable one from the name.
        "id": hashlib.sha1(name.encode()).hexdigest()[:6],
        "key": name.lower().replace(" ", "_"),
        "name": name,
        "category": row["integration_category"],
    }
    path = f"/api/metrics/{row['metric_id']}"
    attributes = {
        "name": row["name"],
        "created": iso(row["created"]),
        "updated": iso(row["updated"]),
        "integration": integration,
    }
    return {
        "type": "metric",
        "id": row["metric_id"],
        "attributes": sparse(attributes, fields),
        "relationships": {"flow-triggers": relationship_links(request, path, "flow-triggers")},
        "links": {"self": request.link(path)},
    }


def get_metrics(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, {"fields[flow]", "fields[metric]", "filter", "include", "page[cursor]"})
    csv_param(request, "include", {"flow-triggers"})
    where, params, _ = where_sql(request.query.get("filter"), METRIC_FILTERS)
    with ctx.view.cursor() as cur:
        rows, next_c, prev_c = keyset_page(
            cur,
            f"{METRICS_SQL} where {where}",
            params,
            Order((("metric_id", "varchar"),)),
            "id",
            request_cursor(request, "id"),
            _METRIC_PAGE,
        )
    fields = csv_param(request, "fields[metric]")
    body: dict[str, Any] = {
        "data": [metric_resource(request, row, fields) for row in rows],
        "links": collection_links(request, next_c, prev_c),
    }
    if request.query.get("include"):
        body["included"] = []  # no flows in the sandbox
    return document(body)


def get_metric(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, {"fields[flow]", "fields[metric]", "include"})
    include = csv_param(request, "include", {"flow-triggers"})
    with ctx.view.cursor() as cur:
        rows = _rows(cur.execute(f"{METRICS_SQL} where metric_id = ?", [request.path_params["id"]]))
    if not rows:
        raise not_found(f"A metric with id {request.path_params['id']} does not exist.")
    body: dict[str, Any] = {
        "data": metric_resource(request, rows[0], csv_param(request, "fields[metric]")),
        "links": {"self": str(request.url)},
    }
    if include:
        body["included"] = []
    return document(body)


def event_resource(request: ApiRequest, row: dict[str, Any], fields: list[str]) -> dict:
    properties = json.loads(row["properties"]) if row["properties"] else {}
    if row["value"] is not None:
        properties["$value"] = row["value"]
    attributes = {
        "timestamp": int((row["occurred_at"] - _EPOCH).total_seconds()),
        "event_properties": properties,
        "datetime": iso(row["occurred_at"], row["tz_offset_minutes"] or 0),
        "uuid": row["event_uuid"],
    }
    path = f"/api/events/{row['event_id']}"
    relationships = {
        name: {"data": {"type": name, "id": row[f"{name}_id"]}}
        | relationship_links(request, path, name)
        for name in ("profile", "metric")
    }
    relationships["attributions"] = relationship_links(request, path, "attributions")
    return {
        "type": "event",
        "id": row["event_id"],
        "attributes": sparse(attributes, fields),
        "relationships": relationships,
        "links": {"self": request.link(path)},
    }


def get_events(ctx: SandboxContext, request: ApiRequest) -> Response:
    allowed = {"fields[attribution]", "fields[event]", "fields[metric]", "fields[profile]"}
    check_params(request, allowed | {"filter", "include", "page[cursor]", "page[size]", "sort"})
    include = csv_param(request, "include", {"attributions", "metric", "profile"})
    size = page_size(request, 200, 1000)
    _, descending = sort_param(request, {"datetime", "timestamp"}, "datetime")
    # datetime and timestamp are the same instant, so both sorts share one cursor space.
    token = "-datetime" if descending else "datetime"
    where, params, _ = where_sql(request.query.get("filter"), EVENT_FILTERS)
    with ctx.view.cursor() as cur:
        register_state(cur, ctx)
        rows, next_c, prev_c = keyset_page(
            cur,
            f"select * from ({EVENTS_SQL}) where {where}",
            params,
            Order(_EVENT_KEY, descending),
            token,
            request_cursor(request, token),
            size,
        )
        included = _included(ctx, request, cur, rows, include)
    fields = csv_param(request, "fields[event]")
    body: dict[str, Any] = {
        "data": [event_resource(request, row, fields) for row in rows],
        "links": collection_links(request, next_c, prev_c),
    }
    if include:
        body["included"] = included
    return document(body)


def _included(
    ctx: SandboxContext,
    request: ApiRequest,
    cur: duckdb.DuckDBPyConnection,
    rows: list[dict[str, Any]],
    include: list[str],
) -> list[dict[str, Any]]:
    """Each metric and profile the page refers to, once."""
    included = []
    if "metric" in include and rows:
        ids = sorted({row["metric_id"] for row in rows})
        metrics = _rows(cur.execute(f"{METRICS_SQL} where list_contains(?, metric_id)", [ids]))
        fields = csv_param(request, "fields[metric]")
        included += [metric_resource(request, m, fields) for m in metrics]
    if "profile" in include and rows:
        ids = sorted({row["profile_id"] for row in rows})
        fields = csv_param(request, "fields[profile]")
        profiles = fetch_profiles(cur, ids)
        # last_event_date is left null here: one more scan of all events per page costs too much.
        included += [
            profile_resource(request, profiles[i], fields=fields) for i in ids if i in profiles
        ]
    return included
