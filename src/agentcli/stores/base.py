"""The session store protocol: a handful of async methods every backend implements.

Order is by ``seq`` (1, 2, 3 ... per session), assigned by the store inside the same atomic
step that writes the batch, never by clock. A batch is written whole or not at all.

One turn at a time per session: ``lease()`` holds a session for a turn across coroutines,
processes and machines (``stores/lease.py``), and ``append(..., expected_last_seq=N)`` refuses
to write after anyone else's messages.

Spend counters (``add_spend``, ``get_spend``) keep what turns cost, in USD, for budgets that
every process sharing the store enforces alike. A counter is named by a scope:
``session:<id>`` (see ``session_scope``) belongs to that session, is deleted with it and
expires with it; any other scope, such as ``key:<key id>:<YYYY-MM-DD>`` (``key_day_scope``),
stands alone and lapses ``ttl`` seconds after its last increment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from pydantic import JsonValue

from ..errors import InvalidInputError
from ..messages import Message
from .lease import DEFAULT_LEASE_TTL, DEFAULT_LEASE_WAIT, Lease

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "OWNER_KEY",
    "SESSION_SCOPE",
    "SessionInfo",
    "SessionStore",
    "check_spend",
    "check_whole_session",
    "key_day_scope",
    "scope_session",
    "session_owner",
    "session_scope",
    "session_title",
    "validate_session_id",
]

OWNER_KEY = "owner"
"""The metadata key naming who a session belongs to (a server's API key id). Stores index it,
so ``list_sessions(owner=...)`` does not read every session."""

SESSION_SCOPE = "session:"
"""The prefix of a session's spend counter scope (``session:<id>``)."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""The integers every store can count (SQLite's and PostgreSQL's ``bigint``, Redis's counters)."""

_MAX_ID = 128
_MAX_SCOPE = 256
_MAX_USD = 1e12  # far above any real spend; a larger increment is a bug, not a cost
_TITLE_CHARS = 80


def session_title(messages: Sequence[Message]) -> str | None:
    """A session's title: the start of its first user message (``None`` if there is none)."""
    return next((m.content[:_TITLE_CHARS] for m in messages if m.role == "user"), None)


def session_owner(metadata: dict[str, JsonValue]) -> str | None:
    owner = metadata.get(OWNER_KEY)
    return owner if isinstance(owner, str) else None


def validate_session_id(session_id: str) -> str:
    """Session ids are 1-128 printable characters without path separators or NUL."""
    if not session_id or len(session_id) > _MAX_ID:
        raise InvalidInputError(f"session id must be 1 to {_MAX_ID} characters")
    if any(c in session_id for c in "/\\\x00") or not session_id.isprintable():
        raise InvalidInputError(
            f"session id {session_id!r} may not contain '/', '\\\\' or control characters"
        )
    if session_id in {".", ".."}:
        raise InvalidInputError(f"session id {session_id!r} is reserved")
    return session_id


def session_scope(session_id: str) -> str:
    """The spend counter of a session: deleted with the session, expires with it."""
    return SESSION_SCOPE + session_id


def key_day_scope(key_id: str, day: date) -> str:
    """The spend counter of an API key on one (UTC) day."""
    return f"key:{key_id}:{day.isoformat()}"


def scope_session(scope: str) -> str | None:
    """The session a ``session:<id>`` scope belongs to; ``None`` for any other scope."""
    return scope[len(SESSION_SCOPE) :] if scope.startswith(SESSION_SCOPE) else None


def check_spend(scope: str, usd: float, ttl: float | None) -> None:
    """Refuse a scope, an amount or a ttl no store can keep faithfully (``InvalidInputError``)."""
    if not scope or len(scope) > _MAX_SCOPE or not scope.isprintable():
        raise InvalidInputError(f"a spend scope must be 1 to {_MAX_SCOPE} printable characters")
    if isinstance(usd, bool) or not isinstance(usd, int | float):
        raise InvalidInputError(f"spend must be a number of USD, not {type(usd).__name__}")
    if not (math.isfinite(usd) and 0 <= usd <= _MAX_USD):
        raise InvalidInputError(
            f"spend must be a finite amount from 0 to {_MAX_USD:g} USD: {usd!r}"
        )
    if ttl is not None and not (math.isfinite(ttl) and ttl > 0):
        raise InvalidInputError(
            f"a spend counter's ttl must be a positive number of seconds: {ttl!r}"
        )


