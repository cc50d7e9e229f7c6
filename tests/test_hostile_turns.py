"""Turns an agent makes awkward: unstorable characters in its answer, absurd token counts.

The answer is always stored (characters replaced, counts dropped), the user is told once (a
warning), and a cancellation stays a cancellation.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from agentcli import AgentInterface, SessionManager
from agentcli.agent import TextDelta
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall
from agentcli.stores import SQLiteStore
from agentcli.usage import MAX_TOKENS, Usage, checked_usage

from .cli.hostile_turn_agents import (
    FIRST_WORDS,
    AbsurdMetadataUsageAgent,
    AbsurdTypedUsageAgent,
    StallAgent,
    UncheckedUsageAgent,
    UnstorableAnswerAgent,
)
from .cli.terminal import run_cli

REPLACED = "nul\ufffd and lone \ufffd surrogate "
AGENTS = Path(__file__).parent / "cli" / "hostile_turn_agents.py"


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and text in r.getMessage()
    ]


async def test_a_whole_answer_with_unstorable_characters_is_stored_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        manager = SessionManager(UnstorableAnswerAgent(), store=store)
        with caplog.at_level(logging.WARNING, logger="agentcli"):
            response = await manager.chat("s1", "hi")
        assert response.output == "clean start, " + REPLACED
        answer = (await store.read("s1"))[-1]
        assert (answer.status, answer.content) == ("complete", "clean start, " + REPLACED)
    assert len(_warnings(caplog, "cannot be stored")) == 1


async def test_cancelling_after_unstorable_characters_keeps_the_partial_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        manager = SessionManager(StallAgent(), store=store)
        streamed = asyncio.Event()

        async def consume() -> None:
            async for event in manager.stream_events("s1", "unstorable please"):
                if isinstance(event, TextDelta) and event.text == FIRST_WORDS:
                    streamed.set()

        task = asyncio.ensure_future(consume())
        with caplog.at_level(logging.WARNING, logger="agentcli"):
            await streamed.wait()
            task.cancel()
            # A cancellation, never a validation error in its place.
            with pytest.raises(asyncio.CancelledError):
                await task
        answer = (await store.read("s1"))[-1]
        assert (answer.status, answer.content) == ("interrupted", REPLACED + FIRST_WORDS)
    assert len(_warnings(caplog, "cannot be stored")) == 1


@pytest.mark.parametrize(
    "agent", [AbsurdMetadataUsageAgent(), AbsurdTypedUsageAgent(), UncheckedUsageAgent()]
)
async def test_absurd_token_counts_are_dropped_and_the_answer_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, agent: AgentInterface
) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        manager = SessionManager(agent, store=store, token_counter=len)
        with caplog.at_level(logging.WARNING, logger="agentcli"):
            response = await manager.chat("s1", "hi")
        assert response.output == "counted answer"
        answer = (await store.read("s1"))[-1]
        assert (answer.content, answer.status) == ("counted answer", "complete")
        assert answer.tokens == len("counted answer")  # counted, as if none were reported
        assert answer.usage is None or answer.usage.output_tokens is None
        assert (await manager.usage("s1")).tokens < 1000
    assert _warnings(caplog, "ignored token counts"), caplog.text


class AbsurdToolUnitAgent(AgentInterface):
    """Returns a tool round whose messages claim 2**70 tokens."""

    name = "absurd-units"

    async def process(self, context: AgentContext) -> AgentResponse:
        call = ToolCall(id="c1", name="add", arguments="{}")
        units = [
            Message(role="assistant", tool_calls=(call,), tokens=2**70),
            Message(role="tool", tool_call_id="c1", name="add", content="3", tokens=2**70),
        ]
        return AgentResponse(output="3", messages=units)


async def test_absurd_token_counts_on_tool_messages_are_recounted(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        manager = SessionManager(AbsurdToolUnitAgent(), store=store, token_counter=len)
        await manager.chat("s1", "add")
        stored = await store.read("s1")
        assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
        assert all(m.tokens <= MAX_TOKENS for m in stored)


def test_usage_keeps_sane_counts_and_drops_the_rest() -> None:
    usage = Usage.model_validate({"input_tokens": 12, "output_tokens": -1, "requests": 2**64})
    assert (usage.input_tokens, usage.output_tokens, usage.requests) == (12, None, None)
    assert Usage(output_tokens=MAX_TOKENS).output_tokens == MAX_TOKENS
    assert checked_usage(Usage(output_tokens=5)) == Usage(output_tokens=5)
    assert checked_usage(Usage.model_construct(cost=-1.0)) is None  # wrong beyond repair
    with pytest.raises(ValueError, match="cost"):
        Usage.model_validate({"output_tokens": 2**70, "cost": -1.0})  # other errors still count


@pytest.mark.parametrize(
    "agent", ["AbsurdMetadataUsageAgent", "AbsurdTypedUsageAgent", "UncheckedUsageAgent"]
)
async def test_run_stores_the_answer_despite_absurd_counts(tmp_path: Path, agent: str) -> None:
    data_dir = tmp_path / "data"
    code, out, err = await run_cli(tmp_path, data_dir, "run", "--agent", f"{AGENTS}:{agent}", "hi")
    assert code == 0, err
    assert out.startswith("counted answer")
    assert "ignored token counts" in err
    assert "internal error" not in err
    async with SQLiteStore(data_dir / "sessions.db") as store:
        (session,) = await store.list_sessions()
        assert (await store.read(session.id))[-1].content == "counted answer"
