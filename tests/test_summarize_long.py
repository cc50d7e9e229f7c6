"""A long session under ``summarize``: 500 turns with tool calls in a small window on SQLite,
the first exchange pinned. Every request the agent receives is valid, summaries chain (one
live at a time, each covering the one before), and a cold load equals the cache."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from agentcli.agent import StreamEvent, TurnComplete
from agentcli.agents import EchoAgent
from agentcli.agents.offline import SUMMARY_REQUEST
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall
from agentcli.session import SessionManager
from agentcli.session.window_cache import summary_range
from agentcli.stores.sqlite import SQLiteStore

TURNS = 500
WINDOW = 700


def check_request(history: Sequence[Message]) -> None:
    """What every vendor accepts: a question first, each tool call answered right after it,
    no tool result without its call, at most one summary, before the conversation."""
    summaries = [i for i, m in enumerate(history) if summary_range(m) is not None]
    assert len(summaries) <= 1
    body = [m for m in history if m.role != "system"]
    assert all(i < history.index(body[0]) for i in summaries) if body else True
    assert not body or body[0].role == "user", body[:2]
    called: set[str] = set()
    for i, message in enumerate(body):
        assert message.in_window
        if message.tool_calls:
            ids = {call.id for call in message.tool_calls}
            results = {m.tool_call_id for m in body[i + 1 : i + 1 + len(ids)]}
            assert results == ids, "a tool call without its result"
            called |= ids
        if message.role == "tool":
            assert message.tool_call_id in called, "a tool result without its call"


class CheckingEcho(EchoAgent):
    """The echo agent, every third turn running a tool, checking each request it receives."""

    def __init__(self) -> None:
        super().__init__(notice=False)
        self.turns = 0
        self.summary_requests = 0

    async def process(self, context: AgentContext) -> AgentResponse:
        if SUMMARY_REQUEST in context.metadata:
            self.summary_requests += 1
            assert context.conversation_history == []
        return await super().process(context)

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        check_request([*context.conversation_history, Message(role="user", content="x")])
        self.turns += 1
        if self.turns % 3:
            async for event in super().stream_events(context):
                yield event
            return
        call = ToolCall(id=f"call_{self.turns}", name="read_file", arguments='{"path": "a.py"}')
        unit = [
            Message(role="assistant", tool_calls=(call,), tokens=6),
            Message(role="tool", tool_call_id=call.id, name="read_file", content="x = 1", tokens=4),
        ]
        yield TurnComplete(AgentResponse(output=f"read a.py for turn {self.turns}", messages=unit))


def manager(agent: EchoAgent, store: SQLiteStore) -> SessionManager:
    return SessionManager(
        agent, store=store, context_window_size=WINDOW, cleanup_strategy="summarize"
    )


async def cold_window(path: Path) -> list[int]:
    async with SQLiteStore(path) as store:
        return [m.seq for m in await manager(EchoAgent(), store).window("s")]


async def test_500_turns_keep_valid_requests_a_pin_and_a_chain_of_summaries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "long.db"
    agent = CheckingEcho()
    cleanups = 0
    live: tuple[int, int] | None = None
    async with SQLiteStore(path) as store:
        m = manager(agent, store)
        await m.chat("s", "the task: keep the build green and note every file name")
        assert await m.pin("s", 1)
        for turn in range(1, TURNS):
            response = await m.chat("s", f"step {turn}: look at file mod{turn}.py and fix it")
            cleanup = response.cleanup
            if cleanup is not None and cleanup.trimmed:
                cleanups += 1
                assert cleanup.strategy == "summarize", cleanup.warning
                window = await m.window("s")
                [summary] = [x for x in window if summary_range(x) is not None]
                covered = summary_range(summary)
                assert covered is not None
                if live is not None:  # the new summary covers the old one and more
                    assert covered[0] == live[0]
                    assert covered[1] > live[1]
                live = covered
            if turn % 100 == 0:
                assert await cold_window(path) == [x.seq for x in await m.window("s")]
        window = await m.window("s")
    assert agent.summary_requests == cleanups > 20  # exactly one summariser call per cleanup
    assert [x.seq for x in window[1:3]] == [1, 2]  # the pinned first exchange, after the summary
    assert await cold_window(path) == [x.seq for x in window]
