"""Small agents for the core's tests: scripted, slow, failing, tool-using."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agentcli.agent import (
    AgentInterface,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    TurnComplete,
)
from agentcli.errors import ContextLengthError
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall


class RecordingAgent(AgentInterface):
    """Answers ``reply N`` and remembers every context it was given."""

    name = "recording"

    def __init__(self, delay: float = 0.0) -> None:
        self.contexts: list[AgentContext] = []
        self.delay = delay

    async def process(self, context: AgentContext) -> AgentResponse:
        self.contexts.append(context)
        if self.delay:
            await asyncio.sleep(self.delay)
        return AgentResponse(output=f"reply {len(self.contexts)}")


class FailingAgent(AgentInterface):
    name = "failing"

    async def process(self, context: AgentContext) -> AgentResponse:
        raise RuntimeError("the model fell over")


class SlowStreamingAgent(AgentInterface):
    """Streams words forever (until cancelled), after an optional tool round."""

    name = "slow"

    def __init__(self, with_tool: bool = False) -> None:
        self.with_tool = with_tool
        self.started = asyncio.Event()

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        if self.with_tool:
            call = ToolCall(id="call-1", name="lookup", arguments='{"q": "x"}')
            yield ToolCallEvent(call)
            yield ToolResultEvent(
                Message(role="tool", tool_call_id="call-1", name="lookup", content="42")
            )
        self.started.set()
        for i in range(10_000):
            yield TextDelta(f"word{i} ")
            await asyncio.sleep(0.01)
        yield TurnComplete(AgentResponse(output="never"))


class ToolAgent(AgentInterface):
    """Returns a tool unit in ``messages`` plus a dangling call that must not be stored."""

    name = "tools"

    async def process(self, context: AgentContext) -> AgentResponse:
        call = ToolCall(id="c1", name="add", arguments='{"a": 1, "b": 2}')
        dangling = ToolCall(id="c2", name="add", arguments='{"a": 1')
        return AgentResponse(
            output="1 + 2 = 3",
            messages=[
                Message(role="assistant", tool_calls=(call,), tokens=7),
                Message(role="tool", tool_call_id="c1", name="add", content="3", tokens=5),
                Message(role="assistant", tool_calls=(dangling,), tokens=7),
            ],
            metadata={"prompt_tokens": 40, "completion_tokens": 6, "tokens": 46},
        )


class ContextLimitAgent(AgentInterface):
    """Fails with 'context too long' while it sees more than ``limit`` history messages."""

    name = "limited"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.calls = 0

    async def process(self, context: AgentContext) -> AgentResponse:
        self.calls += 1
        if len(context.conversation_history) > self.limit:
            raise ContextLengthError("prompt is too long", provider="fake", status=400)
        return AgentResponse(output=f"saw {len(context.conversation_history)}")


class ToolThenFailAgent(AgentInterface):
    """Runs one tool round, then fails in the next round (a dropped connection, say)."""

    name = "tool-then-fail"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        call = ToolCall(id="call-9", name="send_email", arguments='{"to": "a@example.org"}')
        yield ToolCallEvent(call)
        yield ToolResultEvent(
            Message(role="tool", tool_call_id="call-9", name="send_email", content="sent")
        )
        raise ConnectionError("the connection dropped in round 2")
