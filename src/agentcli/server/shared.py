"""The service's shared state in Redis: turn streams (``redis_turns.py``) and rate limits
(``limits.py``), so that any replica can resume, follow and cancel any turn and the replicas
together keep one limit per key.

It is on when the service has Redis: ``AGENTCLI_REDIS_URL``, else a ``redis://``,
``rediss://`` or ``unix://`` store URL (that store's server). Without it each replica keeps
its own (``LocalTurnLog``, ``RateLimiter``): see ``docs/scaling.md``, "What needs Redis".

The URL is read as the Redis store reads it (``?prefix=`` and ``?cluster=`` included; a
Cluster is found by asking the server), and the connection is made the same way, on its own
pool: nothing connects until the first call; ``/readiness`` pings it. Every key starts with
the URL's prefix (``agentcli``), next to the store's own keys and never among them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .._redact import redact_text

if TYPE_CHECKING:
    from ..config import Settings
    from ..stores._redis_client import Client, Connection
    from .limits import SharedRateLimiter
    from .redis_turns import RedisTurnLog

__all__ = ["PING_TIMEOUT", "SharedRedis", "SharedState", "open_shared", "shared_redis_url"]

PING_TIMEOUT = 1.5  # seconds: readiness and doctor answer even when Redis hangs
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_T = TypeVar("_T")


def shared_redis_url(settings: Settings) -> str | None:
    """The Redis the service shares state through, or ``None`` (each replica on its own)."""
    if settings.redis_url is not None and settings.redis_url.get_secret_value().strip():
        return settings.redis_url.get_secret_value().strip()
    store = settings.resolved_store_url
    if "://" in store and store.partition("://")[0].lower() in _REDIS_SCHEMES:
        return store
    return None


class SharedRedis:
    """One connection (a pool; a Cluster client on a Cluster) to the shared Redis.

    ``run(op)`` awaits ``op(client)``; failures are ``StoreError``s whose text names the
    redacted URL and never the password."""

    def __init__(self, url: str, pool_size: int) -> None:
        from ..stores._redis_client import Connection
        from ..stores._redis_keys import parse_url

        options = parse_url(url)  # ConfigError for a bad URL: at startup, not at a request
        self.shown_url = options.shown_url
        self.prefix = options.prefix
        # Followers of other replicas' turns hold a connection while they wait for events.
        self._conn: Connection = Connection(options, max(8, pool_size * 4))

    async def run(self, op: Callable[[Client], Awaitable[_T]]) -> _T:
        return await self._conn.run(op)

    async def client(self) -> Client:
        """The client itself (connecting if need be), for a subscription."""

        async def itself(client: Client) -> Client:
            return client

        return await self.run(itself)

    async def check(self) -> str:
        """``"ok"``, or what is wrong (redacted); within ``PING_TIMEOUT``."""

        async def ping(client: Client) -> Any:
            return await client.ping()

        try:
            await asyncio.wait_for(self.run(ping), PING_TIMEOUT)
        except TimeoutError:
            return f"no answer in {PING_TIMEOUT:g} s from {self.shown_url}"
        except Exception as exc:
            return f"failed: {redact_text(str(exc))[:300] or type(exc).__name__}"
        return "ok"

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._conn.close()


@dataclass
class SharedState:
    """What the service shares through Redis: the connection, turn streams, rate limits."""

    redis: SharedRedis
    turns: RedisTurnLog
    limiter: SharedRateLimiter

    async def check(self) -> str:
        return await self.redis.check()

    async def close(self) -> None:
        await self.turns.close()
        await self.redis.close()


def open_shared(settings: Settings) -> SharedState | None:
    """The shared state ``settings`` configure, or ``None``. Needs the ``redis`` extra."""
    url = shared_redis_url(settings)
    if url is None:
        return None
    try:
        import redis  # noqa: F401
    except ImportError as exc:
        from ..errors import MissingDependencyError

        what = "sharing turns and rate limits through Redis"
        raise MissingDependencyError(what, "redis") from exc
    from .limits import SharedRateLimiter
    from .redis_turns import RedisTurnLog

    shared = SharedRedis(url, settings.store_pool_size)
    turns = RedisTurnLog(shared, lease_ttl=settings.lease_ttl, retention=settings.stream_retention)
    limiter = SharedRateLimiter(shared, settings.rate_limit_per_minute, on_error=turns.warn)
    return SharedState(shared, turns, limiter)
