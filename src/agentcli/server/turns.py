"""Turns that outlive a request: each runs as a task whose events are buffered, so a stream
can be followed, replayed after ``Last-Event-ID``, cancelled, or left running.

Every wire format (our SSE events, OpenAI chat chunks, Responses events) is encoded from this
one buffer of the library's own events, so a live stream and a replay always tell one story.
Buffers are kept for ``retention`` seconds after a turn ends, in this process.

A ``TurnLog`` is where turns are shared beyond this process. ``LocalTurnLog`` shares nothing
(one process, or replicas without Redis: a turn is followed on the replica that runs it);
``RedisTurnLog`` (``redis_turns.py``) copies each event to a Redis stream *before* any
follower here sees it, so whatever a client saw can be replayed on any replica.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ..agent import StreamEvent, TurnComplete
from ..errors import AgentCLIError
from ..messages import AgentResponse
from ..observability.reporting import report_error
from ..session import SessionManager
from .errors import ApiError, api_error_for

__all__ = [
    "Failed",
    "LiveTurn",
    "LocalTurnLog",
    "Started",
    "TurnEvent",
    "TurnLog",
    "TurnMirror",
    "TurnRegistry",
    "TurnView",
]


@dataclass(frozen=True, slots=True)
class Started:
    """The first event of every turn: which turn, session and model."""

    turn_id: str
    session_id: str
    model: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The last event of a turn that did not complete: what a client should know."""

    error: ApiError


TurnEvent = Started | StreamEvent | Failed

SHUTTING_DOWN = ApiError(
    503,
    "server_shutting_down",
    "the server is shutting down; the partial answer was kept; retry the turn",
    "server_error",
    retry_after=1,
)
CANCELLED = ApiError(499, "turn_cancelled", "the turn was cancelled; the partial answer was kept")
REPLICA_LOST = ApiError(
    503,
    "replica_lost",
    "the replica running this turn stopped; the partial answer may be lost; retry the turn",
    "server_error",
    retry_after=1,
)

Follow = AsyncIterator[tuple[int, TurnEvent] | None]
# Called with a turn's stored answer before any follower sees it (a key's spend, say).
OnResponse = Callable[["LiveTurn", AgentResponse], Awaitable[None]]


