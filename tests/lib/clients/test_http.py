"""ApiSession: what is retried and how long it waits, what fails at once, and what errors say."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from pipeline.lib.clients.http import ApiError, ApiSession, RejectedCredentialsError
from tests.lib.clients.sandbox_fixtures import Reply, scripted

URL = "https://api.example.test/thing"


def make_session(**kwargs) -> tuple[ApiSession, list[float]]:
    slept: list[float] = []
    kwargs.setdefault("rng", random.Random(7))
    api = ApiSession("Klaviyo", "KLAVIYO_API_KEY", sleep=slept.append, **kwargs)
    return api, slept


def test_429_waits_as_long_as_retry_after_asks():
    api, slept = make_session()
    adapter = scripted(api, [Reply(429, headers={"Retry-After": "3"}), Reply(200, {"ok": 1})])

    assert api.request_json("GET", URL) == {"ok": 1}
    # The jittered backoff of the first retry (< 0.5 s) is shorter, so Retry-After wins.
    assert slept == [3.0]
    assert (api.stats.requests, api.stats.retries, api.stats.throttled_seconds) == (2, 1, 3.0)
    assert len(adapter.requests) == 2


def test_retry_after_as_an_http_date():
    api, slept = make_session()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    scripted(api, [Reply(503, headers={"Retry-After": when}), Reply(200)])

    api.request("GET", URL)
    assert 27 <= slept[0] <= 30


def test_5xx_backs_off_exponentially_with_full_jitter_from_the_seeded_rng():
    api, slept = make_session(backoff_base=0.5)
    scripted(api, [Reply(500), Reply(502), Reply(503), Reply(200)])

    api.request("GET", URL)
    expected = random.Random(7)
    assert slept == [expected.uniform(0, 0.5), expected.uniform(0, 1.0), expected.uniform(0, 2.0)]
    # Backoff after errors is not time the platform asked us to wait.
    assert api.stats.throttled_seconds == 0


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectionError("connection refused"),
        requests.Timeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("connection broken"),
    ],
)
def test_dropped_connections_and_timeouts_are_retried(failure):
    api, slept = make_session()
    scripted(api, [failure, Reply(200, {"ok": 1})])

    assert api.request_json("GET", URL) == {"ok": 1}
    assert api.stats.retries == 1 and len(slept) == 1


def test_a_body_cut_short_is_retried():
    api, _ = make_session()
    scripted(api, [Reply(200, '{"data": [1, 2'), Reply(200, {"data": [1, 2]})])

    assert api.request_json("GET", URL) == {"data": [1, 2]}
    assert api.stats.retries == 1


def test_gives_up_after_max_attempts_naming_the_platform_and_last_failure():
    api, slept = make_session(max_attempts=8, backoff_cap=30.0)
    adapter = scripted(api, [Reply(503)] * 8)

    with pytest.raises(ApiError) as error:
        api.request("GET", URL)
    assert str(error.value) == "Klaviyo did not answer after 8 attempts (last failure: HTTP 503)"
    assert len(adapter.requests) == 8 and len(slept) == 7
    assert all(0 <= s <= 30 for s in slept)


def test_rejected_key_fails_at_once_in_plain_words():
    api, slept = make_session()
    api.add_secret("pk_live_secret")
    adapter = scripted(api, [Reply(401, {"errors": [{"detail": "bad key pk_live_secret"}]})])

    with pytest.raises(RejectedCredentialsError) as error:
        api.request("GET", URL)
    assert str(error.value) == "Klaviyo rejected the API key: check KLAVIYO_API_KEY"
    assert len(adapter.requests) == 1 and slept == []


def test_forbidden_is_a_rejected_key_too():
    api, _ = make_session()
    scripted(api, [Reply(403)])

    with pytest.raises(RejectedCredentialsError, match=r"^Klaviyo rejected the API key: check"):
        api.request("GET", URL)


def test_other_client_errors_fail_at_once_with_a_key_and_email_free_summary():
    api, slept = make_session()
    api.add_secret("pk_live_secret")
    detail = "No profile for jane.doe@example.com with key pk_live_secret."
    scripted(api, [Reply(400, {"errors": [{"status": 400, "detail": detail}]})])

    with pytest.raises(ApiError) as error:
        api.request("GET", URL)
    message = str(error.value)
    assert message.startswith("Klaviyo refused a request with HTTP 400: No profile for <email>")
    assert "jane" not in message and "pk_live_secret" not in message
    assert not isinstance(error.value, RejectedCredentialsError)
    assert slept == []


def test_download_starts_over_after_a_dropped_stream():
    api, slept = make_session()
    adapter = scripted(api, [Reply(break_after=b'{"id": 1}\n{"i'), Reply(200, b'{"id": 1}\n')])
    target = io.BytesIO()

    assert api.download(URL, target) == len(b'{"id": 1}\n')
    assert target.getvalue() == b'{"id": 1}\n'
    assert len(slept) == 1
    # Pre-signed download URLs get no credential headers.
    assert "Authorization" not in adapter.requests[0].headers


def test_a_refused_download_link_does_not_blame_the_key():
    api, _ = make_session()
    scripted(api, [Reply(403, "<Error>AccessDenied</Error>")])
    with pytest.raises(ApiError) as error:
        api.download(URL, io.BytesIO())
    assert not isinstance(error.value, RejectedCredentialsError)
    assert "download link" in str(error.value)
