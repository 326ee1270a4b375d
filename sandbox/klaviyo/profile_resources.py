"""Klaviyo profile resources: a profile row (see `profiles.PROFILES_SQL`) as the JSON:API
object the API returns, with its subscriptions, sparse fields and `last_event_date`.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from sandbox.klaviyo.jsonapi import (
    ApiRequest,
    csv_param,
    invalid,
    iso,
    relationship_links,
    sparse,
)

_LOCATION_KEYS = "address1 address2 city country latitude longitude region zip timezone ip".split()


def last_event_dates(cur: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, Any]:
    """Each profile's latest event time, for the `last_event_date` attribute."""
    rows = cur.execute(
        "select profile_id, max(occurred_at) from v_events"
        " where list_contains(?, profile_id) group by profile_id",
        [ids],
    ).fetchall()
    return dict(rows)


def subscriptions(row: dict[str, Any]) -> dict[str, Any]:
    """`subscriptions.email.marketing` from the store's consent and suppression columns."""
    suppression = []
    if row["suppression_reason"]:
        stamp = row["suppression_timestamp"] or row["updated"]
        suppression = [{"reason": row["suppression_reason"], "timestamp": iso(stamp)}]
    stamps = [t for t in (row["consent_timestamp"], row["suppression_timestamp"]) if t]
    marketing = {
        "can_receive_email_marketing": bool(
            row["email"] and row["consent"] == "SUBSCRIBED" and not suppression
        ),
        "consent": row["consent"],
        "consent_timestamp": iso(row["consent_timestamp"]),
        "last_updated": iso(max(stamps)) if stamps else None,
        "method": row["consent_method"],
        "method_detail": None,
        "custom_method_detail": None,
        "double_optin": None,
        "suppression": suppression,
        "list_suppressions": [],
    }
    return {"email": {"marketing": marketing}}


def profile_resource(
    request: ApiRequest,
    row: dict[str, Any],
    *,
    fields: list[str],
    with_subscriptions: bool = False,
    last_event: Any = None,
) -> dict[str, Any]:
    """A profile resource object (attributes in Klaviyo's order)."""
    written = _json(row["written"])
    location = dict.fromkeys(_LOCATION_KEYS) | (written.get("location") or {})
    attributes = {
        "email": row["email"],
        "phone_number": row["phone_number"],
        "external_id": row["external_id"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "organization": written.get("organization"),
        "locale": written.get("locale"),
        "title": written.get("title"),
        "image": written.get("image"),
        "created": iso(row["created"]),
        "updated": iso(row["updated"]),
        "last_event_date": iso(last_event),
        "location": location,
        "properties": _json(row["properties"]),
    }
    if with_subscriptions:
        attributes["subscriptions"] = subscriptions(row)
    path = f"/api/profiles/{row['profile_id']}"
    return {
        "type": "profile",
        "id": row["profile_id"],
        "attributes": sparse(attributes, fields),
        "relationships": {
            "lists": relationship_links(request, path, "lists"),
            "segments": relationship_links(request, path, "segments"),
        },
        "links": {"self": request.link(path)},
    }


def _json(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def profile_options(request: ApiRequest) -> tuple[bool, list[str]]:
    """(with subscriptions, sparse fields) from `additional-fields[profile]`/`fields[profile]`."""
    extra = csv_param(
        request, "additional-fields[profile]", {"subscriptions", "predictive_analytics"}
    )
    if "predictive_analytics" in extra:
        raise invalid(
            "predictive_analytics is not available in the sandbox.",
            parameter="additional-fields[profile]",
        )
    return "subscriptions" in extra, csv_param(request, "fields[profile]")


def serialize_page(
    request: ApiRequest, cur: duckdb.DuckDBPyConnection, rows: list[dict], added: dict | None = None
) -> list[dict[str, Any]]:
    """Profile resources for a page of rows; `added` maps profile id to extra attributes."""
    with_subs, fields = profile_options(request)
    wants_last_event = not fields or "last_event_date" in fields
    ids = [row["profile_id"] for row in rows]
    last = last_event_dates(cur, ids) if wants_last_event and ids else {}
    data = []
    for row in rows:
        resource = profile_resource(
            request,
            row,
            fields=fields,
            with_subscriptions=with_subs,
            last_event=last.get(row["profile_id"]),
        )
        for name, value in (added or {}).get(row["profile_id"], {}).items():
            if not fields or name in fields:
                resource["attributes"][name] = value
        data.append(resource)
    return data
