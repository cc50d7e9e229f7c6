"""One turn at a time per session across managers (the store's lease), windows that follow
other writers, the snapshot views read, the window cache's eviction, and the review's gaps:
orphaned tool results, no retry once an answer started, a store failing while a failure is
recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agentcli import AgentContext, AgentResponse, FunctionAgent, MemoryStore, SessionManager
from agentcli.agent import AgentInterface, StreamEvent, TextDelta
from agentcli.errors import ContextLengthError, SessionBusyError, StoreError
from agentcli.messages import Message, ToolCall

from .agents_for_tests import RecordingAgent


class GateAgent(AgentInterface):
    """Answers once ``release`` is set; ``entered`` is set when a turn reaches the agent."""

    name = "gate"

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def process(self, context: AgentContext) -> AgentResponse:
        self.entered.set()
        await self.release.wait()
        return AgentResponse(output=f"answer to {context.input}")


async def test_two_managers_on_one_store_never_interleave_turns() -> None:
    store = MemoryStore()
    managers = [SessionManager(RecordingAgent(delay=0.001), store=store) for _ in range(4)]

    async def turns(index: int, manager: SessionManager) -> None:
        for n in range(10):
            await manager.chat("shared", f"q{index}-{n}")

    await asyncio.gather(*(turns(i, m) for i, m in enumerate(managers)))
    history = await store.read("shared")
    assert len(history) == 80
    for question, answer in zip(history[::2], history[1::2], strict=True):
        assert (question.role, answer.role) == ("user", "assistant")
    assert len({m.content for m in history[::2]}) == 40  # none lost, none duplicated


async def test_a_busy_session_fails_fast_with_lease_wait_zero() -> None:
    store = MemoryStore()
    agent = GateAgent()
    first = SessionManager(agent, store=store)
    second = SessionManager(RecordingAgent(), store=store, lease_wait=0)
    running = asyncio.create_task(first.chat("s", "slow one"))
    await agent.entered.wait()
    with pytest.raises(SessionBusyError) as caught:
        await second.chat("s", "me too")
    assert caught.value.session_id == "s"
    assert caught.value.retry_after is not None
    agent.release.set()
    await running
    # The refused turn stored nothing; the session goes on.
    assert [m.content for m in await store.read("s")] == ["slow one", "answer to slow one"]
    assert (await second.chat("s", "now")).output == "reply 1"


async def test_a_waiting_turn_runs_once_the_holder_finishes() -> None:
    store = MemoryStore()
    agent = GateAgent()
    first = SessionManager(agent, store=store)
    second = SessionManager(RecordingAgent(), store=store)
    running = asyncio.create_task(first.chat("s", "one"))
    await agent.entered.wait()
    waiting = asyncio.create_task(second.chat("s", "two"))
    agent.release.set()
    await asyncio.gather(running, waiting)
    assert [m.content for m in await store.read("s")] == ["one", "answer to one", "two", "reply 1"]


async def test_a_manager_sees_what_another_manager_stored() -> None:
    store = MemoryStore()
    agent = RecordingAgent()
    first = SessionManager(agent, store=store)
    second = SessionManager(RecordingAgent(), store=store)
    await first.chat("s", "a")
    await second.chat("s", "b")
    await first.chat("s", "c")
    seen = [m.content for m in agent.contexts[-1].conversation_history]
    assert seen == ["a", "reply 1", "b", "reply 1"]
    assert (await first.usage("s")).messages == 6


async def test_the_snapshot_has_window_usage_and_system_prompt() -> None:
    manager = SessionManager(RecordingAgent(), token_counter=len, system_prompt="be brief")
    await manager.chat("s", "hello")
    snapshot = await manager.snapshot("s")
    assert [m.content for m in snapshot.window] == ["hello", "reply 1"]
    assert snapshot.system_prompt == "be brief"
    assert snapshot.system_prompt_tokens == len("be brief")
    assert snapshot.overhead == len("be brief")  # no provider count: the prompt's estimate
    assert snapshot.usage.tokens == snapshot.overhead + len("hello") + len("reply 1")
    assert snapshot.last_seq == 2
    assert snapshot.trimmed == 0


async def test_an_evicted_window_is_read_again_whole() -> None:
    store = MemoryStore()
    agent = RecordingAgent()
    manager = SessionManager(agent, store=store, cache_size=1)
    await manager.chat("a", "a1")
    await manager.chat("b", "b1")  # evicts a
    await manager.chat("a", "a2")
    assert [m.content for m in agent.contexts[-1].conversation_history] == ["a1", "reply 1"]
    assert (await manager.usage("b")).messages == 2


async def test_an_orphaned_tool_result_is_never_stored() -> None:
    async def orphan(context: AgentContext) -> AgentResponse:
        return AgentResponse(
            output="done",
            messages=[Message(role="tool", tool_call_id="nobody", name="x", content="42")],
        )

    manager = SessionManager(FunctionAgent(orphan))
    await manager.chat("s", "go")
    assert [m.role for m in await manager.history("s")] == ["user", "assistant"]


class TextThenTooLong(AgentInterface):
    """Streams some text, then the provider says the request was too long."""

    name = "text-then-too-long"

    def __init__(self) -> None:
        self.calls = 0

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        yield TextDelta("partial ")
        raise ContextLengthError("prompt is too long", provider="fake", status=400)


async def test_no_retry_after_context_length_once_text_went_out() -> None:
    agent = TextThenTooLong()
    manager = SessionManager(agent)
    with pytest.raises(ContextLengthError):
        await manager.chat("s", "hi")
    assert agent.calls == 1
    history = await manager.history("s")
    assert [(m.role, m.status) for m in history] == [("user", "complete"), ("assistant", "failed")]


class ToolThenTooLong(AgentInterface):
    name = "tool-then-too-long"

    def __init__(self) -> None:
        self.calls = 0

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        from agentcli.agent import ToolCallEvent, ToolResultEvent

        self.calls += 1
        yield ToolCallEvent(ToolCall(id="t1", name="charge_card", arguments="{}"))
        yield ToolResultEvent(
            Message(role="tool", tool_call_id="t1", name="charge_card", content="charged")
        )
        raise ContextLengthError("prompt is too long", provider="fake", status=400)


async def test_no_retry_after_context_length_once_a_tool_ran() -> None:
    agent = ToolThenTooLong()
    manager = SessionManager(agent)
    with pytest.raises(ContextLengthError):
        await manager.chat("s", "pay")
    assert agent.calls == 1  # running the tool again could charge twice
    roles = [m.role for m in await manager.history("s")]
    assert roles == ["user", "assistant", "tool", "assistant"]  # the call, its result, failed


async def test_a_store_failing_while_a_failure_is_recorded_keeps_the_original_error() -> None:
    from agentcli.stores.sqlite import SQLiteStore

    store = SQLiteStore(":memory:")

    async def close_the_store_then_fail(context: AgentContext) -> str:
        await store.close()  # the store is gone: recording the failure cannot succeed
        raise RuntimeError("the model fell over")

    manager = SessionManager(FunctionAgent(close_the_store_then_fail), store=store)
    with pytest.raises(Exception, match="the model fell over") as caught:
        await manager.chat("s", "hi")
    assert not isinstance(caught.value, StoreError)
