"""The sandbox Mailchimp account's one audience (list), its merge fields, and their endpoints.

The audience is named after the shop and has a stable id. Its members are the store's people who
have a usable email as of `now` (one member per lower-cased address) with their consent mapped to
a Mailchimp status — `subscribed`, `unsubscribed`, `cleaned` for a hard bounce, `transactional`
for someone who never subscribed, as Mailchimp's Shopify integration files customers — plus the
members clients added, all overlaid with what clients wrote (`mailchimp_state`), minus the
members deleted permanently.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

import pyarrow as pa
from starlette.responses import Response

from sandbox.context import SandboxContext
from sandbox.mailchimp.member_batch import MemberBatch
from sandbox.mailchimp.merge import (
    DEFAULT_FIELDS,
    MAX_FIELDS,
    field_resource,
    parse_definition,
)
from sandbox.mailchimp.rest import (
    McRequest,
    document,
    invalid,
    iso,
    not_found,
    select_fields,
)
from sandbox.mailchimp.state import MailchimpState
from sandbox.shopify.resolvers import ShopInfo

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
_BASE_SQL = r"""
select
    md5(email) as member_id,
    email as email_address,
    first_name,
    last_name,
    phone_number,
    case
        when suppression_reason = 'HARD_BOUNCE' then 'cleaned'
        when consent = 'SUBSCRIBED' then 'subscribed'
        when consent = 'UNSUBSCRIBED' then 'unsubscribed'
        else 'transactional'
    end as status,
    created as timestamp_signup,
    case when consent = 'SUBSCRIBED' then consent_timestamp end as timestamp_opt,
    updated as last_changed
from (select * replace (lower(trim(email)) as email) from v_klaviyo_profiles)
where regexp_full_match(email, '[^@\s]+@[^@\s]+\.[a-z]{2,}')
qualify row_number() over (partition by email order by created, profile_id) = 1
"""
# The store's people overlaid with client writes, minus deleted members (`query` registers mc_*).
MEMBERS_SQL = """
select
    coalesce(b.member_id, w.member_id) as member_id,
    coalesce(b.email_address, w.email_address) as email_address,
    coalesce(w.status, b.status) as status,
    b.first_name, b.last_name, b.phone_number, w.written,
    coalesce(b.timestamp_signup, w.created) as timestamp_signup,
    case when w.status is null then b.timestamp_opt end as timestamp_opt,
    greatest(b.last_changed, w.last_changed) as last_changed,
    coalesce((
        select list({'id': t.tag_id, 'name': t.name} order by t.added_at, t.tag_id)
        from mc_tags as t where t.member_id = coalesce(b.member_id, w.member_id)
    ), []) as tags
