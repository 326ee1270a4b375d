"""Mailchimp as a source of email activity: members changed, campaigns sent, and what each
recipient did, by time window.

Members come from `GET /lists/{id}/members` with `since_last_changed`/`before_last_changed`;
campaigns from `GET /campaigns` (`status=sent`, `since_send_time`/`before_send_time`); activity
from each campaign's `GET /reports/{id}/email-activity` (opens, clicks, bounces per recipient,
`since` narrowing it to recent activity) and `GET /reports/{id}/unsubscribed` (who left
through it, with a reason; an abuse complaint is one). Mailchimp's time filters are strict
("after", "before"), so requests start one second early and records are kept only when their
time lies in [start, end).

Grain of an activity record: one per (campaign, recipient, action, instant), flattened here
from the nested report: action `sent` (every recipient, at the campaign's send time, bounced or
not, as Mailchimp counts sends), `open`, `click`, `bounce` (with its `type`), `unsubscribe`
(with its `reason`). Its `id` is a hash of those fields, so re-reading a window yields the same
ids and a load keeps one row each.

Activity keeps arriving after a send, so a window reads every campaign sent within
`lookback_days` before it (and, for the first window, every campaign ever).

`ReportCalls` is mixed into `MailchimpClient`, which supplies `_pages`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.lib.clients.timestamps import as_utc, parse_utc

DEFAULT_LOOKBACK_DAYS = 90
_SECOND = timedelta(seconds=1)
# Before this, a window is "everything so far": Mailchimp was founded in 2001.
_ALL_TIME = datetime(2000, 1, 1, tzinfo=UTC)


class ReportCalls:
    """Members, campaigns and activity of one audience, by time window."""

    def fetch_members_changed_between(
        self, list_id: str, start: datetime, end: datetime
    ) -> Iterator[dict[str, Any]]:
        """Members with start <= last_changed < end, with status, tags and merge fields."""
        low, high = as_utc(start), as_utc(end)
        params = {"before_last_changed": _iso(high)}
        if low > _ALL_TIME:
            params["since_last_changed"] = _iso(low - _SECOND)
        for member in self._pages(f"/lists/{list_id}/members", "members", params):
            changed = parse_utc(member.get("last_changed"))
            # A member whose `last_changed` cannot be read is kept: quarantine judges it.
            if changed is None or changed >= low:
                yield _without_links(member)

    def fetch_campaigns_sent_between(
        self, list_id: str, start: datetime, end: datetime
    ) -> Iterator[dict[str, Any]]:
        """The audience's campaigns with start <= send_time < end, oldest first."""
        low, high = as_utc(start), as_utc(end)
        params = {"status": "sent", "list_id": list_id, "before_send_time": _iso(high)}
        params |= {"sort_field": "send_time", "sort_dir": "ASC"}
        if low > _ALL_TIME:
            params["since_send_time"] = _iso(low - _SECOND)
        for campaign in self._pages("/campaigns", "campaigns", params):
            sent = parse_utc(campaign.get("send_time"))
            if sent is None or sent >= low:
                yield _without_links(campaign)

    def fetch_email_activity_between(
        self,
        list_id: str,
        start: datetime,
        end: datetime,
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    ) -> Iterator[dict[str, Any]]:
        """Every send, open, click, bounce and unsubscribe with start <= time < end, flat."""
        low, high = as_utc(start), as_utc(end)
        since = low - timedelta(days=lookback_days) if low > _ALL_TIME else low
        for campaign in self.fetch_campaigns_sent_between(list_id, since, high):
            campaign_id = campaign["id"]
            sent_at = parse_utc(campaign.get("send_time"))
            sent_in_window = sent_at is not None and low <= sent_at
            params = {} if sent_in_window or low <= _ALL_TIME else {"since": _iso(low - _SECOND)}
            path = f"/reports/{campaign_id}/email-activity"
            for recipient in self._pages(path, "emails", params):
                actions = [{"action": "sent", "timestamp": campaign.get("send_time")}]
                actions = (actions if sent_in_window else []) + list(recipient.get("activity", []))
                yield from _flatten(campaign_id, recipient, actions, low, high)
            path = f"/reports/{campaign_id}/unsubscribed"
            for left in self._pages(path, "unsubscribes", {}):
                action = {"action": "unsubscribe", **_pick(left, "timestamp", "reason")}
                yield from _flatten(campaign_id, left, [action], low, high)


def _flatten(
    campaign_id: str,
    recipient: dict[str, Any],
    actions: list[Any],
    low: datetime,
    high: datetime,
) -> Iterator[dict[str, Any]]:
    """One record per action of the recipient within [low, high); an action whose time cannot
    be read is kept for quarantine to judge. Repeats of one action at one instant (two opens
    in a second) get an ordinal, so each keeps its own id."""
    seen: Counter[tuple[str, str]] = Counter()
    for action in actions:
        if not isinstance(action, dict):
            action = {"action": None, "raw": action}
        moment = parse_utc(action.get("timestamp"))
        if moment is not None and not low <= moment < high:
            continue
        name, stamp = str(action.get("action")), str(action.get("timestamp"))
        ordinal = seen[(name, stamp)]
        seen[(name, stamp)] += 1
        email_id = recipient.get("email_id")
        key = f"{campaign_id}|{email_id}|{name}|{stamp}|{ordinal}"
        yield {
            "id": hashlib.md5(key.encode()).hexdigest(),
            "campaign_id": campaign_id,
            "list_id": recipient.get("list_id"),
            "email_id": email_id,
            "email_address": recipient.get("email_address"),
            **action,
        }


def _pick(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: record[key] for key in keys if key in record}


def _without_links(record: Any) -> Any:
    """The record minus `_links`: they name the host that served it, not the data."""
    if not isinstance(record, dict):
        return record
    return {key: value for key, value in record.items() if key != "_links"}


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()
