"""Per-key rate limits: a token bucket per API key.

``rate`` requests a minute on average, with bursts up to the same number. A refused request
gets 429 and ``Retry-After`` (when the next token is due).

``RateLimiter`` keeps its buckets in this process: N replicas would allow N times the rate.
With Redis, ``SharedRateLimiter`` keeps each key's bucket there instead (GCRA, one atomic
script and one number per key, on the server's clock), so the replicas together allow the
rate. If Redis fails or is slow, a request is counted in this process's buckets instead:
a Redis outage loosens the limit to N times the rate, it never refuses or stalls requests.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .errors import ApiError

if TYPE_CHECKING:
    from .shared import SharedRedis

__all__ = ["Limiter", "RateLimiter", "SharedRateLimiter"]

SHARED_TIMEOUT = 1.0  # seconds a check waits for Redis before counting locally


class Limiter(Protocol):
    per_minute: int

    async def check(self, key_id: str) -> None:
        """Take one request for ``key_id``, or raise a 429 saying when to retry."""
        ...


def _refused(per_minute: int, wait: float) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"over {per_minute} requests a minute for this API key; retry in {math.ceil(wait)} s",
        "rate_limit_error",
        retry_after=wait,
    )


class RateLimiter:
    __slots__ = ("_buckets", "_clock", "per_minute")

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    async def check(self, key_id: str) -> None:
        self.take(key_id)

    def take(self, key_id: str) -> None:
        """``check``, synchronously."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        capacity = float(self.per_minute)
        per_second = capacity / 60
        tokens, at = self._buckets.get(key_id, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * per_second)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            raise _refused(self.per_minute, (1 - tokens) / per_second)
        self._buckets[key_id] = (tokens - 1, now)
        if len(self._buckets) > 100_000:  # keys are few; this only bounds a misuse
            self._buckets.clear()


class SharedRateLimiter:
    """The same limit, kept in Redis for every replica (see the module docstring)."""

    __slots__ = ("_fallback", "_interval_us", "_on_error", "_prefix", "_redis", "per_minute")

    def __init__(
        self,
        redis: SharedRedis,
        per_minute: int,
        *,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.per_minute = per_minute
        self._redis = redis
        self._prefix = redis.prefix
        self._fallback = RateLimiter(per_minute)
        self._interval_us = round(60_000_000 / per_minute) if per_minute > 0 else 0
        self._on_error = on_error

    async def check(self, key_id: str) -> None:
        if self.per_minute <= 0:
            return
        from ._redis_lua import RATE

        keys, args = [f"{self._prefix}:rate:{key_id}"], [self._interval_us, self.per_minute]
        try:
            wait_us = await asyncio.wait_for(
                self._redis.run(lambda c: RATE(c, keys=keys, args=args)), SHARED_TIMEOUT
            )
        except Exception as exc:  # StoreError (Redis down, say) or TimeoutError
            if self._on_error is not None:
                self._on_error("the shared rate limit", exc)
            self._fallback.take(key_id)
            return
        if int(wait_us) > 0:
            raise _refused(self.per_minute, int(wait_us) / 1_000_000)
