"""The SQL of the PostgreSQL store, and the conversions between its rows and our types.

Statements take named parameters (``%(id)s``) and are sent unprepared (the extended protocol's
unnamed statement), so they work through PgBouncer in transaction mode. A session that has been
idle for longer than the store's ``session_ttl`` is invisible to every read: the statements
below test it (not at all when sessions never expire), judged by the server's clock.
"""

# ruff: noqa: S608  (every statement is built from this module's constants; values are bound)
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from pydantic import JsonValue, TypeAdapter, ValidationError

from ..errors import StoreError
from ..messages import Message, messages_adapter
from .base import SESSION_SCOPE, SessionInfo

__all__ = ["Statements", "decode_messages", "encode_message", "metadata_json", "session_info"]

_IDLE_LIMIT = "now() - make_interval(secs => %(idle)s)"


def _fresh(alias: str, expires: bool) -> str:
    """Whether session row ``alias`` is still alive: active within ``session_ttl``."""
    return f"{alias}.updated_at >= {_IDLE_LIMIT}" if expires else "TRUE"


# ---------------------------------------------------------------------- writes
#
# A write is one statement that refuses to touch an expired session row (it behaves as gone)
# and says so; the store then drops the row with DROP_EXPIRED and writes again. That happens
# once per expired session, so the usual write stays a single statement.

# The expired session, then (the next statement of the same pipeline, in a new snapshot taken
# once the row's lock was had, so after any write that was in flight) its messages, if its row
# is gone. Rare: only a write to a session that expired and was not swept yet does this.
DROP_EXPIRED = (
    f"DELETE FROM agentcli_sessions WHERE id = %(id)s AND updated_at < {_IDLE_LIMIT}",
    "DELETE FROM agentcli_messages WHERE session_id = %(id)s "
    "AND NOT EXISTS (SELECT 1 FROM agentcli_sessions WHERE id = %(id)s)",
    f"DELETE FROM agentcli_spend WHERE scope = '{SESSION_SCOPE}' || %(id)s "
    "AND NOT EXISTS (SELECT 1 FROM agentcli_sessions WHERE id = %(id)s)",
)

# Appends bump the session's counter under its row lock (creating the row if needed) and
# insert the batch numbered from the old value, in one statement. No row back means nothing
# was inserted: the expected last seq did not match, or the row has expired (``seq_of`` then
# says which). The stored JSON has no "seq": the row's key is the number. A new row is stamped
# with the statement's time; an existing one when its lock is had, never earlier than before.
_APPEND_UPSERT = """
WITH bumped AS (
    INSERT INTO agentcli_sessions AS s
        (id, created_at, updated_at, last_seq, tokens, title, revision)
    VALUES (%(id)s, now(), now(), %(n)s, %(tokens)s, %(title)s, %(revision)s)
    ON CONFLICT (id) DO UPDATE SET
        last_seq = s.last_seq + excluded.last_seq,
        updated_at = greatest(clock_timestamp(), s.updated_at),
        tokens = s.tokens + excluded.tokens,
        title = COALESCE(s.title, excluded.title)
    WHERE (%(expected)s::bigint IS NULL OR s.last_seq = %(expected)s::bigint) AND {fresh}
    RETURNING s.last_seq
)"""
# With an ``expected_last_seq`` other than 0 the session must exist: it is never created.
_APPEND_UPDATE = """
WITH bumped AS (
    UPDATE agentcli_sessions AS s SET
        last_seq = s.last_seq + %(n)s::bigint,
        updated_at = greatest(clock_timestamp(), s.updated_at),
        tokens = s.tokens + %(tokens)s::bigint,
        title = COALESCE(s.title, %(title)s)
    WHERE s.id = %(id)s AND s.last_seq = %(expected)s::bigint AND {fresh}
    RETURNING s.last_seq
)"""
# The usual append is one message: a plain parameter is cheaper than an array to unnest.
_INSERT_ROWS = {
    "none": "",
    "one": """, inserted AS (
    INSERT INTO agentcli_messages (session_id, seq, message)
    SELECT %(id)s, bumped.last_seq, %(message)s FROM bumped
)""",
    "many": """, inserted AS (
    INSERT INTO agentcli_messages (session_id, seq, message)
    SELECT %(id)s, bumped.last_seq - %(n)s::bigint + batch.ord, batch.message
    FROM bumped, unnest(%(messages)b::text[]) WITH ORDINALITY AS batch (message, ord)
)""",
}


