"""Client-side rate limits: token buckets per endpoint, so a sync stays under a platform's tiers.

A platform answers a request over its limit with 429 and `Retry-After`; `ApiSession` survives
that, but every 429 costs a wasted request and a wait. Pacing requests on our side keeps a
sync under the documented limits in the first place. Each endpoint (an operation name) gets one
bucket per window (e.g. a burst bucket per second and a steady bucket per minute); a request
takes one token from each, and when a bucket is short the caller sleeps until it would refill.

Tokens may go negative: a request that has to wait reserves its token at once, so two callers
never both sleep for the same token, and a sleep that the clock does not see (a test's no-op
sleep) still paces the following requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# window length in seconds -> allowed requests in that window
Tier = Mapping[float, float]


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token (possibly going into debt); seconds until that token exists."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        self.tokens -= 1
        return max(0.0, -self.tokens / self.per_second)


class EndpointRateLimiter:
    """Token buckets per endpoint from `tiers` (endpoint -> {window seconds: requests}).

    `headroom` (0 < h <= 1) scales every limit down so clocks that disagree slightly with the
    platform's do not tip a request over. `sleep` is called with the wait before a request.
    """

    def __init__(
        self,
        tiers: Mapping[str, Tier],
        *,
        headroom: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < headroom <= 1:
            raise ValueError("headroom must be in (0, 1]")
        self._tiers = tiers
        self._headroom = headroom
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, list[_Bucket]] = {}
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self, endpoint: str) -> float:
        """Wait until `endpoint` may be called once more; the seconds waited."""
        if endpoint not in self._tiers:
            raise KeyError(f"no rate-limit tier is known for endpoint '{endpoint}'")
        with self._lock:
            now = self._clock()
            buckets = self._buckets.get(endpoint)
            if buckets is None:
                buckets = self._buckets[endpoint] = self._new_buckets(endpoint, now)
            wait = max(bucket.take(now) for bucket in buckets)
            self.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def _new_buckets(self, endpoint: str, now: float) -> list[_Bucket]:
        buckets = []
        for seconds, limit in sorted(self._tiers[endpoint].items()):
            # At least one token, or a tiny limit would never admit a request.
            capacity = max(1.0, limit * self._headroom)
            buckets.append(_Bucket(capacity, limit * self._headroom / seconds, capacity, now))
        return buckets
