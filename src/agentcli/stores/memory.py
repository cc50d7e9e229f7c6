"""An in-process store: fast, lost when the process exits. For tests and ``--ephemeral``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import JsonValue

from ..messages import Message, with_seq
from .base import SessionInfo, session_title, validate_session_id

__all__ = ["MemoryStore"]


@dataclasses.dataclass(slots=True)
class _Session:
    created_at: datetime
    updated_at: datetime
    messages: list[Message] = dataclasses.field(default_factory=list)
    window_start: int = 1
    tokens: int = 0
    metadata: dict[str, JsonValue] = dataclasses.field(default_factory=dict)


class MemoryStore:
    """Sessions in a dict. Each method runs without awaiting in between, so every batch is
    atomic with respect to other coroutines on the same loop."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    def _get_or_create(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            now = datetime.now(UTC)
            session = self._sessions[validate_session_id(session_id)] = _Session(now, now)
        return session

    async def append(self, session_id: str, messages: Sequence[Message]) -> list[Message]:
        # Build the whole batch first: a failure (or a cancellation before this point) leaves
        # the session untouched.
        session = self._sessions.get(session_id)
        start = len(session.messages) + 1 if session else 1
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

    async def info(self, session_id: str) -> SessionInfo | None:
        session = self._sessions.get(session_id)
        return None if session is None else self._info(session_id, session)

    async def list_sessions(self, *, limit: int | None = None) -> list[SessionInfo]:
        infos = sorted(
            (self._info(sid, s) for sid, s in self._sessions.items()),
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
    ) -> None:
        session = self._get_or_create(session_id)
        if window_start is not None:
            session.window_start = window_start
        if metadata:
            session.metadata.update(metadata)
        session.updated_at = datetime.now(UTC)

    async def delete(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    async def expire(self, before: datetime) -> int:
        if before.tzinfo is None:
            from ..errors import InvalidInputError

            raise InvalidInputError("expire() needs a timezone-aware datetime")
        old = [sid for sid, s in self._sessions.items() if s.updated_at < before]
        for sid in old:
            del self._sessions[sid]
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
        )
