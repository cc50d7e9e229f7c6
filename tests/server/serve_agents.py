"""Agents for the ``agentcli serve`` tests: loaded by file in the server process, as a user's
own agent would be (``--agent tests/server/serve_agents.py:Forever``), and used in-thread too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from agentcli.agent import (
    AgentInterface,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    TurnComplete,
)
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall

FILE = Path(__file__).resolve()
TICK = "tick "
TOOL_TEXTS = tuple(f"part{i} " for i in range(12))
TOOL_ANSWER = "".join(TOOL_TEXTS)


def spec(name: str) -> str:
    """The ``--agent`` spec of one of these classes."""
    return f"{FILE}:{name}"


class Forever(AgentInterface):
    """Streams ``tick`` every 20 ms until it is cancelled."""

    name = "forever"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        while True:
            yield TextDelta(TICK)
            await asyncio.sleep(0.02)


class Gated(AgentInterface):
    """Streams ``tick``, then connects to the loopback port its input names and waits for a
    byte from it before finishing with ``opened``: a turn that ends when the test says so,
    across processes."""

    name = "gated"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        yield TextDelta(TICK)
        reader, writer = await asyncio.open_connection("127.0.0.1", int(context.input))
        try:
            await reader.read(1)
        finally:
            writer.close()
        yield TextDelta("opened")
        yield TurnComplete(AgentResponse(output=TICK + "opened"))


class ToolStreamer(AgentInterface):
    """One tool round (the call, a pause, its result), then ``TOOL_TEXTS`` one by one, slowly:
    a client can go away at any point of it. The tool's pause is long enough for a server
    with short keep-alives to notice a client that left before the result."""

    name = "tool-streamer"
    tool_pause = 0.3

    def __init__(self, gate: asyncio.Event | None = None) -> None:
        # With a gate, the tool runs until the test opens it (on the server's loop), not for
        # a fixed pause: what happens during it no longer depends on the machine's speed.
        self.gate = gate

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        call = ToolCall(id="call-1", name="lookup", arguments='{"q": "x"}')
        result = Message(role="tool", tool_call_id="call-1", name="lookup", content="42")
        yield ToolCallEvent(call)
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(self.tool_pause)
        yield ToolResultEvent(result)
        for text in TOOL_TEXTS:
            await asyncio.sleep(0.01)
            yield TextDelta(text)
        units = [Message(role="assistant", tool_calls=(call,)), result]
        yield TurnComplete(AgentResponse(output=TOOL_ANSWER, messages=units))


class Recall(AgentInterface):
    """Answers with the ``seq`` of every message it was shown: what its window held, so a
    test sees whether a turn got the whole conversation (and only what cleanup kept)."""

    name = "recall"

    async def process(self, context: AgentContext) -> AgentResponse:
        seqs = ",".join(str(m.seq) for m in context.conversation_history)
        return AgentResponse(output=f"saw [{seqs}]")
