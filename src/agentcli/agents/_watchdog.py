"""The stream idle watchdog: a stream that sends no new content for too long is ended."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..errors import ProviderError

__all__ = ["EventStream", "IdleWatchdog"]


class EventStream(Protocol):
    """An SDK's stream of server-sent events (``openai``/``anthropic`` ``AsyncStream``)."""

    def __anext__(self) -> Awaitable[Any]: ...

    async def close(self) -> None: ...


class IdleWatchdog:
    """Ends a stream that sends no new content for ``idle`` seconds.

    Only time spent waiting for the next event counts, never the consumer's time between
    events. SSE keep-alive comments never become events, so they cannot keep a stalled stream
    alive. One timer per stream, moved only when it fires, keeps the cost per event to a few
    attribute writes (``asyncio.timeout`` per event costs about 5 us).
    """

    __slots__ = ("_error", "_fired", "_handle", "_idle", "_loop", "_since", "_task", "_waited")

    def __init__(self, idle: float, error: Callable[[], ProviderError]) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = idle
        self._error = error
        self._waited = 0.0  # time spent waiting since the last content
        self._since: float | None = None  # when the current wait began; None between waits
        self._task: asyncio.Task[Any] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    def progress(self) -> None:
        """New content arrived: restart the clock."""
        self._waited = 0.0

    async def next(self, events: EventStream) -> Any:
        """The next event, ``None`` at the end, or the watchdog's error once time is up."""
        loop = self._loop
        self._since = since = loop.time()
        self._task = asyncio.current_task()
        if self._handle is None:
            self._handle = loop.call_at(since + self._idle - self._waited, self._check)
        try:
            return await events.__anext__()
        except StopAsyncIteration:
            return None
        except asyncio.CancelledError:
            # Ours, unless someone else cancelled the task too (as asyncio.timeout decides).
            if self._fired and self._task is not None and self._task.uncancel() == 0:
                raise self._error() from None
            raise
        finally:
            self._waited += loop.time() - since
            self._since = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _check(self) -> None:
        self._handle = None
        since = self._since
        if since is None:
            return  # the consumer has the event; the clock restarts at the next wait
        now = self._loop.time()
        left = self._idle - self._waited - (now - since)
        if left > 0:
            self._handle = self._loop.call_at(now + left, self._check)
        elif self._task is not None:
            self._fired = True
            self._task.cancel()
