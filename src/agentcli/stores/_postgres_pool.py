"""Connections for the PostgreSQL store: a lazy pool, a liveness test, errors without secrets.

The pool (``psycopg_pool.AsyncConnectionPool``) is made and opened on the first call, never at
construction. Every connection is in autocommit with ``prepare_threshold=None``: no server-side
prepared statement and no state kept between transactions, which PgBouncer's transaction mode
needs. A connection is tested before use without a round trip: an idle connection the server
has closed (a restart, an idle timeout) has something to read, and is replaced.

While no connection comes, the pool is asked again every second; in between, one direct
connection attempt (shared by all waiters) tells an outage (fail now, saying why) from a pool
that is merely busy (keep waiting until the timeout).
"""

from __future__ import annotations

import asyncio
import logging
import re
import select
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from .._redact import redact_logger, redact_text, redact_url
from ..errors import ConfigError, StoreError
from ._url_options import check_postgres_numbers

__all__ = [
    "CONNECT_HINT",
    "Conn",
    "Connections",
    "Cursor",
    "cause",
    "is_broken",
    "psycopg_error",
    "scrub",
    "shown",
]

logger = logging.getLogger("agentcli.stores")

Conn = psycopg.AsyncConnection[TupleRow]
Cursor = psycopg.AsyncCursor[TupleRow]

_ASK_AGAIN = 1.0  # seconds between asks to the pool while a caller waits
_RECONNECT = 2.0  # the pool stops retrying a failed connection after this; callers retry
_IDLE = pq.TransactionStatus.IDLE
CONNECT_HINT = "check that the server is running and that AGENTCLI_STORE_URL names it"


def _secrets(url: str) -> set[str]:
    found = set()
    with suppress(ValueError):
        found.add(urlsplit(url).password or "")
    with suppress(psycopg.Error):
        found.add(str(conninfo_to_dict(url).get("password") or ""))
    return {secret for secret in found if secret}


def scrub(text: str, url: str) -> str:
    """``text`` on one line, with no password of ``url`` (nor any URL's) in it: wherever the
    server or libpq quoted it (a very short one only as a whole word)."""
    text = redact_text(" ".join(text.split()))
    for secret in sorted(_secrets(url), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "****")
        else:
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "****", text)
    return text


def shown(url: str) -> str:
    """``url`` as messages and ``repr`` show it: no password, even where it is not one."""
    return scrub(redact_url(url), url)


def psycopg_error(url: str, exc: BaseException, what: str, hint: str = "") -> StoreError:
    """``StoreError`` "{what}: {what psycopg said}{hint}", with no password of ``url``."""
    return StoreError(scrub(f"{what}: {str(exc) or type(exc).__name__}{hint}", url))


def cause(exc: BaseException, url: str) -> BaseException | None:
    """``exc`` to chain to our error, unless its message holds a secret (then nothing)."""
    text = " ".join(str(exc).split())
    return exc if scrub(text, url) == text else None


def is_broken(conn: Conn) -> bool:
    return conn.closed or conn.pgconn.status != pq.ConnStatus.OK


