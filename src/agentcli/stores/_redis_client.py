"""The Redis store's connection: made on the first call, a Cluster client or not, and every
failure turned into a ``StoreError`` that names the (redacted) URL and never the password."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import ConnectionPool, Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    AuthenticationError,
    ClusterCrossSlotError,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import StoreError
from ._redis_keys import RedisOptions

__all__ = ["Client", "Connection"]

_T = TypeVar("_T")
Client = Redis | RedisCluster


def _no_retry() -> Retry:
    # redis-py retries a command after a connection error by default (10 times): a script that
    # had run before the connection broke would then run again, and an append be stored twice.
    # Nothing is retried; the next call reconnects (a pooled connection is checked when taken).
    return Retry(NoBackoff(), 0)


class Connection:
    """The redis-py client of one store, and whether it talks to a Cluster.

    Nothing connects until the first :meth:`run`. Then, unless the URL says
    ``cluster=true|false``, the server is asked (``INFO cluster``) and a Cluster gets a
    ``RedisCluster`` client instead. A failure leaves nothing made: the next call tries again.
    """

    def __init__(self, options: RedisOptions, pool_size: int) -> None:
        self.options = options
        self.pool_size = pool_size
        self.cluster = False
        self.index_prefix = ""  # what the scripts get: the index prefix unless on a Cluster
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        # redis-py's pools fail at once when full, rather than wait; its waiting pool costs a
        # third of a small command's time. This bounds the calls in flight instead: each uses
        # at most one connection at a time to each server.
        self._slots = asyncio.Semaphore(pool_size)
        self._closed = False

    async def run(self, op: Callable[[Client], Awaitable[_T]]) -> _T:
        """``op(client)``, with redis-py's errors made ``StoreError``s."""
        try:
            client = self._client if self._client is not None else await self._connect()
            async with self._slots:
                return await op(client)
        except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            raise self.error(exc) from None

    async def run_to_the_end(self, op: Callable[[Client], Awaitable[_T]]) -> _T:
        """:meth:`run` for a write: if the caller is cancelled, the cancellation waits until the
        write has run (or failed). The command may already be on its way to the server; if the
        caller could go on at once, its next write might land first, and this one after it."""
        task = asyncio.ensure_future(self.run(op))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            while not task.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait((task,))
            if not task.cancelled():
                task.exception()  # the caller was cancelled: its outcome is that, not this
            raise

    async def _connect(self) -> Client:
        async with self._lock:
            if self._closed:
                raise StoreError(f"the Redis store {self.options.shown_url} is closed")
            if self._client is not None:
                return self._client
            cluster = self.options.cluster
            standalone = self._standalone()
            client: Client = standalone
            if cluster is None and not self.options.unix:
                try:
                    cluster = await _is_cluster(standalone)
                except BaseException:
                    await client.aclose()
                    raise
            if cluster:
                await client.aclose()
                client = await self._cluster_client()
            self.cluster = bool(cluster)
            self.index_prefix = "" if cluster else self.options.index_prefix
            self._client = client
            return client

    def _standalone(self) -> Redis:
        pool = ConnectionPool.from_url(
            self.options.client_url, max_connections=self.pool_size, retry=_no_retry()
        )
        return Redis.from_pool(pool)

    async def _cluster_client(self) -> RedisCluster:
        try:
            cluster = RedisCluster.from_url(
                self.options.client_url, max_connections=self.pool_size, retry=_no_retry()
            )
        except RedisClusterException as exc:  # a database other than 0, say
            raise StoreError(
                f"cannot use the Redis Cluster at {self.options.shown_url}: {self.scrub(exc)}"
            ) from None
        try:
            # Now, before any call: redis-py routes the commands that arrive before it knows
            # the slots to any node, and closes every connection after a few MOVED answers,
            # failing the other calls in flight.
            await cluster.initialize()
        except BaseException:
            await cluster.aclose()
            raise
        return cluster

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def error(self, exc: BaseException) -> StoreError:
        """A ``StoreError`` saying what failed and what to check, with the URL redacted and the
        password scrubbed from the server's text (no exception chained: its text is raw)."""
        shown = self.options.shown_url
        if isinstance(exc, AuthenticationError):
            hint = "the server refused the credentials: check the user name and password"
        elif isinstance(exc, RedisConnectionError | OSError):
            hint = (
                "cannot reach the server: check that it is running and the URL's host, port "
                "and TLS settings"
            )
        elif isinstance(exc, RedisTimeoutError | TimeoutError):
            hint = (
                "the server did not answer in time: check that it is running and not "
                "overloaded (socket_timeout=SECONDS in the URL sets the limit)"
            )
        elif isinstance(exc, AskError | ClusterCrossSlotError) or "non local key" in str(exc):
            # MOVED (an AskError), CROSSSLOT, or a script that reached into another node.
            hint = "the server is a Redis Cluster: remove cluster=false from the URL"
        else:
            hint = "the server refused a command"
        return StoreError(f"Redis store {shown}: {hint} ({type(exc).__name__}: {self.scrub(exc)})")

    def scrub(self, exc: BaseException) -> str:
        from .._redact import redact_text

        text = redact_text(str(exc))
        password = self.options.password
        return text.replace(password, "****") if password else text


async def _is_cluster(client: Redis) -> bool:
    try:
        info = await client.info("cluster")
    except ResponseError:
        return False  # INFO refused (a restricted user): a Cluster would answer MOVED later
    return bool(info.get("cluster_enabled"))
