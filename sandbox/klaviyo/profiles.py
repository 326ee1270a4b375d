"""Klaviyo profiles: the store's profiles merged with what clients wrote, and their endpoints.

A profile served by the emulator is the store row (`v_klaviyo_profiles`) or a profile a client
created through a bulk import, overlaid with client-written attributes and custom properties;
`updated` is the later of the store's value and the last client write. Deleted profiles vanish.
How a row becomes a JSON:API resource is in `profile_resources.py`.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
from starlette.responses import Response

from sandbox.context import SandboxContext
from sandbox.klaviyo.jsonapi import (
    ApiRequest,
    check_params,
    collection_links,
    csv_param,
    document,
    not_found,
    page_size,
    request_cursor,
    sort_param,
)
from sandbox.klaviyo.paging import Order, keyset_page
from sandbox.klaviyo.profile_resources import serialize_page
from sandbox.klaviyo.query import fld, where_sql

# Client-written attributes override the store's columns of the same name.
_OVERRIDES = ", ".join(
    f"coalesce(json_extract_string(w.attributes, '$.{c}'), s.{c}) as {c}"
    for c in ("first_name", "last_name", "phone_number")
)
PROFILES_SQL = f"""
select s.profile_id, s.email, {_OVERRIDES},
    json_extract_string(w.attributes, '$.external_id') as external_id,
    s.created, greatest(s.updated, coalesce(w.updated, s.updated)) as updated,
    s.consent, s.consent_timestamp, s.consent_method, s.suppression_reason,
    s.suppression_timestamp, w.attributes as written, w.properties
from (
    select profile_id, email, first_name, last_name, phone_number, created, updated, consent,
        consent_timestamp, consent_method, suppression_reason, suppression_timestamp
    from v_klaviyo_profiles
    union all
    select profile_id, email, null, null, phone_number, created, created, 'NEVER_SUBSCRIBED',
        null::timestamp, null, null, null::timestamp
    from st_created
) as s
left join st_writes as w using (profile_id)
where s.profile_id not in (select profile_id from st_deleted)
"""
PROFILE_FILTERS = {
    "id": fld("profile_id", "str", "equals", "any"),
    "email": fld("email", "email", "equals", "any"),
    "phone_number": fld("phone_number", "str", "equals", "any"),
    "external_id": fld("external_id", "str", "equals", "any"),
    "_kx": fld("", "never", "equals"),
    "created": fld("created", "datetime", "greater-than", "less-than"),
    "updated": fld("updated", "datetime", "greater-than", "less-than"),
    "subscriptions.email.marketing.suppression.reason": fld("suppression_reason", "str", "equals"),
    "subscriptions.email.marketing.suppression.timestamp": fld(
        "suppression_timestamp",
        "datetime",
        *("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
    ),
    # The store has no list-level suppressions, so these filters match nothing.
    "subscriptions.email.marketing.list_suppressions.reason": fld("", "never", "equals"),
    "subscriptions.email.marketing.list_suppressions.list_id": fld("", "never", "equals"),
    "subscriptions.email.marketing.list_suppressions.timestamp": fld(
        "", "never", *("greater-or-equal", "greater-than", "less-or-equal", "less-than")
    ),
}
_EPOCH = "timestamp '1970-01-01'"
PROFILE_SORTS = {
    "id": (),
    "created": (("created", "timestamp"),),
    "updated": (("updated", "timestamp"),),
    "email": (("coalesce(email, '')", "varchar"),),
    "subscriptions.email.marketing.suppression.timestamp": (
        (f"coalesce(suppression_timestamp, {_EPOCH})", "timestamp"),
    ),
    "subscriptions.email.marketing.list_suppressions.timestamp": (),
}
_LIST_PARAMS = {"additional-fields[profile]", "fields[profile]", "filter", "page[cursor]"}
_LIST_PARAMS |= {"page[size]", "sort", "include", "fields[conversation]", "fields[push-token]"}


def register_state(cur: duckdb.DuckDBPyConnection, ctx: SandboxContext) -> None:
    """Make the state's profile tables visible to `PROFILES_SQL` on this cursor."""
    for name, table in ctx.state.profile_tables().items():
        cur.register(f"st_{name}", table)


