"""Holding one session for a change: the local lock, then the store's lease, with a window that
is current (reloaded if another process moved the session)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING

from ..stores.lease import Lease
from .writer import SessionWriter

if TYPE_CHECKING:
    from .manager import SessionManager

__all__ = ["Writing"]


class Writing:
    """``async with manager._writing(id) as writer`` (a class, not a generator: every turn)."""

    __slots__ = ("_lease", "_lock", "_manager", "_session_id")

    def __init__(self, manager: SessionManager, session_id: str) -> None:
        self._manager = manager
        self._session_id = session_id
        self._lock = manager._locks.hold(session_id)
        self._lease: AbstractAsyncContextManager[Lease] | None = None

    async def __aenter__(self) -> SessionWriter:
        manager, session_id = self._manager, self._session_id
        await self._lock.__aenter__()
        try:
            lease_cm = manager.store.lease(
                session_id, ttl=manager.lease_ttl, wait=manager.lease_wait
            )
            lease = await lease_cm.__aenter__()
            self._lease = lease_cm
            try:
                state = await manager._state(session_id, lease.last_seq, lease.revision)
            except BaseException:
                self._lease = None
                await lease_cm.__aexit__(None, None, None)
                raise
        except BaseException:
            await self._lock.__aexit__(None, None, None)
            raise
        return SessionWriter(
            manager.store,
            manager._cache,
            session_id,
            state,
            pin_first=manager.pin_first_message,
            compaction=(
                manager._compaction("summarize")
                if manager.cleanup_strategy == "summarize"
                else None  # first-in first-out: nothing to build for the turn
            ),
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._lease is not None:
                await self._lease.__aexit__(exc_type, exc, traceback)
        finally:
            await self._lock.__aexit__(exc_type, exc, traceback)