class TurnView(Protocol):
    """What a stream reads: a turn of this process (``LiveTurn``) or of another replica."""

    @property
    def id(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def owner(self) -> str: ...

    def follow(self, after: int = 0, *, keepalive: float) -> Follow:
        """Events numbered above ``after``, as they come; ``None`` every ``keepalive``
        seconds of silence (for keep-alive comments). Ends after the last event."""
        ...

    def check_resumable(self, after: int) -> None:
        """Raise an ``ApiError`` if the events after ``after`` are no longer all kept."""


class TurnMirror(Protocol):
    """A running turn's copy elsewhere. It calls ``turn.reveal(n)`` once events up to ``n``
    are safely copied: only then do this process's followers see them."""

    def push(self, number: int, event: TurnEvent) -> None: ...
    def held(self) -> None:
        """The turn holds its session: start copying (a turn refused before never is)."""

    async def close(self) -> None:
        """Copy what is left and mark the turn ended (bounded in time); reveal everything."""


class TurnLog(Protocol):
    """Where turns are shared beyond this process (see the module docstring)."""

    def mirror(self, turn: LiveTurn) -> TurnMirror | None: ...
    async def find(self, turn_id: str) -> TurnView | None:
        """A turn another replica runs or ran (``None``: unknown, or nothing is shared)."""

    async def cancel_elsewhere(self, session_id: str, wait: float) -> list[str]:
        """Cancel the session's turn running on another replica; its id once it has ended
        (or ``wait`` passed), or ``[]`` if none runs."""

    def start(self, registry: TurnRegistry) -> None:
        """Begin listening for cancels meant for ``registry``'s turns."""

    async def close(self) -> None: ...


class LocalTurnLog:
    """Nothing shared: every turn is followed and cancelled on the replica that runs it."""

    def mirror(self, turn: LiveTurn) -> TurnMirror | None:
        return None

    async def find(self, turn_id: str) -> TurnView | None:
        return None

    async def cancel_elsewhere(self, session_id: str, wait: float) -> list[str]:
        return []

    def start(self, registry: TurnRegistry) -> None:
        return None

    async def close(self) -> None:
        return None


class LiveTurn:
    """One running (or recently finished) turn and the events it produced, numbered from 1.
    Followers see events up to ``visible``: all of them, or with a mirror those it copied."""

    def __init__(
        self,
        turn_id: str,
        session_id: str,
        model: str,
        owner: str,
        clock: Callable[[], float] = time.monotonic,
        log: TurnLog | None = None,
    ) -> None:
        self._clock = clock
        self.id = turn_id
        self.session_id = session_id
        self.model = model
        self.owner = owner
        self.events: list[TurnEvent] = []
        self.visible = 0
        self.finished_at: float | None = None
        self.task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._cancel_reason: ApiError | None = None
        self._ending = False
        self.held = asyncio.Event()  # set once the session is held for this turn
        self._mirror = log.mirror(self) if log is not None else None
        self.publish(Started(turn_id, session_id, model))

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    @property
    def response(self) -> AgentResponse | None:
        last = self.events[-1]
        return last.response if isinstance(last, TurnComplete) else None

    @property
    def failure(self) -> ApiError | None:
        last = self.events[-1]
        return last.error if isinstance(last, Failed) else None

    def publish(self, event: TurnEvent) -> None:
        self.events.append(event)
        if self._mirror is None:
            self.reveal(len(self.events))
        else:
            self._mirror.push(len(self.events), event)

    def reveal(self, upto: int) -> None:
        """Let followers see the events numbered up to ``upto``."""
        if upto > self.visible:
            self.visible = min(upto, len(self.events))
            self._wake.set()
            self._wake = asyncio.Event()

    def finish(self) -> None:
        self.reveal(len(self.events))
        self.finished_at = self._clock()
        self._wake.set()

    def check_resumable(self, after: int) -> None:
        return None  # this process keeps every event of a turn it still knows

    def cancel(self, reason: ApiError = CANCELLED) -> bool:
        """Stop the turn; its partial answer is stored as interrupted. ``False`` if done."""
        if self.done or self._ending or self.task is None:
            return False
        if self._cancel_reason is None:  # once: a second cancel would cut the storing short
            self._cancel_reason = reason
            self.task.cancel()
        return True

    async def follow(self, after: int = 0, *, keepalive: float) -> Follow:
        cursor = max(0, after)
        while True:
            while cursor < self.visible:
                cursor += 1
                yield cursor, self.events[cursor - 1]
            if self.done:
                return
            wake = self._wake
            try:
                await asyncio.wait_for(wake.wait(), keepalive)
            except TimeoutError:
                yield None

    async def wait_until_held(self) -> ApiError | None:
        """Wait until the turn holds its session, or failed before (``SessionBusyError``, a
        refused input): then that failure, which a request can still answer as a status."""
        assert self.task is not None
        held = asyncio.ensure_future(self.held.wait())
        try:
            await asyncio.wait({held, self.task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            held.cancel()
        return None if self.held.is_set() else self.failure

    async def wait(self) -> None:
        """Until the turn has ended (its last event is published)."""
        while not self.done:
            await self._wake.wait()

    def _on_hold(self) -> None:
        self.held.set()
        if self._mirror is not None:
            self._mirror.held()

    async def run(
        self, manager: SessionManager, text: str, on_response: OnResponse | None = None
    ) -> None:
        """Run the turn, publishing its events; never raises (the failure is an event).
        ``on_response`` gets the stored answer before it is published."""
        try:
            await self._produce(manager, text, on_response)
        finally:
            self._ending = True  # a cancel now would only cut the copy short
            try:
                if self._mirror is not None:
                    await self._mirror.close()
            finally:
                self.finish()

    async def _produce(
        self, manager: SessionManager, text: str, on_response: OnResponse | None
    ) -> None:
        events = manager.stream_events(self.session_id, text, on_hold=self._on_hold)
        try:
            async for event in events:
                if on_response is not None and isinstance(event, TurnComplete):
                    await on_response(self, event.response)
                self.publish(event)
        except asyncio.CancelledError:
            await asyncio.shield(events.aclose())  # stores the partial answer
            self.publish(Failed(self._cancel_reason or CANCELLED))
        except Exception as exc:
            if not isinstance(exc, AgentCLIError):  # a bug, not a known failure: to Sentry
                report_error(exc)
            self.publish(Failed(api_error_for(exc)))


class TurnRegistry:
    """Turns by id, and the running one of each session; finished ones are forgotten after
    ``retention`` seconds. ``log`` shares them with other replicas (default: nothing).
    ``on_response`` gets each turn's stored answer before it is published; ``on_end`` each
    turn once it has ended."""

    def __init__(
        self,
        retention: float,
        *,
        log: TurnLog | None = None,
        on_end: Callable[[LiveTurn], None] | None = None,
        on_response: OnResponse | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retention = retention
        self.log: TurnLog = log if log is not None else LocalTurnLog()
        self._clock = clock
        self._on_end = on_end
        self._on_response = on_response
        self._turns: dict[str, LiveTurn] = {}  # every turn still known, by id
        # Kept apart so a request never walks the finished turns (there may be a hundred
        # thousand of them at high traffic): the running ones, and the finished in order.
        self._running: dict[str, LiveTurn] = {}
        self._finished: collections.deque[LiveTurn] = collections.deque()

    def start(
        self, manager: SessionManager, session_id: str, text: str, *, model: str, owner: str
    ) -> LiveTurn:
        self._forget_old()
        turn = LiveTurn(uuid.uuid4().hex, session_id, model, owner, self._clock, self.log)
        self._turns[turn.id] = turn
        self._running[turn.id] = turn
        turn.task = asyncio.get_running_loop().create_task(
            self._run(turn, manager, text), name=f"turn {turn.id}"
        )
        return turn

    async def _run(self, turn: LiveTurn, manager: SessionManager, text: str) -> None:
        try:
            await turn.run(manager, text, self._on_response)
        finally:
            self._running.pop(turn.id, None)
            self._finished.append(turn)
        if self._on_end is not None:
            self._on_end(turn)

    def get(self, turn_id: str) -> LiveTurn | None:
        self._forget_old()
        return self._turns.get(turn_id)

    async def find(self, turn_id: str) -> TurnView | None:
        """The turn, from this process or (through the log) from another replica."""
        return self.get(turn_id) or await self.log.find(turn_id)

    def running(self) -> list[LiveTurn]:
        return [t for t in self._running.values() if not t.done]

    def running_for(self, session_id: str) -> list[LiveTurn]:
        return [t for t in self.running() if t.session_id == session_id]

    def cancel_running(self, turn_id: str, reason: ApiError = CANCELLED) -> bool:
        """Cancel the turn if it runs here (a cancel another replica asked for)."""
        turn = self._running.get(turn_id)
        return turn is not None and turn.cancel(reason)

    async def cancel_all(self, reason: ApiError = SHUTTING_DOWN) -> None:
        """Cancel every running turn and wait until each has stored its partial answer."""
        turns = self.running()
        for turn in turns:
            turn.cancel(reason)
        for turn in turns:
            if turn.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await turn.task

    def _forget_old(self) -> None:
        now = self._clock()
        finished = self._finished
        while finished and now - (finished[0].finished_at or now) > self.retention:
            self._turns.pop(finished.popleft().id, None)

    def __len__(self) -> int:
        return len(self._turns)
