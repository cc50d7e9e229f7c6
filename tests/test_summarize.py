"""Summarising compaction with real parts: the echo agent as a deterministic summariser, test
agents that fail, hang or cost money, an in-memory or SQLite store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentcli.agents import EchoAgent, FunctionAgent
from agentcli.agents.offline import SUMMARY_REQUEST
from agentcli.export import export_session
from agentcli.messages import AgentContext, AgentResponse, Message
from agentcli.session import SessionManager
from agentcli.session.window_cache import summary_range
from agentcli.stores.base import session_scope
from agentcli.stores.memory import MemoryStore
from agentcli.usage import Usage

TEXT = "please look at file report{} and note the numbers {} and {}"


def manager(**options: object) -> SessionManager:
    defaults: dict[str, object] = {
        "context_window_size": 400,
        "cleanup_strategy": "summarize",
    }
    defaults.update(options)
    return SessionManager(EchoAgent(notice=False), **defaults)  # type: ignore[arg-type]


async def chat_until_cleanup(m: SessionManager, session: str = "s") -> AgentResponse:
    for turn in range(200):
        response = await m.chat(session, TEXT.format(turn, turn * 7, turn * 11))
        if response.cleanup is not None and response.cleanup.trimmed:
            return response
    raise AssertionError("no cleanup in 200 turns")


def summaries(window: list[Message]) -> list[Message]:
    return [m for m in window if summary_range(m) is not None]


async def test_dropped_messages_become_one_summary_and_the_transcript_keeps_them() -> None:
    m = manager()
    response = await chat_until_cleanup(m)
    cleanup = response.cleanup
    assert cleanup is not None
    assert cleanup.strategy == "summarize"
    assert cleanup.summarized == cleanup.trimmed
    assert cleanup.warning is None
    window = await m.window("s")
    [summary] = summaries(window)
    assert window[0].seq == summary.seq  # no system prompt: the summary comes first
    assert summary.role == "system"
    assert summary.content.startswith("Summary of the earlier")
    assert "The user said: please look at file" in summary.content
    covered = summary_range(summary)
    assert covered is not None
    expected = {"from": 1, "to": covered[1], "messages": cleanup.summarized}
    assert (summary.metadata or {})["summary"] == expected
    history = await m.history("s")
    assert [x.seq for x in history] == list(range(1, len(history) + 1))  # originals kept
    assert window[1].role == "user"  # after the summary, the window starts with a question


async def test_a_later_summary_covers_the_earlier_one_and_replaces_it() -> None:
    m = manager()
    first = await chat_until_cleanup(m)
    assert first.cleanup is not None
    [earlier] = summaries(await m.window("s"))
    second = await chat_until_cleanup(m)
    assert second.cleanup is not None
    assert second.cleanup.summarized == second.cleanup.trimmed + 1  # the old summary too
    [later] = summaries(await m.window("s"))
    assert later.seq > earlier.seq
    old, new = summary_range(earlier), summary_range(later)
    assert old is not None
    assert new is not None
    assert new[0] == old[0] == 1
    assert new[1] > old[1]
    assert len(summaries(await m.history("s"))) == 2  # both stay in the transcript


async def test_a_failing_summariser_falls_back_to_trimming_and_says_so() -> None:
    def broken(context: AgentContext) -> str:
        raise RuntimeError("model overloaded")

    m = manager(summary_agent=FunctionAgent(broken))
    response = await chat_until_cleanup(m)
    cleanup = response.cleanup
    assert cleanup is not None
    assert response.output.startswith("You said:")
    assert cleanup.strategy == "fifo"
    assert cleanup.summarized == 0
    assert cleanup.trimmed > 0
    assert cleanup.warning is not None
    assert cleanup.warning.startswith("summariser failed (RuntimeError: model overloaded)")
    assert "trimmed instead" in cleanup.warning
    assert summaries(await m.history("s")) == []


async def test_a_summariser_that_never_answers_times_out() -> None:
    never = asyncio.Event()

    async def hang(context: AgentContext) -> str:
        await never.wait()
        return "never"

    m = manager(summary_agent=FunctionAgent(hang), summary_timeout=0.05)
    response = await chat_until_cleanup(m)
    assert response.cleanup is not None
    assert response.cleanup.warning is not None
    assert "summariser failed (no summary within 0.05 s): trimmed instead" in (
        response.cleanup.warning
    )


@pytest.mark.parametrize(
    ("answer", "reason"), [("   ", "the summary was empty"), ("word " * 2000, "not shorter")]
)
async def test_an_empty_or_longer_summary_is_refused(answer: str, reason: str) -> None:
    m = manager(summary_agent=FunctionAgent(lambda context: answer))
    response = await chat_until_cleanup(m)
    assert response.cleanup is not None
    assert response.cleanup.strategy == "fifo"
    assert reason in (response.cleanup.warning or "")


async def test_cancelling_a_turn_while_the_summariser_writes_leaves_the_session_valid() -> None:
    called, never = asyncio.Event(), asyncio.Event()

    async def slow(context: AgentContext) -> str:
        called.set()
        await never.wait()
        return "never"

    m = manager(summary_agent=FunctionAgent(slow))
    for turn in range(200):
        task = asyncio.create_task(m.chat("s", TEXT.format(turn, turn, turn)))
        waiting = asyncio.create_task(called.wait())
        done, _ = await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            break
        waiting.cancel()
        await task
    else:
        raise AssertionError("the summariser was never called")
    history = await m.history("s")
    # Cancelled before the answer (it is stored empty, interrupted) or after it: whole either way.
    assert history[-1].role == "assistant"
    assert history[-2].role == "user"
    assert summaries(history) == []
    m.summary_agent = EchoAgent()
    response = await m.chat("s", "still there?")
    assert response.output == "You said: still there?"


async def test_compact_with_instructions_summarises_even_under_fifo() -> None:
    m = manager(cleanup_strategy="fifo", context_window_size=100_000)
    for turn in range(6):
        await m.chat("s", TEXT.format(turn, turn, turn))
    report = await m.compact("s", "keep every file name")
    assert report.strategy == "summarize"
    assert report.reason == "compact"
    assert report.summarized == report.trimmed > 0
    assert report.warning is None
    [summary] = summaries(await m.window("s"))
    assert "(Asked: keep every file name.)" in summary.content
    assert (await m.compact("s")).trimmed == 0  # without: the strategy (fifo), below target


async def test_the_summariser_cost_counts_in_usage_and_the_session_budget() -> None:
    seen: list[AgentContext] = []

    def priced(context: AgentContext) -> AgentResponse:
        seen.append(context)
        usage = Usage(input_tokens=300, output_tokens=12, cost=0.25)
        return AgentResponse(output="The user asked about reports.", usage=usage)

    store = MemoryStore()
    m = manager(summary_agent=FunctionAgent(priced), store=store, max_session_cost=100.0)
    await chat_until_cleanup(m)
    assert len(seen) == 1  # one summariser call per cleanup
    request = seen[0].metadata[SUMMARY_REQUEST]
    assert isinstance(request, dict)
    assert request["from"] == 1
    [summary] = summaries(await m.history("s"))
    assert summary.usage is not None
    assert summary.usage.cost == 0.25
    assert await store.get_spend(session_scope("s")) == pytest.approx(0.25)


async def test_export_shows_the_summary_and_import_keeps_it(tmp_path: Path) -> None:
    m = manager()
    await chat_until_cleanup(m)
    markdown = await export_session(m.store, "s", "md")
    assert "Summary of messages #1 to #" in markdown
    document = await export_session(m.store, "s", "json")
    assert '"summary"' in document
