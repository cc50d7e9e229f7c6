"""Per-key rate limits: a token bucket per API key, in this process.

``rate`` requests a minute on average, with bursts up to the same number. A refused request
gets 429 and ``Retry-After`` (when the next token is due). Shared limits across replicas come
with a shared store.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from .errors import ApiError

__all__ = ["RateLimiter"]


class RateLimiter:
    __slots__ = ("_buckets", "_clock", "per_minute")

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def check(self, key_id: str) -> None:
        """Take one token for ``key_id``, or raise a 429 saying when to retry."""
        if self.per_minute <= 0:
            return
        now = self._clock()
        capacity = float(self.per_minute)
        per_second = capacity / 60
        tokens, at = self._buckets.get(key_id, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * per_second)
        if tokens < 1:
            wait = (1 - tokens) / per_second
            self._buckets[key_id] = (tokens, now)
            raise ApiError(
                429,
                "rate_limited",
                f"over {self.per_minute} requests a minute for this API key; "
                f"retry in {math.ceil(wait)} s",
                "rate_limit_error",
                retry_after=wait,
            )
        self._buckets[key_id] = (tokens - 1, now)
        if len(self._buckets) > 100_000:  # keys are few; this only bounds a misuse
            self._buckets.clear()
