"""The PostgreSQL store's operations that take more than one statement, on one connection.

Each takes a pooled connection (autocommit) and the store's :class:`Statements`. A write that
finds its session expired drops it (``DROP_EXPIRED``) and writes again: the first statement
wrote nothing, so running it again is safe. Several statements that must stand or fall
together go in one pipeline without ``BEGIN``: PostgreSQL runs what precedes a Sync as one
implicit transaction, each statement in a new snapshot, in one round trip.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import errors as pg_errors
from pydantic import JsonValue

from ..errors import StoreError
from . import _postgres_sql as sql
from ._postgres_pool import Conn
from .base import check_spend, scope_session, session_owner

__all__ = [
    "ATTEMPTS",
    "add_spend",
    "append",
    "delete",
    "delete_sessions",
    "drop_expired",
    "lease_acquire",
    "set_state",
    "spend_params",
]

ATTEMPTS = 3  # a write that keeps finding its session expired or changed gives up after this


async def append(
    conn: Conn, st: sql.Statements, params: dict[str, Any], expected: int | None
) -> tuple[int | None, int]:
    """(the session's new last seq, 0), or (``None``, its actual last seq) if ``expected`` did
    not match (an expired session is at 0)."""
    may_create = expected is None or expected == 0  # a seq other than 0 needs the session
    main = st.append(may_create, params["n"])
    actual = 0
    for _ in range(ATTEMPTS):
        row = await (await conn.execute(main, params)).fetchone()
        if row is not None:
            return int(row[0]), 0
        # Nothing written. Why? (Rarely asked, so the usual append stays one statement.)
        state = await (await conn.execute(st.seq_of, params)).fetchone()
        alive = state is not None and bool(state[1])
        actual = int(state[0]) if state is not None and alive else 0
        if state is not None and not alive and may_create:
            await drop_expired(conn, params)  # then append to a new session
        elif expected is not None and actual != expected:
            return None, actual
        # Else the session changed in between (expired and made again): try again.
    return None, actual


async def set_state(
    conn: Conn, st: sql.Statements, params: dict[str, Any], metadata: dict[str, JsonValue]
) -> None:
    """Create or update the session's state, merging ``metadata`` on the server."""
    main = st.set_state_merge if metadata else st.set_state_keep
    for _ in range(ATTEMPTS):
        try:
            if (await conn.execute(main, params)).rowcount:
                return
        except pg_errors.UntranslatableCharacter:
            # A "\u0000" in the JSON, which PostgreSQL's json functions cannot take apart
            # (the statement failed whole): merge here instead.
            if await _merge_here(conn, st, params, metadata):
                return
            continue
        await drop_expired(conn, params)  # expired: set the state of a new one
    raise StoreError(f"session {params['id']!r} kept changing while its state was set; retry")


async def _merge_here(
    conn: Conn, st: sql.Statements, params: dict[str, Any], metadata: dict[str, JsonValue]
) -> bool:
    """Read the state, merge in Python, write it back if its revision is unchanged (else
    ``False``: the caller tries again)."""
    row = await (await conn.execute(st.state_of, params)).fetchone()
    if row is None or not row[2]:
        if row is not None:
            await drop_expired(conn, params)
        return (await conn.execute(sql.INSERT_STATE, params)).rowcount > 0
    merged: dict[str, JsonValue] = json.loads(row[0])
    merged.update(metadata)
    written = {
        **params,
        "metadata": sql.metadata_json(merged),
        "owner": session_owner(merged),
        "was": row[1],
    }
    return (await conn.execute(sql.UPDATE_STATE, written)).rowcount > 0


async def drop_expired(conn: Conn, params: dict[str, Any]) -> None:
    """Delete the session if it has expired, with its messages (one implicit transaction)."""
    async with conn.pipeline():
        for statement in sql.DROP_EXPIRED:
            await conn.execute(statement, params)


async def delete(conn: Conn, st: sql.Statements, params: dict[str, Any]) -> bool:
    """Whether the session existed (and had not expired)."""
    async with conn.pipeline():
        gone = await conn.execute(st.delete_one, params)
        await conn.execute(sql.DELETE_MESSAGES, params)
        await conn.execute(sql.DELETE_LEASES, params)
        await conn.execute(sql.DELETE_SPEND, params)
    row = await gone.fetchone()
    return bool(row and row[0])


async def delete_sessions(
    conn: Conn, sessions: str, leases: str, params: dict[str, Any]
) -> list[Any]:
    """Delete the sessions the ``sessions`` statement deletes (returning id, visible), then
    in the same transaction their messages, leases and spend counters (and the counters that
    lapsed); return its rows."""
    async with conn.transaction():
        rows = await (await conn.execute(sessions, params)).fetchall()
        ids = [row[0] for row in rows]
        both = {**params, "ids": ids}
        if ids:
            await conn.execute(sql.DELETE_MESSAGES, both)
            await conn.execute(sql.DELETE_SPEND, both)
        await conn.execute(leases, both)
        await conn.execute(sql.DELETE_LAPSED_SPEND)
    return rows


async def lease_acquire(
    conn: Conn, st: sql.Statements, params: dict[str, Any]
) -> tuple[Any, ...] | None:
    """(granted, seconds the holder has left, last seq, revision), or ``None`` if the lease
    was let go between the two statements (it is free: ask again)."""
    async with conn.pipeline():
        await conn.execute(sql.LEASE_TAKE, params)
        # The next statement runs in a new snapshot, taken once the lease row was ours: it
        # sees every append that committed before the previous holder let go.
        state = await conn.execute(st.lease_state, params)
    return await state.fetchone()


def spend_params(scope: str, usd: float, ttl: float | None, *, idle: float) -> dict[str, Any]:
    """The parameters of the spend statements, once the scope, amount and ttl are checked.
    ``sid`` is the session of a ``session:<id>`` counter, which has no ttl of its own."""
    check_spend(scope, usd, ttl)
    session_id = scope_session(scope)
    ttl = None if session_id is not None else ttl
    return {"scope": scope, "sid": session_id, "usd": float(usd), "ttl": ttl, "idle": idle}


async def add_spend(conn: Conn, st: sql.Statements, params: dict[str, Any]) -> float:
    """Add to the counter in one statement (the row's lock orders concurrent adds)."""
    row = await (await conn.execute(st.add_spend, params)).fetchone()
    assert row is not None  # an upsert always returns its row
    return float(row[0])