def _appends(fresh: str) -> dict[tuple[bool, str], str]:
    return {
        (create, rows): (_APPEND_UPSERT if create else _APPEND_UPDATE).replace("{fresh}", fresh)
        + inserted
        + "\nSELECT last_seq FROM bumped"
        for create in (True, False)
        for rows, inserted in _INSERT_ROWS.items()
    }


# Metadata is merged like ``dict.update`` on the JSON text (the ``json`` type keeps every value
# byte for byte): old keys in their order, each replaced by the new value if there is one (a
# JSON null included), then the new keys.
_MERGED_METADATA = """(
    SELECT COALESCE(json_object_agg(k, v ORDER BY pos)::text, '{}') FROM (
        SELECT was.key AS k, COALESCE(given.value, was.value) AS v, was.ord AS pos
        FROM json_each(s.metadata::json) WITH ORDINALITY AS was (key, value, ord)
        LEFT JOIN json_each(excluded.metadata::json) AS given ON given.key = was.key
        UNION ALL
        SELECT given.key, given.value, 4294967296 + given.ord
        FROM json_each(excluded.metadata::json) WITH ORDINALITY AS given (key, value, ord)
        WHERE NOT EXISTS (
            SELECT 1 FROM json_each(s.metadata::json) AS was WHERE was.key = given.key
        )
    ) AS merged
)"""

# Writes no row (rowcount 0) when the session has expired.
_SET_STATE = """
INSERT INTO agentcli_sessions AS s
    (id, created_at, updated_at, window_start, metadata, owner, revision)
VALUES (%(id)s, now(), now(), COALESCE(%(window_start)s::bigint, 1), %(metadata)s,
    %(owner)s, %(revision)s)
ON CONFLICT (id) DO UPDATE SET
    updated_at = greatest(clock_timestamp(), s.updated_at),
    window_start = COALESCE(%(window_start)s::bigint, s.window_start),
    metadata = {metadata},
    owner = CASE WHEN %(sets_owner)s THEN excluded.owner ELSE s.owner END,
    revision = excluded.revision
WHERE {fresh_s}
"""

# The fallback when the server cannot merge (see _postgres_ops.set_state): insert a new
# session's state, or replace a live one's if its revision is still the one read.
INSERT_STATE = _SET_STATE[: _SET_STATE.index("ON CONFLICT")] + "ON CONFLICT (id) DO NOTHING"
UPDATE_STATE = """
UPDATE agentcli_sessions SET updated_at = greatest(clock_timestamp(), updated_at),
    window_start = COALESCE(%(window_start)s::bigint, window_start),
    metadata = %(metadata)s, owner = %(owner)s, revision = %(revision)s
WHERE id = %(id)s AND revision = %(was)s
"""

# Deleting sessions: their rows first (locking them, so writes in flight finish first), then
# in the next statement (a new snapshot that sees those writes) their messages and leases.
DELETE_MESSAGES = "DELETE FROM agentcli_messages WHERE session_id = ANY(%(ids)s::text[])"
# Leases go with their sessions, and so do those that lapsed long ago (left by holders that
# crashed, perhaps on sessions never stored): before the cutoff, or idle longer than the ttl.
DELETE_LEASES = (
    "DELETE FROM agentcli_leases WHERE session_id = ANY(%(ids)s::text[]) "
    "OR expires_at < %(before)s::timestamptz"
)
# The sessions' spend counters go with them; lapsed counters with the sweep and expire().
DELETE_SPEND = (
    "DELETE FROM agentcli_spend WHERE scope IN "
    f"(SELECT '{SESSION_SCOPE}' || i FROM unnest(%(ids)s::text[]) AS i)"
)
DELETE_LAPSED_SPEND = (
    "DELETE FROM agentcli_spend WHERE expires_at IS NOT NULL AND expires_at <= clock_timestamp()"
)
DELETE_IDLE_LEASES = (
    "DELETE FROM agentcli_leases WHERE session_id = ANY(%(ids)s::text[]) "
    f"OR expires_at < {_IDLE_LIMIT}"
)

