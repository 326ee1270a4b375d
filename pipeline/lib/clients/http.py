"""One HTTP session per platform: timeouts, retries with backoff and jitter, plain-language errors.

Every platform client sends its requests through an `ApiSession`. Transient failures (429, 5xx,
dropped connections, timeouts) are retried with exponential backoff and full jitter, never sooner
than the server's `Retry-After`; a rejected credential fails at once with a message naming the
setting to fix; any other client error fails at once with the status and a short summary. No
message or log line carries a credential or an email address. The errors it raises and the
reading of failure answers live in `errors.py`.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import orjson
import requests

from pipeline.lib.clients.errors import (
    ApiError,
    RejectedCredentialsError,
    RequestRejectedError,
    UncertainWriteError,
    describe_connection_failure,
    error_summary,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_SUMMARY_LENGTH = 200
_DOWNLOAD_CHUNK = 1 << 20
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass
class RequestStats:
    """What a session did: HTTP requests sent, re-sends, pages read, seconds spent throttled.

    `retries` counts every re-sent request (transient failures and rate-limit waits alike);
    `throttled_seconds` counts only waits the platform asked for (429 `Retry-After`, Shopify's
    cost throttle), not backoff after errors.
    """

    requests: int = 0
    retries: int = 0
    pages: int = 0
    throttled_seconds: float = 0.0


class _CredentialSafeSession(requests.Session):
    """A `requests.Session` that drops every header carrying a registered secret when a redirect
    leaves the host (requests itself only drops `Authorization`; Shopify's token header would
    follow a redirect anywhere)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def rebuild_auth(self, prepared_request, response) -> None:
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name, value in list(prepared_request.headers.items()):
                if any(secret in str(value) for secret in self.secrets):
                    del prepared_request.headers[name]


class _Transient(Exception):
    """A failure worth retrying: its plain description and the wait the server asked for."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ApiSession:
    """A shared `requests.Session` for one platform, with its retry policy and statistics.

    `platform` and `credential_env` only word the errors ("Klaviyo rejected the API key: check
    KLAVIYO_API_KEY"). `sleep` and `rng` are injectable so tests never wait and see the same
    jitter every run.
    """

    def __init__(
        self,
        platform: str,
        credential_env: str,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_attempts: int = 8,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.platform = platform
        self.credential_env = credential_env
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.stats = RequestStats()
        self._secrets: list[str] = []
        self.http = _CredentialSafeSession(self._secrets)
        self.http.headers["User-Agent"] = "foresight-pipeline"

    def add_secret(self, secret: str) -> None:
        """A value (an API key) to blank out of any error message this session words."""
        if secret:
            self._secrets.append(secret)

    def credential(self, value: str) -> str:
        """An API key or token as it may be sent: surrounding blanks (a trailing newline of a
        mounted secret file) stripped, registered as a secret; one with a blank or control
        character inside, or none at all, is refused naming the setting, never the value."""
        key = (value or "").strip()
        if not key or any(c.isspace() or not c.isprintable() for c in key):
            problem = "is empty" if not key else "contains a space, line break or control character"
            raise RejectedCredentialsError(
                f"{self.platform}: the key in {self.credential_env} {problem}; check the setting"
            )
        self.add_secret(key)
        return key

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request, retrying transient failures; the successful response."""
        return self._with_retries(lambda: self._send(method, url, kwargs))

    def request_once(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send a write that is not safe to repeat (a create) exactly once; a transient failure
        raises `UncertainWriteError` instead of re-sending it."""
        try:
            return self._send(method, url, kwargs)
        except _Transient as failure:
            raise UncertainWriteError(
                f"{self.platform} did not confirm a write ({failure.reason}); it may have "
                "taken effect"
            ) from None

    def request_json(self, method: str, url: str, **kwargs: Any) -> Any:
        """`request`, then the decoded JSON body; a body cut short or garbled is retried too."""

        def attempt() -> Any:
            response = self._send(method, url, kwargs)
            try:
                # orjson: a page of a thousand Klaviyo events (0.9 MB) decodes in 2.6 ms
                # instead of `json`'s 4.9.
                return orjson.loads(response.content)
            except ValueError:  # orjson.JSONDecodeError is one
                raise _Transient("an unreadable (non-JSON) answer") from None

        return self._with_retries(attempt)

    def download(self, url: str, destination: BinaryIO) -> int:
        """Stream a file into `destination` (rewritten from the start on every retry); its size.

        Only for pre-signed URLs: no platform credential is sent along.
        """

        def attempt() -> int:
            destination.seek(0)
            destination.truncate()
            response = self._send("GET", url, {"stream": True}, signed=True)
            with response:
                try:
                    for chunk in response.iter_content(_DOWNLOAD_CHUNK):
                        destination.write(chunk)
                except _TRANSIENT_ERRORS as exc:
                    raise _Transient(describe_connection_failure(exc)) from None
            return destination.tell()

        return self._with_retries(attempt)

    def scrub(self, text: str) -> str:
        """`text` without email addresses or registered secrets, cut to a short summary."""
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        text = _EMAIL.sub("<email>", " ".join(text.split()))
        return text if len(text) <= _SUMMARY_LENGTH else text[: _SUMMARY_LENGTH - 3] + "..."

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2 ** (attempt - 1)))."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)

    def wait(self, seconds: float, *, throttled: bool) -> None:
        """Sleep (through the injected `sleep`), counting platform-requested waits."""
        if throttled:
            self.stats.throttled_seconds += seconds
        self.sleep(seconds)

    def _send(
        self, method: str, url: str, kwargs: dict[str, Any], *, signed: bool = False
    ) -> requests.Response:
        self.stats.requests += 1
        unsendable = None
        try:
            response = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except _TRANSIENT_ERRORS as exc:
            raise _Transient(describe_connection_failure(exc)) from None
        except requests.RequestException as exc:
            unsendable = type(exc).__name__
        if unsendable:
            # Raised outside the handler so the original (whose text may quote a header, the
            # key, or the URL) is not even chained as context: only its kind goes on.
            raise ApiError(f"{self.platform}: the request could not be sent ({unsendable})")
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            response.close()
            raise _Transient(f"HTTP {status}", retry_after)
        if status in (401, 403) and signed:
            response.close()
            # A pre-signed link carries its own (expiring) authorisation: the key is not at fault.
            raise ApiError(
                f"{self.platform} refused a download link (HTTP {status}); it may have expired"
            )
        if status in (401, 403):
            response.close()
            message = f"{self.platform} rejected the API key: check {self.credential_env}"
            if status == 403:
                message += " and the permissions (scopes) it was given"
            raise RejectedCredentialsError(message)
        if status >= 400:
            summary = self.scrub(error_summary(response))
            response.close()
            raise RequestRejectedError(
                f"{self.platform} refused a request with HTTP {status}: {summary}", status
            )
        return response

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        for number in range(1, self.max_attempts + 1):
            try:
                return attempt()
            except _Transient as failure:
                last = failure
                if number == self.max_attempts:
                    break
                delay = self.backoff(number)
                if failure.retry_after is not None:
                    # Honoured up to a bound: a server asking for hours would stall the run.
                    delay = max(delay, min(failure.retry_after, self.max_retry_after))
                log.warning(
                    "%s: %s on attempt %d of %d; retrying in %.1f s",
                    self.platform,
                    failure.reason,
                    number,
                    self.max_attempts,
                    delay,
                )
                self.stats.retries += 1
                self.wait(delay, throttled=failure.retry_after is not None)
        raise ApiError(
            f"{self.platform} did not answer after {self.max_attempts} attempts "
            f"(last failure: {last.reason})"
        )
