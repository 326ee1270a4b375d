"""Mailchimp campaigns and their per-recipient reports, served from the simulated shop.

Served: `GET /campaigns` (the shop's newsletters as sent campaigns of the one audience,
`since_send_time` / `before_send_time` / `status` / `type` filters), `GET /reports/{campaign_id}/
email-activity` (one entry per recipient with their opens, clicks and bounces; `since` keeps
only activity after that instant and the recipients who have some), and
`GET /reports/{campaign_id}/unsubscribed` (who left through the campaign, and when; a spam
complaint unsubscribes too, with reason `abuse`). Every collection pages with `count`/`offset`.

Grain of the activity table behind them: one row per (campaign, recipient, action, instant),
built once from the same simulated email events the Klaviyo emulator serves (`v_events`), so a
person's sends, opens, clicks, bounces and unsubscribes are the same on both platforms. A
recipient is everyone a campaign reached, bounced or not (Mailchimp counts bounces as sent).
Members deleted permanently disappear from every report, as Mailchimp forgets them.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pyarrow as pa
from starlette.responses import Response

from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.rest import (
    McRequest,
    document,
    instant_param,
    invalid,
    iso,
    not_found,
    select_fields,
    without_nulls,
)

# Which simulated email event is which Mailchimp activity ("sent" marks a recipient).
_ACTIONS = {
    "Received Email": "sent",
    "Bounced Email": "bounce",
    "Opened Email": "open",
    "Clicked Email": "click",
    "Unsubscribed from Email Marketing": "unsubscribe",
    "Marked Email as Spam": "abuse",
}
_ACTIVITY_SQL = r"""
select
    try_cast(e.properties ->> '$."$message"' as integer) as campaign_number,
    md5(p.email) as email_id,
    p.email as email_address,
    a.action,
    lower(e.properties ->> '$."Bounce Type"') as bounce_type,
    e.occurred_at,
    e.event_id
from v_events as e
inner join v_metrics as m on e.metric_id = m.metric_id
inner join actions as a on m.name = a.metric
inner join (select profile_id, lower(trim(email)) as email from v_klaviyo_profiles) as p
    on e.profile_id = p.profile_id
where
    e.properties ->> '$."$message"' is not null
    and regexp_full_match(p.email, '[^@\s]+@[^@\s]+\.[a-z]{2,}')
