"""pytest fixtures for the real servers (imported by ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .postgres import PostgresServer, running_postgres
from .redis import RedisCluster, RedisServer, running_cluster, running_redis

__all__ = ["cluster", "postgres_server", "postgres_url", "redis", "redis_cluster", "redis_server"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One ``redis-server`` for the whole run (tests that restart it leave it running)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    """The Redis server, running and empty."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()  # a test killed it
    redis_server.flush()
    return redis_server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A 3-node Redis Cluster on loopback for the whole run."""
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as nodes:
        yield nodes


@pytest.fixture
def cluster(redis_cluster: RedisCluster) -> RedisCluster:
    """The Redis Cluster, empty."""
    redis_cluster.flush()
    return redis_cluster


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server, dropped after the test."""
    if not postgres_server.ready():
        postgres_server.start()  # a test stopped it
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)