from mc_base as b full join mc_written as w on b.member_id = w.member_id
where coalesce(b.member_id, w.member_id) not in (select member_id from mc_deleted)
"""


def audience_id(name: str) -> str:
    """A stable 10-hex-digit list id (Mailchimp's id shape) derived from the audience name."""
    return hashlib.md5(name.encode()).hexdigest()[:10]


class Audience:
    """The one audience of the sandbox account: store members, client writes, merge fields."""

    def __init__(self, ctx: SandboxContext, name: str = ShopInfo().name) -> None:
        self.ctx, self.name = ctx, name
        self.list_id = audience_id(name)
        self.state = MailchimpState(ctx.state)
        self._base: pa.Table | None = None
        self._base_index: dict[str, dict[str, Any]] = {}
        # Guards `_base` only, and is never held while taking the state's lock: a member batch
        # holds that one while it reads the store side.
        self._lock = threading.Lock()

    def check(self, request: McRequest) -> None:
        """404 unless the request's `list_id` is this audience."""
        if request.path_params["list_id"] != self.list_id:
            raise not_found()

    def fields(self) -> list[dict[str, Any]]:
        """Every merge field definition, defaults first."""
        return DEFAULT_FIELDS + self.state.merge_fields(self.list_id)

    def add_field(self, definition: dict[str, Any]) -> dict[str, Any] | None:
        """Store a new merge field; None when its tag is taken."""
        taken = {f["tag"] for f in DEFAULT_FIELDS}
        first_id = len(DEFAULT_FIELDS) + 1
        return self.state.add_merge_field(self.list_id, definition, first_id, taken)

    def query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Rows of `sql` run over `members` (the audience's members as MEMBERS_SQL defines)."""
        with self.ctx.view.cursor() as cur:
            cur.register("mc_base", self._base_members())
            cur.register("mc_written", self.state.members_table(self.list_id))
            cur.register("mc_tags", self.state.tags_table(self.list_id))
            cur.register("mc_deleted", self.state.deleted_table(self.list_id))
            result = cur.execute(f"with members as ({MEMBERS_SQL}) {sql}", params)
            names = [d[0] for d in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def member(self, member_id: str) -> dict[str, Any] | None:
        """One member as a MEMBERS_SQL row, or None (see `member_in`)."""
        with self.state.member_batch(self.list_id, [member_id]) as batch:
            return self.member_in(batch, member_id)

    def member_batch(self, member_ids: Iterable[str]) -> AbstractContextManager[MemberBatch]:
        """What clients wrote about `member_ids`, read once, saved when the block ends."""
        return self.state.member_batch(self.list_id, member_ids)

    def member_in(self, batch: MemberBatch, member_id: str) -> dict[str, Any] | None:
        """One member as a MEMBERS_SQL row, combined in Python from the store's side and what
        `batch` holds: a point lookup per upsert must cost far less than a query (a test holds
        the two definitions equal)."""
        self._base_members()
        base = self._base_index.get(member_id)
        written = batch.written(member_id)
        # A deleted member's writes are gone, so only a store person can hide behind a tombstone.
        if written is None and (base is None or batch.is_deleted(member_id)):
            return None
        base, written = base or {}, written or {}
        stamps = [t for t in (base.get("last_changed"), written.get("last_changed")) if t]
        return {
            "member_id": member_id,
            "email_address": base.get("email_address") or written["email_address"],
            "status": written.get("status") or base["status"],
            "first_name": base.get("first_name"),
            "last_name": base.get("last_name"),
            "phone_number": base.get("phone_number"),
            "written": written.get("written"),
            "timestamp_signup": base.get("timestamp_signup") or written.get("created"),
            "timestamp_opt": None if written.get("status") else base.get("timestamp_opt"),
            "last_changed": max(stamps),
            "tags": batch.tags(member_id),
        }

    def _base_members(self) -> pa.Table:
        # The store is fixed at `now`, so its side of the audience is computed once.
        with self._lock:
            if self._base is None:
                with self.ctx.view.cursor() as cur:
                    self._base = cur.sql(_BASE_SQL).to_arrow_table()
                self._base_index = {row["member_id"]: row for row in self._base.to_pylist()}
            return self._base

    def resource(self, request: McRequest) -> dict[str, Any]:
        """The list object, with statistics over its members."""
        (stats,) = self.query(
            "select count(*) filter (where status = 'subscribed') as member_count,"
            " count(*) filter (where status = 'unsubscribed') as unsubscribe_count,"
            " count(*) filter (where status = 'cleaned') as cleaned_count,"
            " count(*) as total_contacts, min(timestamp_signup) as date_created,"
            " max(timestamp_opt) as last_sub_date from members",
            [],
        )
        path = f"/lists/{self.list_id}"
        shop = ShopInfo()
        statistics = {
            key: stats[key] for key in ("member_count", "unsubscribe_count", "cleaned_count")
        }
        statistics |= {"member_count_since_send": 0, "unsubscribe_count_since_send": 0}
        statistics |= {"cleaned_count_since_send": 0, "campaign_count": 0}
        statistics |= {"merge_field_count": len(self.fields()), "avg_sub_rate": 0}
        statistics |= {"avg_unsub_rate": 0, "target_sub_rate": 0, "open_rate": 0}
        statistics |= {"click_rate": 0}
        if stats["last_sub_date"]:
            statistics["last_sub_date"] = iso(stats["last_sub_date"])
        if request.flag("include_total_contacts"):
            statistics["total_contacts"] = stats["total_contacts"]
        return {
            "id": self.list_id,
            "web_id": int(self.list_id[:6], 16),
            "name": self.name,
            "contact": {
                "company": self.name,
                "address1": "1 Roastery Lane",
                "city": "Portland",
                "state": "OR",
                "zip": "97201",
                "country": "US",
            },
            "permission_reminder": f"You signed up for news from {self.name}.",
            "use_archive_bar": False,
            "campaign_defaults": {
                "from_name": self.name,
                "from_email": f"news@{shop.myshopify_domain}",
                "subject": "",
                "language": "en",
            },
            "notify_on_subscribe": "",
            "notify_on_unsubscribe": "",
            "date_created": iso(stats["date_created"] or request.now),
            "list_rating": 3,
            "email_type_option": False,
            "subscribe_url_short": f"https://eepurl.com/{self.list_id[:6]}",
            "subscribe_url_long": f"https://{shop.myshopify_domain}/subscribe?id={self.list_id}",
            "beamer_address": f"{self.list_id}@inbound.mailchimp.com",
            "visibility": "pub",
            "double_optin": False,
            "has_welcome": False,
            "marketing_permissions": False,
            "modules": [],
            "stats": statistics,
            "_links": [
                request.link(path, "self"),
                request.link("/lists", "parent"),
                request.link(f"{path}/members", "members"),
                request.link(f"{path}/merge-fields", "merge-fields"),
            ],
        }


def get_lists(audience: Audience, request: McRequest) -> Response:
    count, offset = request.paging()
    lists = [audience.resource(request)]
    email = request.query.get("email")
    if email and not audience.query(
        "select 1 from members where email_address = lower(trim(?))", [email]
    ):
        lists = []
    body = {
        "lists": lists[offset : offset + count],
        "total_items": len(lists),
        "constraints": {"may_create": False, "max_instances": 1, "current_total_instances": 1},
        "_links": [request.link("/lists", "self")],
    }
    return document(select_fields(body, request.query))


def get_list(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    return document(select_fields(audience.resource(request), request.query))


def get_merge_fields(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    count, offset = request.paging()
    fields = audience.fields()
    if "type" in request.query:
        fields = [f for f in fields if f["type"] == request.query["type"]]
    if "required" in request.query:
        fields = [f for f in fields if f["required"] == request.flag("required")]
    list_id = audience.list_id
    body = {
        "merge_fields": [field_resource(request, list_id, f) for f in fields][
            offset : offset + count
        ],
        "list_id": list_id,
        "total_items": len(fields),
        "_links": [request.link(f"/lists/{list_id}/merge-fields", "self")],
    }
    return document(select_fields(body, request.query))


def create_merge_field(audience: Audience, request: McRequest) -> Response:
    audience.check(request)
    definition = parse_definition(request.json_body())
    if len(audience.fields()) >= MAX_FIELDS:
        message = f"An audience can have at most {MAX_FIELDS} merge fields."
        raise invalid([{"field": "tag", "message": message}])
    stored = audience.add_field(definition)
    if stored is None:
        message = f'A Merge Field with the tag "{definition["tag"]}" already exists for this list.'
        raise invalid([{"field": "tag", "message": message}], detail=message)
    return document(field_resource(request, audience.list_id, stored))
