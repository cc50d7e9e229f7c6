"""Redis, a 3-node Redis Cluster and PostgreSQL on 127.0.0.1 for the stores benchmark.

The Redis helpers are the test suite's own (``tests/servers/redis.py``: no persistence, as in
the tests). PostgreSQL is started the test suite's way (``tests/servers/postgres.py``: its own
temporary cluster, run as the ``postgres`` user under root) but with the server's default
durability, ``fsync=on`` and ``synchronous_commit=on``: the tests switch both off, which would
flatter every commit. Nothing here is imported until a backend is measured, and a missing
binary or module is reported as a reason (naming the install command), never raised.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.servers.postgres import PostgresServer
    from tests.servers.redis import RedisCluster, RedisServer

__all__ = [
    "INSTALL_POSTGRES",
    "INSTALL_REDIS",
    "postgres_missing",
    "redis_missing",
    "running_cluster",
    "running_postgres",
    "running_redis",
]

INSTALL_REDIS = "apt-get install -y --no-install-recommends redis-server"
INSTALL_POSTGRES = "apt-get install -y --no-install-recommends postgresql-15"


def _module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _helpers(module: str) -> str | None:
    """Why the test suite's server helpers cannot be imported, or ``None``."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"cannot import {module} ({exc}); run from the repository root with the dev venv"
    return None


def redis_missing(*, cluster: bool = False) -> str | None:
    """Why Redis (or a Redis Cluster) cannot be measured here, or ``None``."""
    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        return f"redis-server is not installed ({INSTALL_REDIS})"
    if cluster and not (shutil.which("redis-cli") or Path("/usr/bin/redis-cli").exists()):
        return f"redis-cli is not installed ({INSTALL_REDIS})"
    if not _module("redis"):
        return "redis-py is not installed (pip install -e '.[redis]')"
    return _helpers("tests.servers.redis")


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be measured here, or ``None``."""
    if _bindir() is None:
        return f"PostgreSQL is not installed ({INSTALL_POSTGRES})"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "PostgreSQL will not run as root and runuser is missing"
    if not (_module("psycopg") and _module("psycopg_pool")):
        return "psycopg is not installed (pip install -e '.[postgres]')"
    return _helpers("tests.servers.postgres")


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    from tests.servers.redis import running_redis as run

    with run(directory) as server:
        yield server


@contextlib.contextmanager
def running_cluster(directory: Path) -> Iterator[RedisCluster]:
    from tests.servers.redis import running_cluster as run

    with run(directory) as cluster:
        yield cluster


def _start_durable(server: PostgresServer) -> None:
    """``PostgresServer.start`` with the server's default durability (fsync, synchronous
    commit, full page writes all on)."""
    from tests.servers._process import wait_until

    options = (
        f"-p {server.port} -c listen_addresses=127.0.0.1 -k {server.directory} "
        "-c max_connections=300"
    )
    data = str(server.directory / "data")
    log = str(server.directory / "server.log")
    server._run(str(server.bindir / "pg_ctl"), "-D", data, "-o", options, "-l", log, "-w", "start")
    wait_until(server.ready, f"PostgreSQL answering on port {server.port}")


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster in a temporary directory (on the same disk as the SQLite files)."""
    from tests.servers._process import free_port
    from tests.servers.postgres import PostgresServer

    bindir = _bindir()
    if bindir is None:
        raise RuntimeError(f"PostgreSQL is not installed ({INSTALL_POSTGRES})")
    as_user = "postgres" if os.geteuid() == 0 else None
    directory = Path(tempfile.mkdtemp(prefix="agentcli-bench-pg-"))
    try:
        if as_user is not None:
            shutil.chown(directory, user=as_user)
        server = PostgresServer(bindir, directory, free_port(), as_user)
        server.initdb()
        _start_durable(server)
        try:
            yield server
        finally:
            server.stop("immediate")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