def check_whole_session(session_id: str, messages: Sequence[Message], window_start: int) -> None:
    """Refuse (``InvalidInputError``) a whole session (``write_session``) no store can hold,
    before anything is written: a bad id, a window marker or token count beyond 64 bits."""
    validate_session_id(session_id)
    if isinstance(window_start, bool) or not 1 <= window_start <= INT64_MAX:
        raise InvalidInputError(f"window_start must be from 1 to {INT64_MAX}: {window_start!r}")
    if sum(m.tokens for m in messages) > INT64_MAX:
        raise InvalidInputError(f"the messages' tokens add up to more than {INT64_MAX}")


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session's summary. ``window_start`` is the first ``seq`` of the agent's window
    (messages before it were trimmed out of the window but stay in the transcript).
    ``revision`` changes whenever the session is created or its state is set (see
    ``stores.lease.LeaseGrant``)."""

    id: str
    created_at: datetime
    updated_at: datetime
    message_count: int
    last_seq: int
    window_start: int = 1
    title: str = ""
    tokens: int = 0
    metadata: dict[str, JsonValue] = field(default_factory=dict)
    revision: str = ""


@runtime_checkable
class SessionStore(Protocol):
    """Persistence for sessions. Every backend passes ``tests/stores/conformance.py``."""

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        expected_last_seq: int | None = None,
    ) -> list[Message]:
        """Store ``messages`` at the end of the session (created if new), atomically.

        Returns the stored messages with their ``seq`` assigned, in order. With
        ``expected_last_seq``, the batch is written only if the session's last ``seq`` is still
        that (0 for a session that does not exist yet); otherwise nothing is written and
        ``SessionConflictError`` is raised.
        """
        ...

    def lease(
        self,
        session_id: str,
        *,
        ttl: float = DEFAULT_LEASE_TTL,
        wait: float = DEFAULT_LEASE_WAIT,
    ) -> AbstractAsyncContextManager[Lease]:
        """Hold the session for one turn (``async with store.lease(id) as lease:``).

        Waits up to ``wait`` seconds for another holder, then raises ``SessionBusyError``.
        The lease is renewed while held and released on exit; a holder that died loses it
        after ``ttl`` seconds. ``lease.last_seq`` is the session's last ``seq`` when taken.
        """
        ...

    async def read(
        self, session_id: str, *, since_seq: int = 1, last: int | None = None
    ) -> list[Message]:
        """Messages with ``seq >= since_seq`` in order; only the final ``last`` if given.
        An unknown session reads as empty."""
        ...

    async def read_seqs(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        """The messages with these ``seq`` numbers, in ``seq`` order (missing ones left out).
        For the few messages kept in a window from before its start (system messages)."""
        ...

    async def info(self, session_id: str) -> SessionInfo | None:
        """The session's summary, or ``None`` if it does not exist."""
        ...

    async def list_sessions(
        self, *, limit: int | None = None, owner: str | None = None
    ) -> list[SessionInfo]:
        """Sessions, most recently active first; only ``owner``'s (``metadata["owner"]``) if
        given."""
        ...

    async def set_state(
        self,
        session_id: str,
        *,
        window_start: int | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> str:
        """Move the window marker and/or merge ``metadata`` into the session's metadata, and
        give the session a new ``revision``, which is returned. Creates the session if it does
        not exist."""
        ...

    async def write_session(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        window_start: int = 1,
        metadata: dict[str, JsonValue] | None = None,
        replace: bool = False,
    ) -> bool:
        """Store a whole session in one atomic step (for imports): ``messages`` numbered 1, 2,
        ... (whatever their ``seq``), the window marker, and ``metadata`` as the whole of the
        session's metadata. The title and token count follow from the messages; the session
        gets new created and updated times and a new revision.

        If the session exists, ``replace`` replaces it in the same step (its messages, state,
        spend counter and, where ``delete`` removes it, lease go); without ``replace`` nothing
        changes and ``False`` is returned, decided inside that step, so of two writers only one
        creates the session. A failure changes nothing. ``True`` when written.
        """
        ...

    async def delete(self, session_id: str) -> bool:
        """Remove the session, its messages and its spend counter; ``True`` if it existed."""
        ...

    async def add_spend(self, scope: str, usd: float, *, ttl: float | None = None) -> float:
        """Add ``usd`` to the counter ``scope`` atomically (concurrent adds from any number of
        processes all count) and return its new total.

        A ``session:<id>`` counter lives as long as its session (``ttl`` is not used); any
        other counter lapses ``ttl`` seconds after this increment (``None``: never), and then
        starts again from 0. Raises ``InvalidInputError`` for a negative or non-finite amount.
        """
        ...

    async def get_spend(self, scope: str) -> float:
        """The counter's total, 0.0 when there is none (or it lapsed)."""
        ...

    async def expire(self, before: datetime) -> int:
        """Delete sessions last active before ``before`` (with their spend counters), and
        the spend counters that lapsed; returns how many sessions."""
        ...

    async def close(self) -> None:
        """Release connections and files."""
        ...
