"""What a failed platform request means: the errors callers catch, and reading a failure
answer (how long `Retry-After` asks to wait, the platform's own words for a client error).

A platform's error text may quote an email address: the session scrubs what these helpers
return before it goes into a message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests


class ApiError(RuntimeError):
    """A platform request that failed for good; the message is plain language and key-free."""


class RejectedCredentialsError(ApiError):
    """The platform refused the credential (HTTP 401/403): retrying cannot help."""


class RequestRejectedError(ApiError):
    """The platform refused this one request (another HTTP 4xx): `status` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class UncertainWriteError(ApiError):
    """A write sent once whose answer was lost (dropped connection, 5xx, 429): it may or may not
    have taken effect, so the caller must look before sending it again."""


def describe_connection_failure(exc: Exception) -> str:
    # The class name says what happened; the exception text would repeat the URL.
    return f"a dropped or timed-out connection ({type(exc).__name__})"


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def error_summary(response: requests.Response) -> str:
    """The platform's own words for a client error: JSON:API `detail`s, GraphQL `errors`,
    problem JSON's `title`/`detail` with its field `errors`."""
    try:
        body = response.json()
    except ValueError:
        return response.text or response.reason or "no details"
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(body, dict) and "title" in body and "detail" in body:
        fields = [
            f"{e.get('field')}: {e.get('message')}"
            for e in errors or []
            if isinstance(e, dict) and e.get("field")
        ]
        return "; ".join([f"{body['title']}: {body['detail']}", *fields])
    if isinstance(errors, list):
        parts = [
            str(e.get("detail") or e.get("message") or e.get("title") or e)
            if isinstance(e, dict)
            else str(e)
            for e in errors
        ]
        return "; ".join(parts)
    return str(errors if errors is not None else body)
