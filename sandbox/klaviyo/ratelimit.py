"""Klaviyo's per-endpoint rate limits: burst (per second), steady (per minute), some daily.

The tiers come from the spec's `x-klaviyo-ratelimit` for revision 2026-07-15, copied here because
the spec is not shipped with the project (a test checks this table against it). Each (API key,
operation) pair gets token buckets that refill continuously; `scale` multiplies every limit so the
sandbox can throttle harder or softer than the real API.

Per Klaviyo's docs, successful responses carry `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset` describing the steady window; a 429 carries `Retry-After` (whole seconds)
instead, with a `throttled` error document.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.klaviyo.jsonapi import KlaviyoError

# operationId -> (burst per second, steady per minute, daily or None)
TIERS: dict[str, tuple[int, int, int | None]] = {
    "get_profiles": (75, 750, None),
    "get_profile": (75, 750, None),
    "get_metrics": (10, 150, None),
    "get_metric": (10, 150, None),
    "get_events": (350, 3500, None),
    "get_lists": (75, 750, None),
    "create_list": (10, 150, 150),
    "get_list": (75, 750, None),
    "update_list": (10, 150, None),
    "delete_list": (10, 150, None),
    "get_profile_ids_for_list": (75, 750, None),
    "add_profiles_to_list": (10, 150, None),
    "remove_profiles_from_list": (10, 150, None),
    "get_profiles_for_list": (75, 750, None),
    "bulk_import_profiles": (10, 150, None),
    "get_bulk_import_profiles_job": (10, 150, None),
    "get_errors_for_bulk_import_profiles_job": (10, 150, None),
    "request_profile_deletion": (3, 60, None),
}


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until one token is available."""
        return max(0.0, (1 - self.tokens) / self.per_second)


class RateLimiter:
    """Token buckets per (api key, operation), on an injectable monotonic clock."""

    def __init__(self, scale: float, clock: Callable[[], float]) -> None:
        if not scale > 0:
            raise ValueError("rate_limit_scale must be positive")
        self._scale, self._clock = scale, clock
        self._buckets: dict[tuple[str, str], list[_Bucket]] = {}
        self._lock = threading.Lock()

    def acquire(self, api_key: str, operation: str) -> dict[str, str]:
        """Take one request from the buckets; returns the RateLimit-* headers or raises 429."""
        now = self._clock()
        with self._lock:
            buckets = self._buckets.get((api_key, operation))
            if buckets is None:
                buckets = self._new_buckets(operation, now)
                self._buckets[(api_key, operation)] = buckets
            for bucket in buckets:
                bucket.refill(now)
            short = [b.wait() for b in buckets if b.tokens < 1]
            if short:
                retry = max(1, math.ceil(max(short)))
                unit = "second" if retry == 1 else "seconds"
                raise KlaviyoError(
                    429,
                    "throttled",
                    f"Request was throttled. Expected available in {retry} {unit}.",
                    headers={"Retry-After": str(retry)},
                )
            for bucket in buckets:
                bucket.tokens -= 1
            steady = buckets[1]
            return {
                "RateLimit-Limit": str(math.floor(steady.capacity)),
                "RateLimit-Remaining": str(math.floor(steady.tokens)),
                "RateLimit-Reset": str(
                    math.ceil((steady.capacity - steady.tokens) / steady.per_second)
                ),
            }

    def _new_buckets(self, operation: str, now: float) -> list[_Bucket]:
        burst, steady, daily = TIERS[operation]
        windows = [(burst, 1.0), (steady, 60.0)] + ([(daily, 86400.0)] if daily else [])
        buckets = []
        for limit, seconds in windows:
            # At least one token, or a heavily scaled-down limit would never admit a request.
            capacity = max(1.0, limit * self._scale)
            buckets.append(_Bucket(capacity, limit * self._scale / seconds, capacity, now))
        return buckets
