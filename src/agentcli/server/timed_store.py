"""The store as the service uses it: every call timed into ``agent_store_operation_seconds``.

``TimedStore`` implements the ``SessionStore`` protocol by handing each call to the real store
and observing how long it took (a failed call too: a store that fails slowly is the one to
see), labelled with the operation's name. The lease is timed until it is held (the wait for a
busy session included) as ``lease``, and its release as ``release``; not the turn it holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType

from prometheus_client import Histogram
from pydantic import JsonValue

from ..messages import Message
from ..stores.base import SessionInfo, SessionStore
from ..stores.lease import DEFAULT_LEASE_TTL, DEFAULT_LEASE_WAIT, Lease

__all__ = ["OPERATIONS", "TimedStore"]

OPERATIONS = (
    "append",
    "read",
    "read_seqs",
    "info",
    "list_sessions",
    "set_state",
    "write_session",
    "delete",
    "expire",
    "lease",
    "release",
    "add_spend",
    "get_spend",
    "close",
)


class TimedStore:
    """``inner`` with each call observed in ``seconds`` (a histogram labelled ``operation``)."""

    __slots__ = ("_timers", "inner")

    def __init__(self, inner: SessionStore, seconds: Histogram) -> None:
        self.inner = inner
        # The labelled children once, not a label lookup per call.
        self._timers = {operation: seconds.labels(operation) for operation in OPERATIONS}

    def __repr__(self) -> str:
        return f"TimedStore({self.inner!r})"

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        expected_last_seq: int | None = None,
    ) -> list[Message]:
        with self._timers["append"].time():
            return await self.inner.append(
                session_id, messages, expected_last_seq=expected_last_seq
            )

    def lease(
        self,
        session_id: str,
        *,
        ttl: float = DEFAULT_LEASE_TTL,
        wait: float = DEFAULT_LEASE_WAIT,
    ) -> AbstractAsyncContextManager[Lease]:
        held = self.inner.lease(session_id, ttl=ttl, wait=wait)
        return _TimedLease(held, self._timers["lease"], self._timers["release"])

    async def read(
        self, session_id: str, *, since_seq: int = 1, last: int | None = None
    ) -> list[Message]:
        with self._timers["read"].time():
            return await self.inner.read(session_id, since_seq=since_seq, last=last)

    async def read_seqs(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        with self._timers["read_seqs"].time():
            return await self.inner.read_seqs(session_id, seqs)

    async def info(self, session_id: str) -> SessionInfo | None:
        with self._timers["info"].time():
            return await self.inner.info(session_id)

    async def list_sessions(
        self, *, limit: int | None = None, owner: str | None = None
    ) -> list[SessionInfo]:
        with self._timers["list_sessions"].time():
            return await self.inner.list_sessions(limit=limit, owner=owner)

    async def set_state(
        self,
        session_id: str,
        *,
        window_start: int | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> str:
        with self._timers["set_state"].time():
            return await self.inner.set_state(
                session_id, window_start=window_start, metadata=metadata
            )

    async def write_session(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        window_start: int = 1,
        metadata: dict[str, JsonValue] | None = None,
        replace: bool = False,
    ) -> bool:
        with self._timers["write_session"].time():
            return await self.inner.write_session(
                session_id, messages, window_start=window_start, metadata=metadata, replace=replace
            )

    async def delete(self, session_id: str) -> bool:
        with self._timers["delete"].time():
            return await self.inner.delete(session_id)

    async def add_spend(self, scope: str, usd: float, *, ttl: float | None = None) -> float:
        with self._timers["add_spend"].time():
            return await self.inner.add_spend(scope, usd, ttl=ttl)

    async def get_spend(self, scope: str) -> float:
        with self._timers["get_spend"].time():
            return await self.inner.get_spend(scope)

    async def expire(self, before: datetime) -> int:
        with self._timers["expire"].time():
            return await self.inner.expire(before)

    async def close(self) -> None:
        with self._timers["close"].time():
            await self.inner.close()


class _TimedLease:
    """The inner store's lease, its taking and its release each timed."""

    __slots__ = ("_held", "_release", "_take")

    def __init__(
        self, held: AbstractAsyncContextManager[Lease], take: Histogram, release: Histogram
    ) -> None:
        self._held = held
        self._take = take
        self._release = release

    async def __aenter__(self) -> Lease:
        started = time.perf_counter()
        try:
            return await self._held.__aenter__()
        finally:
            self._take.observe(time.perf_counter() - started)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        started = time.perf_counter()
        try:
            return await self._held.__aexit__(exc_type, exc, traceback)
        finally:
            self._release.observe(time.perf_counter() - started)