# Spend counters. ``sid`` is the session of a 'session:<id>' scope (else NULL): such a counter
# is stale while its session row is there but expired (it is dropped with the row soon).
_SPEND_STALE = (
    "(sp.expires_at IS NOT NULL AND sp.expires_at <= clock_timestamp()) OR EXISTS ("
    "SELECT 1 FROM agentcli_sessions AS s WHERE s.id = %(sid)s AND NOT ({fresh}))"
)
_ADD_SPEND = """
INSERT INTO agentcli_spend AS sp (scope, usd, expires_at)
VALUES (%(scope)s, %(usd)s,
    clock_timestamp() + make_interval(secs => %(ttl)s::double precision))
ON CONFLICT (scope) DO UPDATE SET
    usd = CASE WHEN {stale} THEN excluded.usd ELSE sp.usd + excluded.usd END,
    expires_at = excluded.expires_at
RETURNING sp.usd
"""
_GET_SPEND = "SELECT sp.usd FROM agentcli_spend AS sp WHERE sp.scope = %(scope)s AND NOT ({stale})"

LEASE_TAKE = """
INSERT INTO agentcli_leases AS l (session_id, owner, expires_at)
VALUES (%(id)s, %(token)s, clock_timestamp() + make_interval(secs => %(ttl)s))
ON CONFLICT (session_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE l.owner = excluded.owner OR l.expires_at <= clock_timestamp()
"""
LEASE_RENEW = (
    "UPDATE agentcli_leases SET expires_at = clock_timestamp() + make_interval(secs => %(ttl)s) "
    "WHERE session_id = %(id)s AND owner = %(token)s"
)
LEASE_RELEASE = "DELETE FROM agentcli_leases WHERE session_id = %(id)s AND owner = %(token)s"

# ---------------------------------------------------------------------- reads

_COLUMNS = "s.id, s.created_at, s.updated_at, s.last_seq, s.window_start, s.title, s.tokens, "
_COLUMNS += "s.metadata, s.revision"

