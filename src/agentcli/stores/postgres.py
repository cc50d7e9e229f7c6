"""PostgreSQL: the shared store, for several processes and machines (``postgresql://...``).

Schema (``migrations/postgres/0001_initial.sql``, applied by ``agentcli db upgrade``, never by
the store: it checks the version once per instance and refuses a database that is behind or
ahead): ``agentcli_sessions``, one row per session with its ``last_seq`` counter, window
marker, title, token count, metadata (JSON text), ``owner`` and ``revision``, indexed by
``(updated_at)`` and ``(owner, updated_at)``; ``agentcli_messages``, append-only, keyed by
``(session_id, seq)``, each the message's pydantic JSON as ``text`` (not ``jsonb``, which
reorders keys and loses number forms); ``agentcli_leases``, one row per held session;
``agentcli_spend`` (``0002_spend.sql``), spend counters: a session's goes (and expires) with
it, others lapse at ``expires_at``. Times are ``timestamptz`` from the server's clock.

One transaction per operation, one round trip each. An append is one statement (so one
implicit transaction): it bumps the session's ``last_seq`` under the row's lock (``INSERT ...
ON CONFLICT DO UPDATE ... RETURNING``, or an ``UPDATE`` when ``expected_last_seq`` names a
seq, so a missing session is never created) and inserts the batch numbered from it (one
message as a parameter, more with ``unnest``), or nothing at all when the expected seq does
not match (``SessionConflictError``). It is never sent twice once it may have committed.
Operations of several statements (``delete``, a lease grant) send them in pipeline mode with
one Sync: one implicit transaction, one round trip, each statement in a fresh snapshot.
Reads fetch the exact key range below the session's ``last_seq`` (the last 50: one range).

Lease: a row (session, owner token, ``expires_at``) taken in one statement if it is free,
lapsed or already the caller's, judged by the server's clock (``clock_timestamp()``); the
session's ``last_seq`` and ``revision`` come from the next statement of the same transaction,
whose snapshot sees what the previous holder stored before letting go.

Expiry by inactivity (``session_ttl`` seconds, 0 = never): a session whose ``updated_at`` is
older than that is invisible at once (every read tests it, by the server's clock). A write
refuses such a row and says so; the store then drops it (row and messages, one statement)
and writes again, so an append starts a new session at seq 1. Physically, expired sessions
are deleted by a sweep that runs at most once a minute per store instance, before a write, in
batches of 500 (sooner again while a batch comes back full), and by ``expire(before)``.
Appends and ``set_state`` move ``updated_at``: an active session never expires. Reading and
leasing do not count as activity.

PgBouncer (transaction mode): autocommit connections, no prepared statements
(``prepare_threshold=None``), no ``SET``, no ``LISTEN``, nothing kept in a server session;
the only advisory lock is the migration's ``pg_advisory_xact_lock``. Connections, restarts
and errors: ``_postgres_pool.py``. Passwords never appear in errors, logs or ``repr``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, TypeVar

from pydantic import JsonValue

from ..errors import (
    ConfigError,
    InvalidInputError,
    MissingDependencyError,
    SessionConflictError,
    StoreError,
)
from ..messages import Message, with_seq
from .base import OWNER_KEY, SessionInfo, session_owner, session_title, validate_session_id
from .lease import (
    DEFAULT_LEASE_TTL,
    DEFAULT_LEASE_WAIT,
    Lease,
    LeaseGrant,
    hold_lease,
    new_revision,
)

try:
    import psycopg
except ImportError as exc:  # pragma: no cover - the bare install
    raise MissingDependencyError("the PostgreSQL store", "postgres") from exc

from .._redact import redact_url
from . import _postgres_ops as ops
from . import _postgres_sql as sql
from ._postgres_pool import (
    CONNECT_HINT,
    Conn,
    Connections,
    cause,
    check_url,
    is_broken,
    psycopg_error,
    scrub,
    shown,
)
from ._postgres_schema import (
    SCHEMA_VERSION,
    SchemaUpgrade,
    check_schema,
    read_version,
    upgrade_schema,
)
from ._postgres_write import WholeSessionWriter

__all__ = ["SCHEMA_VERSION", "PostgresStore", "SchemaUpgrade", "read_version", "upgrade_schema"]

logger = logging.getLogger("agentcli.stores")

_T = TypeVar("_T")
_SWEEP_EVERY = 60.0
_SWEEP_BATCH = 500


class PostgresStore(WholeSessionWriter):
    """Sessions in a PostgreSQL database, safe for many coroutines, processes and machines.

    Nothing connects until the first call. ``timeout`` is how long a call waits for a
    connection. Use one instance from one event loop.
    """

    def __init__(
        self,
        url: str,
        *,
        session_ttl: float = 3600.0,
        pool_size: int = 10,
        timeout: float = 10.0,
    ) -> None:
        if not (session_ttl >= 0 and math.isfinite(session_ttl)):
            raise ConfigError(f"session_ttl must be zero (never) or more seconds: {session_ttl!r}")
        if pool_size < 1:
            raise ConfigError(f"pool_size must be at least 1: {pool_size!r}")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ConfigError(f"timeout must be a positive number of seconds: {timeout!r}")
        check_url(url)
        self.session_ttl = float(session_ttl)
        self._url = url
        self._conns = Connections(url, pool_size=pool_size, timeout=timeout)
        self._sql = sql.Statements.build(expires=self.session_ttl > 0)
        self._schema_checked = False
        self._next_sweep = 0.0  # monotonic time; the first write sweeps

    @classmethod
    def from_url(
        cls, url: str, *, session_ttl: float = 3600.0, pool_size: int = 10
    ) -> PostgresStore:
        """``postgresql://user:password@host:5432/dbname?sslmode=require`` (or ``postgres://``);
        any libpq parameter may follow the ``?``."""
        scheme = url.partition("://")[0].lower()
        if scheme not in ("postgresql", "postgres"):
            raise ConfigError(f"not a PostgreSQL URL: {redact_url(url)!r}")
        return cls(url, session_ttl=session_ttl, pool_size=pool_size)

    @property
    def url(self) -> str:
        """The URL with its password masked."""
        return shown(self._url)

    def __repr__(self) -> str:
        return (
            f"PostgresStore({self.url!r}, session_ttl={self.session_ttl:g}, "
            f"pool_size={self._conns.pool_size})"
        )

    async def __aenter__(self) -> PostgresStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def upgrade_schema(self) -> SchemaUpgrade:
        """Apply the pending migrations (what ``agentcli db upgrade`` does)."""
        done = await upgrade_schema(self._url)
        self._schema_checked = False
        return done

    # ------------------------------------------------------------------ SessionStore

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        expected_last_seq: int | None = None,
    ) -> list[Message]:
        validate_session_id(session_id)
        batch = list(messages)
        encoded = [sql.encode_message(m) for m in batch]
        params = {
            "id": session_id,
            "n": len(batch),
            "tokens": sum(m.tokens for m in batch),
            "title": session_title(batch),
            "revision": new_revision(),
            "expected": expected_last_seq,
            "messages": encoded,
            "message": encoded[0] if len(encoded) == 1 else None,
            "idle": self.session_ttl,
        }

        async def op(conn: Conn) -> tuple[int | None, int]:
            await self._sweep(conn)
            return await ops.append(conn, self._sql, params, expected_last_seq)

        stored, actual = await self._run(
            op, f"appending to session {session_id!r}", idempotent=False
        )
        if stored is None:
            raise SessionConflictError(session_id, int(expected_last_seq or 0), actual)
        first = stored - len(batch) + 1
        return [with_seq(m, first + i) for i, m in enumerate(batch)]

    async def read(
        self, session_id: str, *, since_seq: int = 1, last: int | None = None
    ) -> list[Message]:
        if last is not None and last <= 0:
            return []
        params = {"id": session_id, "since": since_seq, "last": last, "idle": self.session_ttl}
        rows = await self._fetch(self._sql.read, params, f"reading session {session_id!r}")
        return sql.decode_messages(session_id, rows)

    async def read_seqs(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        wanted = sorted({int(s) for s in seqs})
        if not wanted:
            return []
        params = {"id": session_id, "seqs": wanted, "idle": self.session_ttl}
        rows = await self._fetch(self._sql.read_seqs, params, f"reading session {session_id!r}")
        return sql.decode_messages(session_id, rows)

    async def info(self, session_id: str) -> SessionInfo | None:
        params = {"id": session_id, "idle": self.session_ttl}
        rows = await self._fetch(self._sql.info, params, f"reading session {session_id!r}")
        return sql.session_info(rows[0]) if rows else None

    async def list_sessions(
        self, *, limit: int | None = None, owner: str | None = None
    ) -> list[SessionInfo]:
        query = self._sql.list_all if owner is None else self._sql.list_owner
        count = None if limit is None else max(limit, 0)
        params = {"limit": count, "owner": owner, "idle": self.session_ttl}
        return [sql.session_info(row) for row in await self._fetch(query, params, "listing")]

    async def set_state(
        self,
        session_id: str,
        *,
        window_start: int | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> str:
        validate_session_id(session_id)
        revision = new_revision()
        params = {
            "id": session_id,
            "window_start": window_start,
            "metadata": sql.metadata_json(metadata or {}),
            "owner": session_owner(metadata or {}),
            "sets_owner": bool(metadata) and OWNER_KEY in (metadata or {}),
            "revision": revision,
            "idle": self.session_ttl,
        }

        async def op(conn: Conn) -> None:
            await self._sweep(conn)
            await ops.set_state(conn, self._sql, params, metadata or {})

        await self._run(op, f"setting the state of session {session_id!r}", idempotent=False)
        return revision

    async def delete(self, session_id: str) -> bool:
        params = {"ids": [session_id], "id": session_id, "before": None, "idle": self.session_ttl}

        async def op(conn: Conn) -> bool:
            return await ops.delete(conn, self._sql, params)

        return await self._run(op, f"deleting session {session_id!r}", idempotent=False)

    async def expire(self, before: datetime) -> int:
        if before.tzinfo is None:
            raise InvalidInputError("expire() needs a timezone-aware datetime")
        params = {"before": before, "idle": self.session_ttl}

        async def op(conn: Conn) -> int:
            rows = await ops.delete_sessions(conn, self._sql.expire, sql.DELETE_LEASES, params)
            return sum(1 for _, visible in rows if visible)  # expired ones were gone already

        return await self._run(op, "expiring sessions", idempotent=False)

    async def add_spend(self, scope: str, usd: float, *, ttl: float | None = None) -> float:
        params = ops.spend_params(scope, usd, ttl, idle=self.session_ttl)  # checks them first

        async def op(conn: Conn) -> float:
            return await ops.add_spend(conn, self._sql, params)

        return await self._run(op, f"adding to the spend of {scope!r}", idempotent=False)

    async def get_spend(self, scope: str) -> float:
        params = ops.spend_params(scope, 0.0, None, idle=self.session_ttl)
        rows = await self._fetch(self._sql.get_spend, params, f"reading the spend of {scope!r}")
        return float(rows[0][0]) if rows else 0.0

    async def close(self) -> None:
        """Close the pool (connections in use close when their call ends)."""
        await self._conns.close()

    # ------------------------------------------------------------------ leases

    def lease(
        self,
        session_id: str,
        *,
        ttl: float = DEFAULT_LEASE_TTL,
        wait: float = DEFAULT_LEASE_WAIT,
    ) -> AbstractAsyncContextManager[Lease]:
        return hold_lease(self, session_id, ttl=ttl, wait=wait)

    async def lease_acquire(self, session_id: str, token: str, ttl: float) -> LeaseGrant | float:
        params = {"id": session_id, "token": token, "ttl": ttl, "idle": self.session_ttl}

        async def op(conn: Conn) -> tuple[Any, ...] | None:
            return await ops.lease_acquire(conn, self._sql, params)

        row = await self._run(op, f"taking the lease of session {session_id!r}", idempotent=True)
        if row is None:
            return 0.0  # let go between the two statements: free, ask again
        granted, left, last_seq, revision = row
        if not granted:
            return float(left)
        return LeaseGrant(int(last_seq or 0), revision or "")

    async def lease_renew(self, session_id: str, token: str, ttl: float) -> bool:
        params = {"id": session_id, "token": token, "ttl": ttl}

        async def op(conn: Conn) -> bool:
            return (await conn.execute(sql.LEASE_RENEW, params)).rowcount > 0

        return await self._run(op, f"renewing the lease of {session_id!r}", idempotent=True)

    async def lease_release(self, session_id: str, token: str) -> None:
        params = {"id": session_id, "token": token}

        async def op(conn: Conn) -> None:
            await conn.execute(sql.LEASE_RELEASE, params)

        await self._run(op, f"releasing the lease of {session_id!r}", idempotent=True)

    # ------------------------------------------------------------------ running SQL

    async def _run(
        self, op: Callable[[Conn], Awaitable[_T]], doing: str, *, idempotent: bool
    ) -> _T:
        """``op`` on a pooled connection, its psycopg errors made ``StoreError``s. A read (or
        a lease write, which is idempotent) whose connection broke runs once more on another;
        a write is never sent twice: it may have committed."""
        failed: tuple[StoreError, BaseException | None] | None = None
        for attempt in (1, 2):
            async with self._conns.connection() as conn:
                try:
                    if not self._schema_checked:
                        await check_schema(conn, self._url)
                        self._schema_checked = True
                    return await op(conn)
                except psycopg.Error as exc:
                    lost = is_broken(conn)
                    error = self._error(exc, doing, lost=lost, idempotent=idempotent)
                    failed = (error, cause(exc, self._url))
                    if not (lost and idempotent and attempt == 1):
                        break
        # Raised here, out of the except clause: a psycopg error whose text holds a secret is
        # neither the cause nor the context of ours.
        assert failed is not None
        raise failed[0] from failed[1]

    def _error(self, exc: psycopg.Error, doing: str, *, lost: bool, idempotent: bool) -> StoreError:
        if not lost:
            return psycopg_error(self._url, exc, f"PostgreSQL store {self.url}: {doing} failed")
        what = f"PostgreSQL store {self.url}: lost the connection while {doing}"
        hint = "" if idempotent else " (the change may or may not be stored: read to check)"
        return psycopg_error(self._url, exc, what, hint + "; " + CONNECT_HINT)

    async def _fetch(self, query: str, params: dict[str, Any], doing: str) -> list[Any]:
        async def op(conn: Conn) -> list[Any]:
            return await (await conn.execute(query, params)).fetchall()

        return await self._run(op, doing, idempotent=True)

    async def _sweep(self, conn: Conn) -> None:
        """Delete a batch of expired sessions, at most once a minute (the first write of an
        instance sweeps). A failure is logged, never the caller's: the rows wait."""
        if not self._sql.expires:
            return
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY
        params = {"idle": self.session_ttl, "batch": _SWEEP_BATCH}
        try:
            swept = await ops.delete_sessions(
                conn, self._sql.delete_idle, sql.DELETE_IDLE_LEASES, params
            )
        except psycopg.Error as exc:
            logger.warning("could not sweep expired sessions: %s", scrub(str(exc), self._url))
            return
        if len(swept) >= _SWEEP_BATCH:
            self._next_sweep = now  # more are waiting: the next write takes another batch
