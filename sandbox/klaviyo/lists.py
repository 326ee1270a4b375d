"""Klaviyo static lists and their profile memberships, kept in the sandbox state.

Membership never touches consent: adding a profile to a list is not a subscription, exactly as
Klaviyo documents for these endpoints. At most 1,000 profiles per add/remove call.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.context import SandboxContext
from sandbox.klaviyo.jsonapi import (
    ApiRequest,
    KlaviyoError,
    check_params,
    collection_links,
    csv_param,
    document,
    invalid,
    iso,
    not_found,
    page_size,
    relationship_links,
    request_cursor,
    sort_param,
    sparse,
)
from sandbox.klaviyo.paging import Order, keyset_page
from sandbox.klaviyo.profile_resources import serialize_page
from sandbox.klaviyo.profiles import PROFILES_SQL, existing_ids, register_state
from sandbox.klaviyo.query import fld, where_sql

MAX_MEMBERS_PER_CALL = 1000
_OPT_IN = {"double_opt_in", "single_opt_in"}
LIST_FILTERS = {
    "name": fld("name", "str", "any", "equals"),
    "id": fld("list_id", "str", "any", "equals"),
    "created": fld("created", "datetime", "greater-than"),
    "updated": fld("updated", "datetime", "greater-than"),
}
_RANGE = ("greater-or-equal", "greater-than", "less-or-equal", "less-than")
MEMBER_FILTERS = {
    "email": fld("email", "email", "any", "equals"),
    "phone_number": fld("phone_number", "str", "any", "equals"),
    # No push tokens or exchange ids exist in the sandbox.
    "push_token": fld("", "never", "any", "equals"),
    "_kx": fld("", "never", "equals"),
    "joined_group_at": fld("joined_group_at", "datetime", *_RANGE),
}
_MEMBERS_SQL = (
    f"select p.*, m.added_at as joined_group_at from st_members as m"
    f" join ({PROFILES_SQL}) as p using (profile_id)"
)


def list_resource(
    request: ApiRequest, row: dict[str, Any], *, fields: list[str], with_count: bool = False
) -> dict[str, Any]:
    attributes = {
        "name": row["name"],
        "created": iso(row["created"]),
        "updated": iso(row["updated"]),
        "opt_in_process": row["opt_in_process"],
    }
    if with_count:
        attributes["profile_count"] = row["profile_count"]
    path = f"/api/lists/{row['list_id']}"
    return {
        "type": "list",
        "id": row["list_id"],
        "attributes": sparse(attributes, fields),
        "relationships": {
            name: relationship_links(request, path, name)
            for name in ("profiles", "tags", "flow-triggers")
        },
        "links": {"self": request.link(path)},
    }


def _existing_list(ctx: SandboxContext, list_id: str) -> dict[str, Any]:
    row = ctx.state.get_list(list_id)
    if row is None:
        raise not_found(f"A list with id {list_id} does not exist.")
    return row


def get_lists(ctx: SandboxContext, request: ApiRequest) -> Response:
    allowed = {"fields[flow]", "fields[list]", "fields[tag]", "filter", "include"}
    check_params(request, allowed | {"page[cursor]", "page[size]", "sort"})
    include = csv_param(request, "include", {"flow-triggers", "tags"})
    size = page_size(request, 10, 10)
    sort, descending = sort_param(request, {"created", "id", "name", "updated"}, "id")
    token = request.query.get("sort", "id")
    where, params, _ = where_sql(request.query.get("filter"), LIST_FILTERS)
    keys = () if sort == "id" else ((sort, "timestamp" if sort != "name" else "varchar"),)
    with ctx.state.cursor() as cur:
        rows, next_c, prev_c = keyset_page(
            cur,
            f"select * from lists where {where}",
            params,
            Order((*keys, ("list_id", "varchar")), descending),
            token,
            request_cursor(request, token),
            size,
        )
    fields = csv_param(request, "fields[list]")
    body: dict[str, Any] = {
        "data": [list_resource(request, row, fields=fields) for row in rows],
        "links": collection_links(request, next_c, prev_c),
    }
    if include:
        body["included"] = []  # no tags or flows in the sandbox
    return document(body)


def get_list(ctx: SandboxContext, request: ApiRequest) -> Response:
    allowed = {"additional-fields[list]", "fields[flow]", "fields[list]", "fields[tag]"}
    check_params(request, allowed | {"include"})
    include = csv_param(request, "include", {"flow-triggers", "tags"})
    with_count = "profile_count" in csv_param(request, "additional-fields[list]", {"profile_count"})
    row = _existing_list(ctx, request.path_params["id"])
    fields = csv_param(request, "fields[list]")
    data = list_resource(request, row, fields=fields, with_count=with_count)
    body: dict[str, Any] = {"data": data, "links": {"self": str(request.url)}}
    if include:
        body["included"] = []
    return document(body)


def _list_attributes(payload: dict[str, Any], *, require_name: bool) -> dict[str, Any]:
    data = payload["data"]
    if not isinstance(data, dict) or data.get("type") != "list":
        raise invalid("`data.type` must be 'list'.", pointer="/data/type")
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        raise invalid("`data.attributes` is required.", pointer="/data/attributes")
    changes = {}
    name = attributes.get("name")
    if name is not None or require_name:
        if not isinstance(name, str) or not name.strip():
            raise invalid("A list needs a non-empty name.", pointer="/data/attributes/name")
        changes["name"] = name
    opt_in = attributes.get("opt_in_process")
    if opt_in is not None:
        if opt_in not in _OPT_IN:
            pointer = "/data/attributes/opt_in_process"
            raise invalid(f"'{opt_in}' is not a valid opt_in_process.", pointer=pointer)
        changes["opt_in_process"] = opt_in
    return changes


def create_list(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, {"fields[list]"})
    changes = _list_attributes(request.json_body(), require_name=True)
    row = ctx.state.create_list(
        changes["name"], changes.get("opt_in_process", "single_opt_in"), request.now
    )
    data = list_resource(request, row, fields=csv_param(request, "fields[list]"))
    return document({"data": data, "links": {"self": data["links"]["self"]}}, 201)


def update_list(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, {"fields[list]"})
    list_id = request.path_params["id"]
    payload = request.json_body()
    if isinstance(payload["data"], dict) and payload["data"].get("id") != list_id:
        raise KlaviyoError(409, "conflict", "`data.id` must match the list id in the URL.")
    changes = _list_attributes(payload, require_name=False)
    row = ctx.state.update_list(list_id, changes, request.now)
    if row is None:
        raise not_found(f"A list with id {list_id} does not exist.")
    data = list_resource(request, row, fields=csv_param(request, "fields[list]"))
    return document({"data": data, "links": {"self": data["links"]["self"]}})


def delete_list(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, set())
    if not ctx.state.delete_list(request.path_params["id"]):
        raise not_found(f"A list with id {request.path_params['id']} does not exist.")
    return document(None, 204)


def _member_ids(request: ApiRequest) -> list[str]:
    data = request.json_body()["data"]
    if not isinstance(data, list):
        raise invalid("`data` must be an array of profile identifiers.")
    if len(data) > MAX_MEMBERS_PER_CALL:
        raise invalid(f"At most {MAX_MEMBERS_PER_CALL} profiles can be sent per request.")
    ids = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or item.get("type") != "profile":
            raise invalid("Each item must have type 'profile'.", pointer=f"/data/{i}/type")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise invalid("Each item needs a profile id.", pointer=f"/data/{i}/id")
        ids.append(item["id"])
    return ids


def add_profiles(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, set())
    list_id = request.path_params["id"]
    ids = _member_ids(request)
    _existing_list(ctx, list_id)
    missing = sorted(set(ids) - existing_ids(ctx, ids))
    if missing:
        raise not_found(f"Profiles not found: {', '.join(missing[:10])}.")
    ctx.state.add_members(list_id, ids, request.now)
    return document(None, 204)


def remove_profiles(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, set())
    list_id = request.path_params["id"]
    ids = _member_ids(request)
    _existing_list(ctx, list_id)
    # Removing a non-member (or an erased profile) is a no-op, so cleanup retries stay safe.
    ctx.state.remove_members(list_id, ids)
    return document(None, 204)


def _members_page(ctx: SandboxContext, request: ApiRequest, serialize) -> dict[str, Any]:
    list_id = request.path_params["id"]
    _existing_list(ctx, list_id)
    size = page_size(request, 20, 100)
    _, descending = sort_param(request, {"joined_group_at"}, "joined_group_at")
    token = request.query.get("sort", "joined_group_at")
    where, params, _ = where_sql(request.query.get("filter"), MEMBER_FILTERS)
    order = Order((("joined_group_at", "timestamp"), ("profile_id", "varchar")), descending)
    with ctx.view.cursor() as cur:
        register_state(cur, ctx)
        cur.register("st_members", ctx.state.members_table(list_id))
        rows, next_c, prev_c = keyset_page(
            cur,
            f"select * from ({_MEMBERS_SQL}) where {where}",
            params,
            order,
            token,
            request_cursor(request, token),
            size,
        )
        data = serialize(cur, rows)
    return {"data": data, "links": collection_links(request, next_c, prev_c)}


def get_member_ids(ctx: SandboxContext, request: ApiRequest) -> Response:
    check_params(request, {"filter", "page[cursor]", "page[size]", "sort"})
    body = _members_page(
        ctx, request, lambda _cur, rows: [{"type": "profile", "id": r["profile_id"]} for r in rows]
    )
    return document(body)


def get_members(ctx: SandboxContext, request: ApiRequest) -> Response:
    allowed = {"additional-fields[profile]", "fields[profile]", "filter", "page[cursor]"}
    check_params(request, allowed | {"page[size]", "sort"})

    def serialize(cur, rows):
        joined = {r["profile_id"]: {"joined_group_at": iso(r["joined_group_at"])} for r in rows}
        return serialize_page(request, cur, rows, joined)

    return document(_members_page(ctx, request, serialize))