# Messages are read through their (live) session row: its last_seq bounds an exact range of
# the primary key (the last N are last_seq-N+1 .. last_seq: no LIMIT), returned unordered as
# (seq, text). Sorting them here and putting each "seq" back with Python strings is several
# times cheaper than an ordered aggregate and string functions on the server (measured).
_MESSAGES = """
SELECT m.seq, m.message
FROM agentcli_sessions AS s JOIN agentcli_messages AS m ON m.session_id = s.id AND """


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements that depend on whether sessions expire (``session_ttl`` > 0)."""

    expires: bool
    appends: dict[tuple[bool, str], str]  # (may create the session, "none"/"one"/"many")
    seq_of: str
    set_state_merge: str
    set_state_keep: str
    state_of: str
    read: str
    read_seqs: str
    info: str
    list_all: str
    list_owner: str
    delete_one: str
    delete_idle: str
    expire: str
    lease_state: str
    add_spend: str
    get_spend: str

    def append(self, may_create: bool, count: int) -> str:
        return self.appends[may_create, "none" if not count else "one" if count == 1 else "many"]

    @classmethod
    def build(cls, expires: bool) -> Statements:
        fresh = _fresh("s", expires)
        listing = f"SELECT {_COLUMNS} FROM agentcli_sessions AS s WHERE {fresh} "
        order = "ORDER BY s.updated_at DESC, s.id LIMIT %(limit)s"
        live = f" WHERE s.id = %(id)s AND {fresh}"
        stale = _SPEND_STALE.replace("{fresh}", fresh)
        return cls(
            expires=expires,
            appends=_appends(fresh),
            seq_of=f"SELECT s.last_seq, {fresh} FROM agentcli_sessions AS s WHERE s.id = %(id)s",
            set_state_merge=_SET_STATE.replace("{metadata}", _MERGED_METADATA).replace(
                "{fresh_s}", fresh
            ),
            set_state_keep=_SET_STATE.replace("{metadata}", "s.metadata").replace(
                "{fresh_s}", fresh
            ),
            state_of=f"SELECT s.metadata, s.revision, {fresh} FROM agentcli_sessions AS s "
            "WHERE s.id = %(id)s",
            read=_MESSAGES + "m.seq <= s.last_seq "
            "AND m.seq >= greatest(%(since)s::bigint, s.last_seq - %(last)s::bigint + 1)" + live,
            read_seqs=_MESSAGES + "m.seq = ANY(%(seqs)s::bigint[])" + live,
            info=f"SELECT {_COLUMNS} FROM agentcli_sessions AS s" + live,
            list_all=listing + order,
            list_owner=listing + "AND s.owner = %(owner)s " + order,
            delete_one=f"DELETE FROM agentcli_sessions AS s WHERE s.id = %(id)s RETURNING {fresh}",
            # The inactivity sweep: a batch of the oldest, skipping rows a writer holds.
            delete_idle="DELETE FROM agentcli_sessions AS s WHERE s.id IN ("
            "SELECT id FROM agentcli_sessions "
            f"WHERE updated_at < {_IDLE_LIMIT} ORDER BY updated_at "
            "LIMIT %(batch)s FOR UPDATE SKIP LOCKED) "
            f"AND s.updated_at < {_IDLE_LIMIT} RETURNING s.id, FALSE",
            expire="DELETE FROM agentcli_sessions AS s WHERE s.updated_at < %(before)s "
            f"RETURNING s.id, {fresh}",
            # Sent after LEASE_TAKE in the same transaction, so it runs in a new snapshot: it
            # sees every append that committed before the previous holder let go.
            lease_state="SELECT l.owner = %(token)s, "
            "greatest(extract(epoch FROM l.expires_at - clock_timestamp()), 0)::float8, "
            "s.last_seq, s.revision FROM agentcli_leases AS l "
            f"LEFT JOIN agentcli_sessions AS s ON s.id = l.session_id AND {fresh} "
            "WHERE l.session_id = %(id)s",
            add_spend=_ADD_SPEND.replace("{stale}", stale),
            get_spend=_GET_SPEND.replace("{stale}", stale),
        )


# ---------------------------------------------------------------------- conversions

_message_adapter: TypeAdapter[Message] = TypeAdapter(Message)


def encode_message(message: Message) -> str:
    """Pydantic's JSON of ``message`` without ``seq`` (the row's key holds it)."""
    return _message_adapter.dump_json(message, exclude={"seq"}).decode()


def decode_messages(session_id: str, rows: list[tuple[Any, ...]]) -> list[Message]:
    """Messages, in order, from the (seq, JSON without "seq") rows a read returns."""
    if not rows:
        return []
    rows.sort(key=itemgetter(0))
    joined = ",".join(f'{{"seq":{seq},{text[1:]}' for seq, text in rows)
    try:
        # One validation call for the whole list is much faster than one per row.
        return messages_adapter.validate_json("[" + joined + "]")
    except ValidationError as exc:
        raise StoreError(
            f"a stored message of session {session_id!r} is unreadable: {exc}"
        ) from exc


def metadata_json(metadata: dict[str, JsonValue]) -> str:
    return json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))


def session_info(row: Sequence[Any]) -> SessionInfo:
    sid, created, updated, last_seq, window_start, title, tokens, metadata, revision = row
    return SessionInfo(
        id=sid,
        created_at=_utc(created),
        updated_at=_utc(updated),
        # Sequence numbers are contiguous from 1 and messages are never removed one by one.
        message_count=int(last_seq),
        last_seq=int(last_seq),
        window_start=int(window_start),
        title=title or "",
        tokens=int(tokens),
        metadata=json.loads(metadata),
        revision=revision,
    )


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
