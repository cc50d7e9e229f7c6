"""The SQL of the SQLite store's spend counters (the ``spend`` table, schema 4).

A counter's ``expires_us`` is NULL for a session's (``session:<id>``, deleted with its session
by ``_sqlite_ops.delete`` and ``expire``) and for one that never lapses. Each write is one
``BEGIN IMMEDIATE`` transaction, so concurrent adds from any number of processes all count.
"""

from __future__ import annotations

import sqlite3

from ._sqlite_ops import now_us, seconds_us, transaction
from .base import scope_session

__all__ = ["add_spend", "get_spend"]


def add_spend(conn: sqlite3.Connection, scope: str, usd: float, ttl: float | None) -> float:
    """Add ``usd`` to the counter (from 0 if it lapsed); its new total."""
    now = now_us()
    expires = None if ttl is None or scope_session(scope) is not None else now + seconds_us(ttl)
    with transaction(conn):
        conn.execute(
            "INSERT INTO spend (scope, usd, expires_us) VALUES (:scope, :usd, :expires) "
            "ON CONFLICT (scope) DO UPDATE SET "
            "usd = CASE WHEN spend.expires_us <= :now THEN excluded.usd "
            "ELSE spend.usd + excluded.usd END, expires_us = excluded.expires_us",
            {"scope": scope, "usd": usd, "expires": expires, "now": now},
        )
        row = conn.execute("SELECT usd FROM spend WHERE scope = ?", (scope,)).fetchone()
    return float(row[0])


def get_spend(conn: sqlite3.Connection, scope: str) -> float:
    row = conn.execute(
        "SELECT usd FROM spend WHERE scope = ? AND (expires_us IS NULL OR expires_us > ?)",
        (scope, now_us()),
    ).fetchone()
    return 0.0 if row is None else float(row[0])
