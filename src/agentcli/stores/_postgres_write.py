"""The PostgreSQL store's ``write_session``: a whole session (an import) in one transaction.

The session's row is locked first (``FOR UPDATE``), so whether it exists is decided under the
lock; a row that another writer creates meanwhile is met by the ``ON CONFLICT`` of the insert.
Given to ``PostgresStore`` as a mixin, so the store module stays one screenful of plumbing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import JsonValue

from ..messages import Message
from . import _postgres_sql as sql
from ._postgres_pool import Conn
from .base import check_whole_session, session_owner, session_scope, session_title
from .lease import new_revision

__all__ = ["WholeSessionWriter", "write_session"]

_T = TypeVar("_T")

_INSERT_SESSION = """
INSERT INTO agentcli_sessions
    (id, created_at, updated_at, last_seq, tokens, window_start, title, metadata, owner, revision)
VALUES (%(id)s, now(), now(), %(n)s, %(tokens)s, %(window_start)s, %(title)s, %(metadata)s,
    %(owner)s, %(revision)s)
ON CONFLICT (id) DO """
_REPLACE_ROW = """UPDATE SET created_at = excluded.created_at, updated_at = excluded.updated_at,
    last_seq = excluded.last_seq, tokens = excluded.tokens, window_start = excluded.window_start,
    title = excluded.title, metadata = excluded.metadata, owner = excluded.owner,
    revision = excluded.revision"""
_CREATE = _INSERT_SESSION + "NOTHING RETURNING 1"
_CREATE_OR_REPLACE = _INSERT_SESSION + _REPLACE_ROW + " RETURNING 1"
_DELETE_MESSAGES = "DELETE FROM agentcli_messages WHERE session_id = %(id)s"
_DELETE_SPEND = "DELETE FROM agentcli_spend WHERE scope = %(scope)s"
_DELETE_LEASE = "DELETE FROM agentcli_leases WHERE session_id = %(id)s"
_INSERT_MESSAGES = """
INSERT INTO agentcli_messages (session_id, seq, message)
SELECT %(id)s, batch.ord, batch.message
FROM unnest(%(messages)b::text[]) WITH ORDINALITY AS batch (message, ord)"""


class _Parts(Protocol):
    """What ``write_session`` uses of ``PostgresStore``."""

    session_ttl: float
    _sql: sql.Statements

    async def _run(
        self, op: Callable[[Conn], Awaitable[_T]], doing: str, *, idempotent: bool
    ) -> _T: ...


class WholeSessionWriter:
    """``write_session`` of the ``SessionStore`` protocol, for ``PostgresStore``."""

    async def write_session(
        self: _Parts,
        session_id: str,
        messages: Sequence[Message],
        *,
        window_start: int = 1,
        metadata: dict[str, JsonValue] | None = None,
        replace: bool = False,
    ) -> bool:
        batch = list(messages)
        check_whole_session(session_id, batch, window_start)
        state = dict(metadata or {})
        params = {
            "id": session_id,
            "scope": session_scope(session_id),
            "n": len(batch),
            "tokens": sum(m.tokens for m in batch),
            "window_start": window_start,
            "title": session_title(batch),
            "metadata": sql.metadata_json(state),
            "owner": session_owner(state),
            "revision": new_revision(),
            # Encoded here, before the transaction: nothing is sent unless all of it could be.
            "messages": [sql.encode_message(m) for m in batch],
            "idle": self.session_ttl,
        }
        statements = self._sql

        async def op(conn: Conn) -> bool:
            return await write_session(conn, statements, params, replace)

        return await self._run(op, f"writing session {session_id!r}", idempotent=False)


async def write_session(
    conn: Conn, st: sql.Statements, params: dict[str, Any], replace: bool
) -> bool:
    """One transaction: rolled back whole if any statement fails."""
    async with conn.transaction():
        row = await (await conn.execute(st.seq_of + " FOR UPDATE", params)).fetchone()
        live = row is not None and bool(row[1])  # an expired row is as good as gone
        if live and not replace:
            return False
        upsert = _CREATE_OR_REPLACE if replace or row is not None else _CREATE
        if await (await conn.execute(upsert, params)).fetchone() is None:
            return False  # created by another writer since the lock was asked for
        if row is not None:  # the old session's counter goes with it, as with ``delete``
            await conn.execute(_DELETE_SPEND, params)
        if live:
            await conn.execute(_DELETE_LEASE, params)
        await conn.execute(_DELETE_MESSAGES, params)
        if params["messages"]:
            await conn.execute(_INSERT_MESSAGES, params)
    return True
