"""The SQL of the SQLite store: schema, migrations, and one function per operation.

Every function takes the connection and runs on the store's worker thread. Each write is one
``BEGIN IMMEDIATE`` transaction: it takes the file's write lock *before* reading what it
depends on (a session's ``last_seq``, a lease's owner), so several processes writing to one
session get contiguous, distinct sequence numbers, and a batch is stored whole or not at all.

Layout: a ``sessions`` row per session (counters, window marker, metadata), an append-only
``messages`` table ordered by ``seq`` with ``UNIQUE (session_id, seq)``, a ``leases`` row
per session a turn currently holds, and a ``spend`` row per cost counter (``session:<id>``,
deleted with its session, or another scope with its own expiry).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import JsonValue, TypeAdapter, ValidationError

from ..errors import InvalidInputError, SessionConflictError, StoreError
from ..messages import Message, messages_adapter, with_seq
from .base import SESSION_SCOPE, SessionInfo, session_owner, session_scope, session_title
from .lease import LeaseGrant, new_revision

# Step N takes a file from schema N-1 to N (``PRAGMA user_version``). A new layout is a new
# step at the end: files of every earlier version then migrate when they are opened.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # Times are integer microseconds since the epoch (UTC): exact, and cheap to compare.
        """CREATE TABLE IF NOT EXISTS sessions (
            id           TEXT PRIMARY KEY,
            created_us   INTEGER NOT NULL,
            updated_us   INTEGER NOT NULL,
            last_seq     INTEGER NOT NULL DEFAULT 0,
            tokens       INTEGER NOT NULL DEFAULT 0,
            window_start INTEGER NOT NULL DEFAULT 1,
            title        TEXT,
            metadata     TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX IF NOT EXISTS sessions_by_update ON sessions (updated_us)",
        # A rowid table (not WITHOUT ROWID) because a message can be large; the UNIQUE index
        # is what a session is read by, in ``seq`` order.
        """CREATE TABLE IF NOT EXISTS messages (
            session_id TEXT NOT NULL,
            seq        INTEGER NOT NULL CHECK (seq >= 1),
            message    TEXT NOT NULL,
            UNIQUE (session_id, seq)
        )""",
        """CREATE TRIGGER IF NOT EXISTS messages_append_only BEFORE UPDATE ON messages
           BEGIN SELECT RAISE(ABORT, 'messages are append-only'); END""",
    ),
    (
        # One row per held lease. No foreign key: a turn may lease a session not yet stored.
        # The expiry is wall-clock time, the one clock all processes on a machine share.
        """CREATE TABLE IF NOT EXISTS leases (
            session_id TEXT PRIMARY KEY,
            owner      TEXT NOT NULL,
            expires_us INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
    (
        # Changes when the session is created or its state is set: a cached window checks it.
        "ALTER TABLE sessions ADD COLUMN revision TEXT NOT NULL DEFAULT ''",
        # The owner (a server's API key id) is indexed for ``list_sessions(owner=...)``.
        "ALTER TABLE sessions ADD COLUMN owner TEXT",
        "UPDATE sessions SET owner = json_extract(metadata, '$.owner') "
        "WHERE json_type(metadata, '$.owner') = 'text'",
        "CREATE INDEX IF NOT EXISTS sessions_by_owner ON sessions (owner, updated_us)",
    ),
    (
        # Spend counters for budgets (USD). ``expires_us`` is NULL for a session's counter
        # (``session:<id>``: deleted with its session) and for counters that never lapse.
        """CREATE TABLE IF NOT EXISTS spend (
            scope      TEXT PRIMARY KEY,
            usd        REAL NOT NULL,
            expires_us INTEGER
        ) WITHOUT ROWID""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

# A message is stored as the JSON of pydantic's own serialiser, one row per message, rather than
# one column per field: it is the same codec the export and the other backends use, it keeps
# every field exactly (aware timestamps with their offset, tool calls, nested metadata), and a
# new field on ``Message`` needs no schema migration. ``seq`` also has its own column, for order.
_message_adapter: TypeAdapter[Message] = TypeAdapter(Message)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SESSION_COLUMNS = (
    "id, created_us, updated_us, last_seq, window_start, title, tokens, metadata, revision"
)


# ---------------------------------------------------------------------- sessions and messages


def append(
    conn: sqlite3.Connection,
    session_id: str,
    messages: list[Message],
    expected_last_seq: int | None,
) -> list[Message]:
    now = now_us()
    with transaction(conn):
        last_seq = _last_seq(conn, session_id)
        if expected_last_seq is not None and expected_last_seq != last_seq:
            raise SessionConflictError(session_id, expected_last_seq, last_seq)  # rolls back
        stored = [with_seq(m, last_seq + i) for i, m in enumerate(messages, 1)]
        # Rows are serialised as they are inserted; if one fails, the rows before it are rolled
        # back with the transaction.
        conn.executemany(
            "INSERT INTO messages (session_id, seq, message) VALUES (?, ?, ?)",
            ((session_id, m.seq, _message_adapter.dump_json(m).decode()) for m in stored),
        )
        # The title is the first user message's: set by the first batch that has one, then kept.
        title = session_title(stored)
        # A new session gets a revision; an existing one keeps its own (appends move last_seq).
        conn.execute(
            "INSERT INTO sessions (id, created_us, updated_us, last_seq, tokens, title, revision) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "updated_us = excluded.updated_us, last_seq = excluded.last_seq, "
            "tokens = tokens + excluded.tokens, title = COALESCE(title, excluded.title)",
            (
                session_id,
                now,
                now,
                last_seq + len(stored),
                sum(m.tokens for m in stored),
                title,
                new_revision(),
            ),
        )
    return stored


def read(
    conn: sqlite3.Connection, session_id: str, since_seq: int, last: int | None
) -> list[Message]:
    if last is None:
        rows = conn.execute(
            "SELECT message FROM messages WHERE session_id = ? AND seq >= ? ORDER BY seq",
            (session_id, since_seq),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT message FROM (SELECT seq, message FROM messages "
            "WHERE session_id = ? AND seq >= ? ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (session_id, since_seq, last),
        ).fetchall()
    return _decode(session_id, rows)


def read_seqs(conn: sqlite3.Connection, session_id: str, seqs: list[int]) -> list[Message]:
    marks = ",".join("?" * len(seqs))
    rows = conn.execute(
        f"SELECT message FROM messages WHERE session_id = ? AND seq IN ({marks}) "  # noqa: S608
        "ORDER BY seq",
        (session_id, *seqs),
    ).fetchall()
    return _decode(session_id, rows)


def _decode(session_id: str, rows: list[Any]) -> list[Message]:
    if not rows:
        return []
    try:
        # One validation call for the whole list is much faster than one per row.
        return messages_adapter.validate_json("[" + ",".join(row[0] for row in rows) + "]")
    except ValidationError as exc:
        raise StoreError(
            f"a stored message of session {session_id!r} is unreadable: {exc}"
        ) from exc


def info(conn: sqlite3.Connection, session_id: str) -> SessionInfo | None:
    row = conn.execute(
        f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?",  # noqa: S608 (constant)
        (session_id,),
    ).fetchone()
    return None if row is None else _session_info(row)


def list_sessions(
    conn: sqlite3.Connection, limit: int | None, owner: str | None
) -> list[SessionInfo]:
    count = -1 if limit is None else max(limit, 0)  # LIMIT -1 is "no limit" in SQLite
    where, args = ("WHERE owner = ? ", (owner,)) if owner is not None else ("", ())
    rows = conn.execute(
        f"SELECT {_SESSION_COLUMNS} FROM sessions {where}"  # noqa: S608 (constant)
        "ORDER BY updated_us DESC, id LIMIT ?",
        (*args, count),
    ).fetchall()
    return [_session_info(row) for row in rows]


def set_state(
    conn: sqlite3.Connection,
    session_id: str,
    window_start: int | None,
    metadata: dict[str, JsonValue] | None,
) -> str:
    now = now_us()
    revision = new_revision()
    with transaction(conn):
        row = conn.execute("SELECT metadata FROM sessions WHERE id = ?", (session_id,)).fetchone()
        # Merged here, not with SQLite's json_patch, which would delete the keys set to null.
        merged: dict[str, JsonValue] = json.loads(row[0]) if row else {}
        merged.update(metadata or {})
        conn.execute(
            "INSERT INTO sessions (id, created_us, updated_us, window_start, metadata, owner, "
            "revision) VALUES (:id, :now, :now, COALESCE(:window_start, 1), :metadata, :owner, "
            ":revision) ON CONFLICT (id) DO UPDATE SET updated_us = :now, "
            "window_start = COALESCE(:window_start, window_start), metadata = :metadata, "
            "owner = :owner, revision = :revision",
            {
                "id": session_id,
                "now": now,
                "window_start": window_start,
                "metadata": json.dumps(merged, ensure_ascii=False, separators=(",", ":")),
                "owner": session_owner(merged),
                "revision": revision,
            },
        )
    return revision


def delete(conn: sqlite3.Connection, session_id: str) -> bool:
    with transaction(conn):
        conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
        conn.execute("DELETE FROM spend WHERE scope = ?", (session_scope(session_id),))
        # A turn still running on it loses its lease; its appends then fail on expected_last_seq.
        conn.execute("DELETE FROM leases WHERE session_id = ?", (session_id,))
        return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0


def expire(conn: sqlite3.Connection, cutoff: int) -> int:
    """Delete the sessions last active before ``cutoff`` (microseconds since the epoch)."""
    with transaction(conn):
        old = "SELECT id FROM sessions WHERE updated_us < :cutoff"
        conn.execute(f"DELETE FROM messages WHERE session_id IN ({old})", {"cutoff": cutoff})  # noqa: S608
        # The sessions' spend counters, and every counter that lapsed.
        conn.execute(
            f"DELETE FROM spend WHERE scope IN (SELECT :prefix || id FROM ({old})) "  # noqa: S608
            "OR expires_us <= :now",
            {"cutoff": cutoff, "prefix": SESSION_SCOPE, "now": now_us()},
        )
        # Also the leases that lapsed before the cutoff: left by holders that crashed, perhaps
        # on sessions that were never stored.
        conn.execute(
            f"DELETE FROM leases WHERE expires_us < :cutoff OR session_id IN ({old})",  # noqa: S608
            {"cutoff": cutoff},
        )
        return conn.execute("DELETE FROM sessions WHERE updated_us < ?", (cutoff,)).rowcount


# ---------------------------------------------------------------------- leases


def lease_acquire(
    conn: sqlite3.Connection, session_id: str, token: str, ttl: float, clock: Callable[[], float]
) -> LeaseGrant | float:
    """The session's grant if the lease was free, lapsed or already ``token``'s (it is now
    ``token``'s until ``ttl`` from now); otherwise the seconds the holder has left."""
    with transaction(conn):
        now = _clock_us(clock)  # read under the lock: the wait for it may have been long
        row = conn.execute(
            "SELECT owner, expires_us FROM leases WHERE session_id = ?", (session_id,)
        ).fetchone()
        if row is not None and row[0] != token and row[1] > now:
            return float(row[1] - now) / 1_000_000
        conn.execute(
            "INSERT INTO leases (session_id, owner, expires_us) VALUES (?, ?, ?) "
            "ON CONFLICT (session_id) DO UPDATE SET "
            "owner = excluded.owner, expires_us = excluded.expires_us",
            (session_id, token, now + seconds_us(ttl)),
        )
        row = conn.execute(
            "SELECT last_seq, revision FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return LeaseGrant(0, "") if row is None else LeaseGrant(int(row[0]), row[1])


def lease_renew(
    conn: sqlite3.Connection, session_id: str, token: str, ttl: float, clock: Callable[[], float]
) -> bool:
    with transaction(conn):
        expires = _clock_us(clock) + seconds_us(ttl)
        return (
            conn.execute(
                "UPDATE leases SET expires_us = ? WHERE session_id = ? AND owner = ?",
                (expires, session_id, token),
            ).rowcount
            > 0
        )


def lease_release(conn: sqlite3.Connection, session_id: str, token: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM leases WHERE session_id = ? AND owner = ?", (session_id, token))


# ---------------------------------------------------------------------- the file


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that holds the file's write lock from its first statement."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # keep the original error
                conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to ``SCHEMA_VERSION`` (a new file gets every step)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version == SCHEMA_VERSION:
        return
    with transaction(conn):
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])  # now under the lock
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the session store was written by a newer agentcli (schema {version}, this "
                f"version knows {SCHEMA_VERSION}); upgrade agentcli to open it"
            )
        for step in _MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # primary code in the low byte
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


# ---------------------------------------------------------------------- helpers


def _last_seq(conn: sqlite3.Connection, session_id: str) -> int:
    row = conn.execute("SELECT last_seq FROM sessions WHERE id = ?", (session_id,)).fetchone()
    return int(row[0]) if row else 0


def _session_info(row: sqlite3.Row | tuple[Any, ...]) -> SessionInfo:
    sid, created, updated, last_seq, window_start, title, tokens, metadata, revision = row
    return SessionInfo(
        id=sid,
        created_at=_from_us(created),
        updated_at=_from_us(updated),
        # Sequence numbers are contiguous from 1 and rows are never removed one by one.
        message_count=last_seq,
        last_seq=last_seq,
        window_start=window_start,
        title=title or "",
        tokens=tokens,
        metadata=json.loads(metadata),
        revision=revision,
    )


def now_us() -> int:
    return time.time_ns() // 1000


def _clock_us(clock: Callable[[], float]) -> int:
    return round(clock() * 1_000_000)


def seconds_us(seconds: float) -> int:
    return max(1, round(seconds * 1_000_000))


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise InvalidInputError("expire() needs a timezone-aware datetime")
    return (moment - _EPOCH) // _MICROSECOND


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)
