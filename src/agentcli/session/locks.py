"""One ``asyncio.Lock`` per session id, kept only while someone holds or waits for it.

Turns on one session in one process queue here, in order, before they ask the store for the
session's lease (which is what serialises turns across processes): waiting on a local lock
costs nothing, while polling the store for a lease another coroutine of ours holds would.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

__all__ = ["KeyedLocks"]


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class _Held:
    """``async with locks.hold(key):`` (a class, not a generator: this runs every turn)."""

    __slots__ = ("_entry", "_key", "_locks")

    def __init__(self, locks: KeyedLocks, key: str) -> None:
        self._locks = locks
        self._key = key
        self._entry: _Entry | None = None

    async def __aenter__(self) -> None:
        entries = self._locks._entries
        entry = entries.get(self._key)
        if entry is None:
            entry = entries[self._key] = _Entry()
        entry.users += 1
        self._entry = entry
        try:
            await entry.lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._entry is not None
        self._entry.lock.release()
        self._leave()

    def _leave(self) -> None:
        entry = self._entry
        assert entry is not None
        entry.users -= 1
        if entry.users == 0:
            del self._locks._entries[self._key]


class KeyedLocks:
    """Locks by key; an idle key holds no memory."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def hold(self, key: str) -> _Held:
        return _Held(self, key)

    def __len__(self) -> int:
        """How many keys are held or waited for now."""
        return len(self._entries)