def existing_ids(ctx: SandboxContext, ids: list[str]) -> set[str]:
    """Which of `ids` are live (not deleted) profiles."""
    with ctx.view.cursor() as cur:
        register_state(cur, ctx)
        rows = cur.execute(
            f"select profile_id from ({PROFILES_SQL}) where list_contains(?, profile_id)", [ids]
        ).fetchall()
    return {row[0] for row in rows}


def ids_by(ctx: SandboxContext, column: str, values: list[str]) -> dict[str, list[str]]:
    """Live profile ids per email (trimmed, case-insensitive) or phone number, oldest first."""
    key = "lower(trim(email))" if column == "email" else "phone_number"
    wanted = pa.table({"v": pa.array(sorted(set(values)), pa.string())})
    with ctx.view.cursor() as cur:
        register_state(cur, ctx)
        cur.register("_wanted", wanted)
        rows = cur.execute(
            f"select {key}, profile_id from ({PROFILES_SQL})"
            f" where {key} in (select v from _wanted) order by created, profile_id"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for value, profile_id in rows:
        found.setdefault(value, []).append(profile_id)
    return found


def fetch_profiles(cur: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, dict]:
    """Live profile rows by id (the cursor must have `register_state` applied)."""
    result = cur.execute(
        f"select * from ({PROFILES_SQL}) where list_contains(?, profile_id)", [ids]
    )
    names = [d[0] for d in result.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in result.fetchall()}


def get_profiles(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, _LIST_PARAMS)
    csv_param(request, "include", {"conversations", "push-tokens"})
    size = page_size(request, 20, 100)
    sort, descending = sort_param(request, set(PROFILE_SORTS), "id")
    token = request.query.get("sort", "id")
    where, params, _ = where_sql(request.query.get("filter"), PROFILE_FILTERS)
    order = Order((*PROFILE_SORTS[sort], ("profile_id", "varchar")), descending)
    with ctx.view.cursor() as cur:
        register_state(cur, ctx)
        sql = f"select * from ({PROFILES_SQL}) where {where}"
        rows, next_c, prev_c = keyset_page(
            cur, sql, params, order, token, request_cursor(request, token), size
        )
        data = serialize_page(request, cur, rows)
    body: dict[str, Any] = {"data": data, "links": collection_links(request, next_c, prev_c)}
    if request.query.get("include"):
        # The sandbox has no push tokens or conversations: nothing to include.
        body["included"] = []
    return document(body)


def get_profile(ctx: SandboxContext, request: ApiRequest) -> Response:
    allowed = {"additional-fields[profile]", "fields[profile]", "include", "fields[list]"}
    allowed |= {"fields[conversation]", "fields[push-token]", "fields[segment]"}
    check_params(request, allowed)
    include = csv_param(request, "include", {"conversations", "lists", "push-tokens", "segments"})
    profile_id = request.path_params["id"]
    with ctx.view.cursor() as cur:
        register_state(cur, ctx)
        rows = fetch_profiles(cur, [profile_id])
        if profile_id not in rows:
            raise not_found(f"A profile with id {profile_id} does not exist.")
        data = serialize_page(request, cur, [rows[profile_id]])[0]
    body: dict[str, Any] = {"data": data, "links": {"self": str(request.url)}}
    if include:
        body["included"] = []
    if "lists" in include:
        # Local import: the lists module builds on this one.
        from sandbox.klaviyo.lists import list_resource

        list_ids = ctx.state.lists_of_profile(profile_id)
        data["relationships"]["lists"]["data"] = [{"type": "list", "id": i} for i in list_ids]
        fields = csv_param(request, "fields[list]")
        body["included"] = [
            list_resource(request, ctx.state.get_list(i), fields=fields) for i in list_ids
        ]
    return document(body)
