"""The Redis backends of the conformance suite: one server, and a 3-node Redis Cluster.

Both are real servers (``tests/servers``), emptied before each test and again after it. The
single server is opened with a key prefix of its own (``?prefix=``), the Cluster with the
default prefix and without saying that it is one (the store asks the server), so both paths
are covered. The server keeps the time of leases, so ``Backend.clock`` is ``None``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import pytest
import redis

from agentcli.stores import SessionStore
from agentcli.stores.redis import RedisStore

from ..servers.redis import RedisCluster, RedisServer

if TYPE_CHECKING:  # conformance.py imports this module: no import cycle at run time
    from .conformance import Backend

__all__ = ["redis_backend", "redis_cluster_backend"]


@contextlib.asynccontextmanager
async def _backend(
    name: str, url: str, flush: Callable[[], None], *, connect: bool = False
) -> AsyncIterator[Backend]:
    from .conformance import Backend

    clients: list[RedisStore] = []

    async def open_store() -> SessionStore:
        clients.append(RedisStore.from_url(url))  # a new client (and pool) each time
        if connect:
            await clients[-1].info("-")  # see redis_cluster_backend
        return clients[-1]

    try:
        yield Backend(name, open_store, url=url)
    finally:
        for client in clients:
            await client.close()
        with contextlib.suppress(redis.RedisError):  # a test may have stopped the server
            flush()


@contextlib.asynccontextmanager
async def redis_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    server: RedisServer = request.getfixturevalue("redis")
    url = f"{server.url}?prefix=conformance"
    async with _backend("redis", url, server.flush) as backend:
        yield backend


@contextlib.asynccontextmanager
async def redis_cluster_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    cluster: RedisCluster = request.getfixturevalue("cluster")
    # Each client connects before the test gets it: a Cluster client's first call learns the
    # slots and the command table (0.1-0.2 s on a busy machine), and the lease tests time a
    # 0.3 s ttl taken by one client against a call of another.
    async with _backend("redis-cluster", cluster.url, cluster.flush, connect=True) as backend:
        yield backend