def check_url(url: str) -> None:
    """Refuse a URL libpq cannot parse, at construction (nothing connects)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        said = str(exc)
    else:
        check_postgres_numbers({k: str(v) for k, v in params.items()}, redact_url(url))
        return
    raise ConfigError(scrub(f"cannot read the PostgreSQL URL {redact_url(url)}: {said}", url))


def _usable(conn: Conn) -> bool:
    """Whether an idle connection from the pool still works, without a round trip: the server
    sends nothing to an idle connection unless it is closing it."""
    if is_broken(conn) or conn.info.transaction_status != _IDLE:
        return False
    try:
        fd = conn.pgconn.socket
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return not poller.poll(0)
        return not select.select([fd], [], [], 0)[0]
    except (OSError, ValueError, psycopg.Error):
        return False


class Connections:
    """The store's pool, made on first use; ``connection()`` lends one for one operation."""

    def __init__(self, url: str, *, pool_size: int, timeout: float) -> None:
        self.url = url
        self.pool_size = pool_size
        self.timeout = timeout
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._opened = False
        self._closed = False
        self._in_use = 0
        self._probe: asyncio.Future[str | None] | None = None
        self._probed_at = 0.0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        pool = await self._open()
        conn = await self._acquire(pool)
        self._in_use += 1
        try:
            yield conn
        finally:
            self._in_use -= 1
            await self._give_back(pool, conn)

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
        if pool is not None:
            await pool.close()

    async def _open(self) -> AsyncConnectionPool[Conn]:
        if self._closed:
            raise StoreError(f"the PostgreSQL store {shown(self.url)} is closed")
        pool = self._pool
        if pool is None:
            for name in ("psycopg", "psycopg.pool"):  # they log connection failures themselves
                redact_logger(name)
            pool = self._pool = AsyncConnectionPool(
                self.url,
                kwargs={"autocommit": True, "prepare_threshold": None},
                min_size=1,
                max_size=self.pool_size,
                open=False,
                timeout=self.timeout,
                reconnect_timeout=_RECONNECT,
                name="agentcli-postgres",
            )
        if not self._opened:
            await pool.open()  # safe to repeat; starts connecting in the background
            self._opened = True
        return pool

    async def _acquire(self, pool: AsyncConnectionPool[Conn]) -> Conn:
        deadline = time.monotonic() + self.timeout
        while True:
            wait = min(deadline - time.monotonic(), _ASK_AGAIN)
            try:
                if wait <= 0:
                    raise PoolTimeout()
                conn = await pool.getconn(timeout=wait)
            except PoolTimeout:
                await self._still_waiting(deadline)
                continue
            except PoolClosed:
                raise StoreError(f"the PostgreSQL store {shown(self.url)} is closed") from None
            if _usable(conn):
                return conn
            # Closed by the server while idle: drop it (the pool opens a new one) and go on.
            await conn.close()
            await pool.putconn(conn)

    async def _still_waiting(self, deadline: float) -> None:
        """Raise if waiting longer is pointless: the server is down, or time is up."""
        busy = self._in_use >= self.pool_size
        if not busy:
            reason = await self._probe_server()
            if reason is not None:
                raise StoreError(
                    f"cannot connect to PostgreSQL at {shown(self.url)}: {reason}; " + CONNECT_HINT
                )
        if time.monotonic() < deadline:
            return
        if busy:
            raise StoreError(
                f"all {self.pool_size} connections to PostgreSQL at {shown(self.url)} "
                f"stayed busy for {self.timeout:g} s: raise AGENTCLI_STORE_POOL_SIZE, or "
                "the server's capacity"
            )
        raise StoreError(
            f"no connection to PostgreSQL at {shown(self.url)} within {self.timeout:g} s; "
            + CONNECT_HINT
        )

    async def _probe_server(self) -> str | None:
        """Why the server cannot be reached (``None``: it answers). One attempt at a time for
        every waiter, and at most one a second."""
        probe = self._probe
        if probe is None or (probe.done() and time.monotonic() - self._probed_at > _ASK_AGAIN):
            self._probed_at = time.monotonic()
            probe = self._probe = asyncio.ensure_future(self._connect_once())
        return await asyncio.shield(probe)

    async def _connect_once(self) -> str | None:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.url,
                autocommit=True,
                prepare_threshold=None,
                connect_timeout=max(2, round(self.timeout)),
            )
        except psycopg.Error as exc:
            return scrub(str(exc), self.url) or type(exc).__name__
        await conn.close()
        return None

    async def _give_back(self, pool: AsyncConnectionPool[Conn], conn: Conn) -> None:
        """Return ``conn`` to the pool idle (rolled back if a failure left a transaction open),
        or closed if it cannot be."""
        try:
            if not is_broken(conn) and conn.info.transaction_status != _IDLE:
                if conn.info.transaction_status == pq.TransactionStatus.ACTIVE:
                    await conn.close()
                else:
                    await conn.rollback()
        except psycopg.Error:
            await conn.close()
        finally:
            await pool.putconn(conn)