"""
_STATUSES = ("save", "paused", "schedule", "sending", "sent", "canceled", "canceling", "archived")


def campaign_key(number: int) -> str:
    """A stable 10-hex-digit campaign id (Mailchimp's id shape) for the shop's campaign number."""
    return hashlib.md5(f"campaign:{number}".encode()).hexdigest()[:10]


class Reports:
    """Campaigns and reports of the audience; the activity table is built on first use."""

    def __init__(self, audience: Audience) -> None:
        self.audience = audience
        self._activity: pa.Table | None = None
        self._campaigns: dict[str, dict[str, Any]] | None = None  # by campaign id
        self._lock = threading.RLock()

    def query(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of `sql` over `activity` (minus deleted members) and `campaigns`."""
        audience = self.audience
        with audience.ctx.view.cursor() as cur:
            cur.register("mc_activity", self._activity_table())
            cur.register("mc_deleted", audience.state.deleted_table(audience.list_id))
            result = cur.execute(
                "with activity as (select * from mc_activity where email_id not in"
                " (select member_id from mc_deleted)),"
                " campaigns as (select campaign_id as number, name, sent_at from v_campaigns)"
                f" {sql}",
                params,
            )
            names = [d[0] for d in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def _activity_table(self) -> pa.Table:
        # The store is fixed at `now`, so the activity is computed once.
        with self._lock:
            if self._activity is None:
                actions = pa.table({"metric": list(_ACTIONS), "action": list(_ACTIONS.values())})
                with self.audience.ctx.view.cursor() as cur:
                    cur.register("actions", actions)
                    self._activity = cur.sql(_ACTIVITY_SQL).to_arrow_table()
            return self._activity

    def campaign(self, request: McRequest) -> dict[str, Any]:
        """The campaign the path names, as a campaigns row; 404 when there is none."""
        with self._lock:
            if self._campaigns is None:
                rows = self.query("select * from campaigns", {})
                self._campaigns = {campaign_key(row["number"]): row for row in rows}
        row = self._campaigns.get(request.path_params["campaign_id"])
        if row is None:
            raise not_found()
        return row

    def campaign_resource(self, request: McRequest, row: dict[str, Any]) -> dict[str, Any]:
        audience = self.audience
        key = campaign_key(row["number"])
        return without_nulls(
            {
                "id": key,
                "web_id": row["number"],
                "type": "regular",
                "create_time": iso(row["sent_at"]),
                "status": "sent",
                "emails_sent": row["emails_sent"],
                "send_time": iso(row["sent_at"]),
                "content_type": "template",
                "needs_block_refresh": False,
                "resendable": False,
                "recipients": {
                    "list_id": audience.list_id,
                    "list_is_active": True,
                    "list_name": audience.name,
                    "recipient_count": row["emails_sent"],
                },
                "settings": {
                    "subject_line": row["name"],
                    "title": row["name"],
                    "from_name": audience.name,
                },
                "tracking": {"opens": True, "html_clicks": True, "text_clicks": False},
                "_links": [
                    request.link(f"/campaigns/{key}", "self"),
                    request.link(f"/reports/{key}/email-activity", "email-activity"),
                ],
            }
        )


def get_campaigns(reports: Reports, request: McRequest) -> Response:
    count, offset = request.paging()
    status = request.query.get("status")
    if status is not None and status not in _STATUSES:
        raise invalid([{"field": "status", "message": f"Status must be one of {_STATUSES}."}])
    kind = request.query.get("type")
    list_id = request.query.get("list_id")
    since = instant_param(request, "since_send_time")
    before = instant_param(request, "before_send_time")
    # Every campaign of the sandbox is a regular one, sent to the one audience.
    nothing = (status not in (None, "sent")) or (kind not in (None, "regular"))
    nothing = nothing or (list_id is not None and list_id != reports.audience.list_id)
    where = "where ($since is null or sent_at > $since) and ($before is null or sent_at < $before)"
    rows = (
        []
        if nothing
        else reports.query(
            "select c.*, count(distinct (a.email_id, a.occurred_at)) as emails_sent"
            " from campaigns as c left join activity as a on a.campaign_number = c.number"
            f" and a.action in ('sent', 'bounce') {where}"
            " group by all order by sent_at, number",
            {"since": since, "before": before},
        )
    )
    body = {
        "campaigns": [reports.campaign_resource(request, row) for row in rows][
            offset : offset + count
        ],
        "total_items": len(rows),
        "_links": [request.link("/campaigns", "self")],
    }
    return document(select_fields(body, request.query))


def get_email_activity(reports: Reports, request: McRequest) -> Response:
    count, offset = request.paging()
    campaign = reports.campaign(request)
    since = instant_param(request, "since")
    rows = reports.query(
        "select email_id, any_value(email_address) as email_address,"
        " list({'action': action, 'type': bounce_type, 'timestamp': occurred_at}"
        "  order by occurred_at, event_id)"
        "  filter (where action in ('open', 'click', 'bounce')"
        "   and ($since is null or occurred_at > $since)) as activity"
        " from activity where campaign_number = $number and action in"
        " ('sent', 'bounce', 'open', 'click') group by email_id"
        " having $since is null or count(*) filter (where action in ('open', 'click', 'bounce')"
        "  and occurred_at > $since) > 0"
        " order by email_id",
        {"number": campaign["number"], "since": since},
    )
    key = campaign_key(campaign["number"])
    emails = [
        {
            "campaign_id": key,
            "list_id": reports.audience.list_id,
            "list_is_active": True,
            "email_id": row["email_id"],
            "email_address": row["email_address"],
            "activity": [
                without_nulls(
                    {"action": a["action"], "type": a["type"], "timestamp": iso(a["timestamp"])}
                )
                for a in row["activity"] or []
            ],
        }
        for row in rows[offset : offset + count]
    ]
    body = {
        "emails": emails,
        "campaign_id": key,
        "total_items": len(rows),
        "_links": [request.link(f"/reports/{key}/email-activity", "self")],
    }
    return document(select_fields(body, request.query))


def get_unsubscribed(reports: Reports, request: McRequest) -> Response:
    count, offset = request.paging()
    campaign = reports.campaign(request)
    rows = reports.query(
        "select email_id, email_address, occurred_at, action, count(*) over () as total"
        " from activity where campaign_number = $number and action in ('unsubscribe', 'abuse')"
        " order by occurred_at, email_id limit $count offset $offset",
        {"number": campaign["number"], "count": count, "offset": offset},
    )
    total = rows[0]["total"] if rows else 0
    if not rows and offset:
        total = len(
            reports.query(
                "select 1 from activity where campaign_number = $number"
                " and action in ('unsubscribe', 'abuse')",
                {"number": campaign["number"]},
            )
        )
    key = campaign_key(campaign["number"])
    unsubscribes = [
        {
            "email_id": row["email_id"],
            "email_address": row["email_address"],
            "timestamp": iso(row["occurred_at"]),
            "reason": "abuse" if row["action"] == "abuse" else "N/A (Unsubscribe link)",
            "campaign_id": key,
            "list_id": reports.audience.list_id,
            "list_is_active": True,
            "vip": False,
        }
        for row in rows
    ]
    body = {
        "unsubscribes": unsubscribes,
        "campaign_id": key,
        "total_items": total,
        "_links": [request.link(f"/reports/{key}/unsubscribed", "self")],
    }
    return document(select_fields(body, request.query))
