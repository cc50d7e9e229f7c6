"""The SQLite store's ``write_session``: a whole session (an import) in one transaction.

Kept apart from ``_sqlite_ops.py`` (one function per everyday operation) and given to
``SQLiteStore`` as a mixin, so the store module stays one screenful of plumbing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from pydantic import JsonValue, TypeAdapter

from ..messages import Message, with_seq
from ._sqlite_ops import now_us, transaction
from .base import check_whole_session, session_owner, session_scope, session_title
from .lease import new_revision

__all__ = ["WholeSessionWriter", "write_session"]

_T = TypeVar("_T")
_message_adapter: TypeAdapter[Message] = TypeAdapter(Message)


class _Calls(Protocol):
    async def _call(self, op: Callable[[sqlite3.Connection], _T]) -> _T: ...


class WholeSessionWriter:
    """``write_session`` of the ``SessionStore`` protocol, for ``SQLiteStore``."""

    async def write_session(
        self: _Calls,
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
        return await self._call(
            lambda conn: write_session(conn, session_id, batch, window_start, state, replace)
        )


def write_session(
    conn: sqlite3.Connection,
    session_id: str,
    messages: list[Message],
    window_start: int,
    metadata: dict[str, JsonValue],
    replace: bool,
) -> bool:
    """One ``BEGIN IMMEDIATE`` transaction: whether the session exists is read under the write
    lock, and everything after (the old session's removal included) commits together or, on
    any error, not at all."""
    stored = [with_seq(m, seq) for seq, m in enumerate(messages, 1)]
    now = now_us()
    with transaction(conn):
        exists = conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if exists and not replace:
            return False
        if exists:  # as ``delete`` does: its lease goes too, so a turn on it cannot go on
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            conn.execute("DELETE FROM spend WHERE scope = ?", (session_scope(session_id),))
            conn.execute("DELETE FROM leases WHERE session_id = ?", (session_id,))
        conn.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
        # Serialised as they are inserted: a row that fails rolls back everything above.
        conn.executemany(
            "INSERT INTO messages (session_id, seq, message) VALUES (?, ?, ?)",
            ((session_id, m.seq, _message_adapter.dump_json(m).decode()) for m in stored),
        )
        conn.execute(
            "INSERT INTO sessions (id, created_us, updated_us, last_seq, tokens, window_start, "
            "title, metadata, owner, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                now,
                now,
                len(stored),
                sum(m.tokens for m in stored),
                window_start,
                session_title(stored),
                json.dumps(metadata, ensure_ascii=False, separators=(",", ":")),
                session_owner(metadata),
                new_revision(),
            ),
        )
    return True
