"""Paged reads of Mailchimp collections (`count` and `offset`), for `MailchimpClient`.

A page is checked before any of its records is used: a record without a key the caller
indexes by would fail deep inside the caller, or be skipped unseen. A malformed page is read
again a few times (a reply corrupted on its way is not worth failing a whole sync step for);
one that stays malformed stops the read with a plain error, and a re-run reads again.

`PagedReads` is mixed into `MailchimpClient`, which supplies `session` and `_get`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pipeline.lib.clients.http import ApiError, ApiSession

MEMBER_PAGE = 1000  # `count` is at most 1000
PAGE_READS = 3  # reads of a page that comes back malformed before the read stops


class PagedReads:
    """Paged collection reads of `MailchimpClient`."""

    session: ApiSession
    _get: Callable[..., dict[str, Any]]

    def _pages(
        self, path: str, key: str, params: dict[str, str], required: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        """Every record of a paged collection; one without a `required` key is an `ApiError`.
        Ingest reads require nothing: the loader quarantines a bad record with its reason."""
        offset = 0
        while True:
            page = {**params, "count": str(MEMBER_PAGE), "offset": str(offset)}
            body = self._page(path, key, page, required)
            items = body[key]
            yield from items
            offset += len(items)
            if not items or offset >= int(body.get("total_items", 0)):
                return

    def _page(
        self, path: str, key: str, params: dict[str, str], required: Sequence[str]
    ) -> dict[str, Any]:
        """One page whose records all hold the `required` keys. A malformed answer is read
        again (`PAGE_READS` times in all): a reply corrupted on its way is not worth failing
        a whole sync step for, while one that stays malformed stops the read."""
        problem = ApiError(f"Mailchimp answered {path} malformed")
        for _ in range(PAGE_READS):
            body = self._get(path, params=params)
            self.session.stats.pages += 1
            try:
                _check_page(path, key, body, required)
            except ApiError as error:
                problem = error
                continue
            return body
        raise problem


def _check_page(path: str, key: str, body: dict[str, Any], required: Sequence[str]) -> None:
    if not isinstance(body.get(key), list):
        raise ApiError(f"Mailchimp answered {path} without a list of {key}")
    for item in body[key]:
        _check_record(path, key, item, required)


def _check_record(path: str, key: str, item: Any, required: Sequence[str]) -> None:
    """A paged record must be an object holding every `required` key: a malformed one stops the
    read with a plain error (the caller records it as failed, and a re-run reads again) rather
    than failing deep inside a caller or being skipped unseen."""
    missing = [k for k in required if not isinstance(item, dict) or item.get(k) in (None, "")]
    if missing:
        raise ApiError(
            f"Mailchimp answered {path} with a malformed {key} record (no {', '.join(missing)})"
        )
