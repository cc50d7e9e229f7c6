"""Summaries in the chat: the cleanup notice, ``/compact INSTRUCTIONS`` and ``/context``, with
the echo agent as the summariser (a Repl in process, on an in-memory store)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentcli.cli.repl import ChatOptions, Repl
from agentcli.config import load_settings

from .inprocess_chat import ChatStarter
from .test_slash import output

Chat = Callable[..., Awaitable[Repl]]
TEXT = "please look at file report{} and note the numbers {} and {}"


@pytest.fixture
def chat(workdir: Path, chat_starter: ChatStarter) -> Chat:
    async def start(**settings: Any) -> Repl:
        chosen = load_settings(env_file=None, **settings)
        return await chat_starter.start(chosen, ChatOptions("echo"), width=200)

    return start


async def test_the_cleanup_notice_says_what_was_summarised(chat: Chat) -> None:
    repl = await chat(context_window=400, cleanup_strategy="summarize")
    for turn in range(100):
        await repl.handle(TEXT.format(turn, turn, turn))
        shown = output(repl)
        if "cleanup:" in shown:
            break
    assert re.search(r"cleanup: summarised \d+ messages into 1, 9\d% → \d+%", shown), shown
    await repl.handle("/context")
    assert re.search(r"summary of messages 1 to \d+ 1 \d+", output(repl))


async def test_compact_with_instructions_summarises_under_fifo(chat: Chat) -> None:
    repl = await chat(context_window=100_000)
    for turn in range(5):
        await repl.handle(TEXT.format(turn, turn, turn))
    output(repl)
    await repl.handle("/compact keep the report names, don't drop numbers")
    assert re.search(r"compacted: summarised \d+ messages into 1", output(repl))
    await repl.handle("/history 100")
    assert "(Asked: keep the report names, don't drop…" in output(repl)  # the echo's summary


async def test_a_summary_agent_that_fails_trims_instead(chat: Chat, tmp_path: Path) -> None:
    agent_file = tmp_path / "broken.py"
    agent_file.write_text(
        "from agentcli.agent import AgentInterface\n"
        "class Broken(AgentInterface):\n"
        "    async def process(self, context):\n"
        "        raise RuntimeError('summariser down')\n"
    )
    repl = await chat(
        context_window=400, cleanup_strategy="summarize", summary_agent=f"{agent_file}:Broken"
    )
    for turn in range(100):
        await repl.handle(TEXT.format(turn, turn, turn))
        shown = output(repl)
        if "cleanup:" in shown:
            break
    assert "cleanup: trimmed" in shown
    assert "summariser failed (RuntimeError: summariser down): trimmed instead" in shown
