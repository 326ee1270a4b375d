"""Klaviyo's REST API (JSON:API): profiles and events by time window, lists and metrics whole.

Every collection is read by following `links.next` (an absolute URL carrying the page cursor)
until it is absent, as Klaviyo's pagination guide prescribes. Filters use Klaviyo's syntax with
unquoted ISO-8601 datetimes, e.g. `greater-or-equal(datetime,2024-01-01T00:00:00+00:00)`, and
only the operators the endpoint allows (spec revision 2026-07-15, `filter` parameter). Every
request first waits for a token bucket of its endpoint at Klaviyo's documented tier
(`x-klaviyo-ratelimit`), so a long read or a sync paces itself instead of collecting 429s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pipeline.lib.clients.http import ApiError, ApiSession
from pipeline.lib.clients.ratelimit import EndpointRateLimiter
from pipeline.lib.clients.timestamps import as_utc, parse_utc

log = logging.getLogger(__name__)

JSON_API = "application/vnd.api+json"
PROFILE_PAGE = 100  # get_profiles: page[size] max 100
EVENT_PAGE = 1000  # get_events: page[size] max 1000
LIST_PAGE = 10  # get_lists: page[size] max 10; get_metrics takes no page size


def _tier(burst: int, steady: int, daily: int | None = None) -> dict[float, float]:
    return {1.0: burst, 60.0: steady} | ({86400.0: daily} if daily else {})


# operationId -> {window seconds: requests}; a test checks these against the spec.
KLAVIYO_TIERS: dict[str, dict[float, float]] = {
    "get_profiles": _tier(75, 750),
    "get_events": _tier(350, 3500),
    "get_metrics": _tier(10, 150),
    "get_lists": _tier(75, 750),
    "create_list": _tier(10, 150, 150),
    "get_profile_ids_for_list": _tier(75, 750),
    "add_profiles_to_list": _tier(10, 150),
    "remove_profiles_from_list": _tier(10, 150),
    "bulk_import_profiles": _tier(10, 150),
    "get_bulk_import_profiles_job": _tier(10, 150),
    "get_errors_for_bulk_import_profiles_job": _tier(10, 150),
    "request_profile_deletion": _tier(3, 60),
}


class KlaviyoClient:
    """A Klaviyo account's private API; `api_url` is the base URL, e.g. https://a.klaviyo.com.

    `clock` drives the rate limiter (which sleeps through the session); tests inject it.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        session: ApiSession | None = None,
        revision: str = "2026-07-15",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        base = api_url.rstrip("/")
        # Accept the base with or without the /api prefix every endpoint lives under.
        self.api_url = base.removesuffix("/api")
        self.session = session or ApiSession("Klaviyo", "KLAVIYO_API_KEY")
        api_key = self.session.credential(api_key)
        self.limiter = EndpointRateLimiter(KLAVIYO_TIERS, clock=clock, sleep=self.session.sleep)
        self._origin = urlsplit(self.api_url)[:2]
        self._headers = {
            "Authorization": f"Klaviyo-API-Key {api_key}",
            "revision": revision,
            "accept": JSON_API,
        }

    def fetch_profiles_updated_between(
        self, start: datetime, end: datetime
    ) -> Iterator[dict[str, Any]]:
        """Profiles with start <= updated < end, with their subscription (consent) state.

        `updated` allows only greater-than and less-than, so the request starts one second
        early and the few profiles updated in that second are dropped here.
        """
        low, high = as_utc(start), as_utc(end)
        params = {
            "filter": f"greater-than(updated,{_iso(low - timedelta(seconds=1))}),"
            f"less-than(updated,{_iso(high)})",
            "additional-fields[profile]": "subscriptions",
            "page[size]": str(PROFILE_PAGE),
        }
        for profile in self._collection("get_profiles", "/api/profiles", params):
            updated = parse_utc((profile.get("attributes") or {}).get("updated"))
            # A record whose `updated` cannot be read is kept: quarantine judges it, not us.
            if updated is None or updated >= low:
                yield profile

    def fetch_events_between(self, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Events with start <= datetime < end, oldest first, with their metric and profile ids."""
        params = {
            "filter": f"greater-or-equal(datetime,{_iso(as_utc(start))}),"
            f"less-than(datetime,{_iso(as_utc(end))})",
            "sort": "datetime",
            "page[size]": str(EVENT_PAGE),
        }
        return self._collection("get_events", "/api/events", params)

    def fetch_lists(self) -> Iterator[dict[str, Any]]:
        """Every list of the account."""
        return self._collection("get_lists", "/api/lists", {"page[size]": str(LIST_PAGE)})

    def fetch_metrics(self) -> Iterator[dict[str, Any]]:
        """Every metric (event type) of the account."""
        return self._collection("get_metrics", "/api/metrics", {})

    def _collection(
        self, operation: str, path: str, params: dict[str, str]
    ) -> Iterator[dict[str, Any]]:
        """Every resource of a collection, page by page; `operation` names its rate limit."""
        url: str | None = f"{self.api_url}{path}"
        query: dict[str, str] | None = params
        visited: set[str] = set()
        while url is not None:
            if url in visited:
                # A repeated next link would read the same pages for ever.
                raise ApiError(f"Klaviyo's next-page link for {path} repeats an earlier page")
            visited.add(url)
            self.limiter.acquire(operation)
            body = self.session.request_json("GET", url, params=query, headers=self._headers)
            self.session.stats.pages += 1
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ApiError(f"Klaviyo answered {path} without a list of data")
            for resource in body["data"]:
                yield _without_links(resource)
            url = (body.get("links") or {}).get("next")
            # The next link carries every parameter, cursor included.
            query = None
            if url is not None and urlsplit(url)[:2] != self._origin:
                # Never send the API key to a host other than the one configured.
                raise ApiError(f"Klaviyo's next-page link for {path} points to another host")
        log.debug("Klaviyo %s: read to the last page", path)


def _without_links(resource: Any) -> Any:
    """The record minus its `links`: self-URLs name the host that served it, not the data, so
    keeping them would make the same record differ between two hosts (a proxy, a sandbox port).
    """
    if not isinstance(resource, dict):
        return resource
    resource = {key: value for key, value in resource.items() if key != "links"}
    relationships = resource.get("relationships")
    if isinstance(relationships, dict):
        resource["relationships"] = {
            name: {k: v for k, v in rel.items() if k != "links"} if isinstance(rel, dict) else rel
            for name, rel in relationships.items()
        }
    return resource


def _iso(moment: datetime) -> str:
    # Whole seconds render as 2024-01-01T00:00:00+00:00; finer instants keep their fraction.
    return moment.isoformat()
