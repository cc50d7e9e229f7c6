"""An in-process store: fast, lost when the process exits. For tests and ``--ephemeral``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from pydantic import JsonValue

from ..errors import SessionConflictError
from ..messages import Message, with_seq
from .base import (
    SessionInfo,
    check_spend,
    check_whole_session,
    scope_session,
    session_owner,
    session_scope,
    session_title,
    validate_session_id,
)
from .lease import (
    DEFAULT_LEASE_TTL,
    DEFAULT_LEASE_WAIT,
    Lease,
    LeaseGrant,
    hold_lease,
    new_revision,
)

__all__ = ["MemoryStore"]


@dataclasses.dataclass(slots=True)
class _Session:
    created_at: datetime
    updated_at: datetime
    messages: list[Message] = dataclasses.field(default_factory=list)
    window_start: int = 1
    tokens: int = 0
    metadata: dict[str, JsonValue] = dataclasses.field(default_factory=dict)
    revision: str = dataclasses.field(default_factory=new_revision)


class MemoryStore:
    """Sessions in a dict. Each method runs without awaiting in between, so every batch is
    atomic with respect to other coroutines on the same loop.

    ``clock`` (monotonic seconds) times lease expiry; tests inject their own.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions: dict[str, _Session] = {}
        self._leases: dict[str, tuple[str, float]] = {}  # session id -> (owner, expires at)
        # scope -> (USD, expires at on ``clock`` or None); a session's goes with the session.
        self._spend: dict[str, tuple[float, float | None]] = {}
        self._clock = clock

    def _get_or_create(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            now = datetime.now(UTC)
            session = self._sessions[validate_session_id(session_id)] = _Session(now, now)
        return session

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        expected_last_seq: int | None = None,
    ) -> list[Message]:
        # Build the whole batch first: a failure (or a cancellation before this point) leaves
        # the session untouched.
        session = self._sessions.get(session_id)
        last = len(session.messages) if session else 0
        if expected_last_seq is not None and expected_last_seq != last:
            raise SessionConflictError(session_id, expected_last_seq, last)
        start = last + 1
        stored = [with_seq(m, start + i) for i, m in enumerate(messages)]
        session = self._get_or_create(session_id)
        session.messages.extend(stored)
        session.tokens += sum(m.tokens for m in stored)
        session.updated_at = datetime.now(UTC)
        return stored

    async def read(
        self, session_id: str, *, since_seq: int = 1, last: int | None = None
    ) -> list[Message]:
        session = self._sessions.get(session_id)
        if session is None:
            return []
        selected = session.messages[max(0, since_seq - 1) :]
        if last is not None:
            selected = selected[-last:] if last > 0 else []
        return list(selected)

    async def read_seqs(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        session = self._sessions.get(session_id)
        if session is None:
            return []
        count = len(session.messages)
        return [session.messages[s - 1] for s in sorted(set(seqs)) if 1 <= s <= count]

    async def info(self, session_id: str) -> SessionInfo | None:
        session = self._sessions.get(session_id)
        return None if session is None else self._info(session_id, session)

    async def list_sessions(
        self, *, limit: int | None = None, owner: str | None = None
    ) -> list[SessionInfo]:
        infos = sorted(
            (
                self._info(sid, s)
                for sid, s in self._sessions.items()
                if owner is None or session_owner(s.metadata) == owner
            ),
            key=lambda i: i.updated_at,
            reverse=True,
        )
        return infos[:limit] if limit is not None else infos

    async def set_state(
        self,
        session_id: str,
        *,
        window_start: int | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> str:
        session = self._get_or_create(session_id)
        if window_start is not None:
            session.window_start = window_start
        if metadata:
            session.metadata.update(metadata)
        session.updated_at = datetime.now(UTC)
        session.revision = new_revision()
        return session.revision

    async def write_session(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        window_start: int = 1,
        metadata: dict[str, JsonValue] | None = None,
        replace: bool = False,
    ) -> bool:
        check_whole_session(session_id, messages, window_start)
        if session_id in self._sessions and not replace:
            return False
        # Built whole before the one assignment that replaces the old session.
        stored = [with_seq(m, seq) for seq, m in enumerate(messages, 1)]
        now = datetime.now(UTC)
        session = _Session(now, now, stored, window_start, sum(m.tokens for m in stored))
        session.metadata = dict(metadata or {})
        if self._sessions.pop(session_id, None) is not None:
            self._spend.pop(session_scope(session_id), None)
        self._sessions[session_id] = session
        return True

    async def delete(self, session_id: str) -> bool:
        self._spend.pop(session_scope(session_id), None)
        return self._sessions.pop(session_id, None) is not None

    async def add_spend(self, scope: str, usd: float, *, ttl: float | None = None) -> float:
        check_spend(scope, usd, ttl)
        now = self._clock()
        total = self._live_spend(scope, now) + float(usd)
        lapses = None if ttl is None or scope_session(scope) is not None else now + ttl
        self._spend[scope] = (total, lapses)
        return total

    async def get_spend(self, scope: str) -> float:
        return self._live_spend(scope, self._clock())

    def _live_spend(self, scope: str, now: float) -> float:
        total, lapses = self._spend.get(scope, (0.0, None))
        return 0.0 if lapses is not None and lapses <= now else total

    def lease(
        self,
        session_id: str,
        *,
        ttl: float = DEFAULT_LEASE_TTL,
        wait: float = DEFAULT_LEASE_WAIT,
    ) -> AbstractAsyncContextManager[Lease]:
        return hold_lease(self, session_id, ttl=ttl, wait=wait, clock=self._clock)

    async def lease_acquire(self, session_id: str, token: str, ttl: float) -> LeaseGrant | float:
        now = self._clock()
        held = self._leases.get(session_id)
        if held is not None and held[0] != token and held[1] > now:
            return max(0.0, held[1] - now)
        self._leases[session_id] = (token, now + ttl)
        session = self._sessions.get(session_id)
        if session is None:
            return LeaseGrant(0, "")
        return LeaseGrant(len(session.messages), session.revision)

    async def lease_renew(self, session_id: str, token: str, ttl: float) -> bool:
        held = self._leases.get(session_id)
        if held is None or held[0] != token:
            return False
        self._leases[session_id] = (token, self._clock() + ttl)
        return True

    async def lease_release(self, session_id: str, token: str) -> None:
        held = self._leases.get(session_id)
        if held is not None and held[0] == token:
            del self._leases[session_id]

    async def expire(self, before: datetime) -> int:
        if before.tzinfo is None:
            from ..errors import InvalidInputError

            raise InvalidInputError("expire() needs a timezone-aware datetime")
        old = [sid for sid, s in self._sessions.items() if s.updated_at < before]
        for sid in old:
            del self._sessions[sid]
            self._spend.pop(session_scope(sid), None)
        now = self._clock()
        for scope in [k for k, (_, at) in self._spend.items() if at is not None and at <= now]:
            del self._spend[scope]
        return len(old)

    async def close(self) -> None:
        """Nothing to release."""

    @staticmethod
    def _info(session_id: str, session: _Session) -> SessionInfo:
        title = session_title(session.messages) or ""
        return SessionInfo(
            id=session_id,
            created_at=session.created_at,
            updated_at=session.updated_at,
            message_count=len(session.messages),
            last_seq=len(session.messages),
            window_start=session.window_start,
            title=title,
            tokens=session.tokens,
            metadata=dict(session.metadata),
            revision=session.revision,
        )
