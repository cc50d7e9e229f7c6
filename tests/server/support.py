"""What the server tests share: an agent whose turns wait at a gate the test opens, an agent
whose answers have a price, a log capture that tests wait on, and a store that hangs or fails
on demand.

The server runs in another thread with its own loop, so the test holds threading events and
the gate is opened on the server's loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

from agentcli.agent import AgentInterface, StreamEvent, TextDelta, TurnComplete
from agentcli.agents import FunctionAgent
from agentcli.logs import JSONFormatter
from agentcli.messages import AgentContext, AgentResponse
from agentcli.stores.base import SessionInfo
from agentcli.stores.memory import MemoryStore

__all__ = [
    "PARTIAL",
    "PRICE",
    "FaultyStore",
    "GatedAgent",
    "LogCapture",
    "capture_logs",
    "priced_agents",
]

PARTIAL = "partial answer "
PRICE = 0.6  # USD, what each answer of ``priced_agents()`` costs


def priced_agents() -> dict[str, AgentInterface]:
    """``priced``: answers ``ok`` for ``PRICE`` USD, 5 input and 2 output tokens of ``m-1``."""

    def answer(context: AgentContext) -> AgentResponse:
        usage = {"cost": PRICE, "model": "m-1", "prompt_tokens": 5, "completion_tokens": 2}
        return AgentResponse(output="ok", metadata=usage)

    return {"priced": FunctionAgent(answer, name="priced")}


class GatedAgent(AgentInterface):
    """Streams ``PARTIAL``, sets ``started``, then waits until ``open()`` before finishing."""

    name = "gated"

    def __init__(self) -> None:
        self.started = threading.Event()
        self._gate = asyncio.Event()  # bound to the server's loop when first awaited there
        self._loop: asyncio.AbstractEventLoop | None = None

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        self._loop = asyncio.get_running_loop()
        yield TextDelta(PARTIAL)
        self.started.set()
        await self._gate.wait()
        yield TurnComplete(AgentResponse(output=PARTIAL + "done"))

    def open(self) -> None:
        """Let every waiting (and later) turn finish; safe from the test's thread."""
        if self._loop is None:
            self._gate.set()
        else:
            self._loop.call_soon_threadsafe(self._gate.set)


class LogCapture(logging.Handler):
    """Every record, kept, and formatted as the JSON line a deployment would write."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JSONFormatter())
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        with self._changed:
            self.records.append(record)
            self.lines.append(line)
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[logging.LogRecord], bool], timeout: float = 30
    ) -> logging.LogRecord:
        """The first record matching ``predicate``, waiting for it if it has not come yet
        (the access line is written just after the response is sent)."""
        found: list[logging.LogRecord] = []

        def match() -> bool:
            found[:] = [r for r in self.records if predicate(r)][:1]
            return bool(found)

        with self._changed:
            if not self._changed.wait_for(match, timeout):
                raise AssertionError("no such log record came")
        return found[0]

    def access(self, request_id: str) -> logging.LogRecord:
        """The access line of the request with this id."""
        return self.wait_for(
            lambda r: (
                r.name == "agentcli.server.access" and getattr(r, "request_id", None) == request_id
            )
        )


@contextmanager
def capture_logs(*names: str) -> Iterator[LogCapture]:
    """Capture ``agentcli`` (and the other named loggers) at DEBUG, restoring them after."""
    capture = LogCapture()
    loggers = [logging.getLogger(name) for name in ("agentcli", *names)]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
        logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        for logger, level in zip(loggers, saved, strict=True):
            logger.removeHandler(capture)
            logger.setLevel(level)


class FaultyStore(MemoryStore):
    """A memory store that can be made to hang (``info``) or fail (``list_sessions``), as a
    database that stopped answering or a driver that broke would."""

    def __init__(self) -> None:
        super().__init__()
        self.hang = threading.Event()
        self.fail = threading.Event()

    async def info(self, session_id: str) -> SessionInfo | None:
        if self.hang.is_set():
            await asyncio.Event().wait()  # never set: only a timeout or cancel ends this
        return await super().info(session_id)

    async def list_sessions(
        self, *, limit: int | None = None, owner: str | None = None
    ) -> list[SessionInfo]:
        if self.fail.is_set():
            raise RuntimeError("the driver broke")
        return await super().list_sessions(limit=limit, owner=owner)
