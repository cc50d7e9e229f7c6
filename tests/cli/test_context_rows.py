"""``/context``'s rows add up to its total: every window message in exactly one row (a summary
is not also a system message, the system prompt is not a message), and the pinned exchanges are
shown as a part of the rows above, not more of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentcli.cli.context_view import context_rows
from agentcli.cli.repl import ChatOptions, Repl
from agentcli.config import load_settings

from .inprocess_chat import ChatStarter
from .terminal import agent
from .test_slash import output

Chat = Callable[..., Awaitable[Repl]]
TEXT = "please look at file report{0} and note the numbers {0} and {0} " * 3


@pytest.fixture
def chat(workdir: Path, chat_starter: ChatStarter) -> Chat:
    async def start(**settings: Any) -> Repl:
        chosen = load_settings(env_file=None, context_window=1000, **settings)
        options = ChatOptions("echo", system="You answer briefly and name your sources.")
        return await chat_starter.start(chosen, options, width=200)

    return start


async def assert_rows_add_up(repl: Repl) -> None:
    snapshot = await (await repl.manager()).snapshot(repl.session_id)
    rows = context_rows(snapshot)
    assert sum(row.messages or 0 for row in rows) == snapshot.usage.messages
    assert sum(row.messages or 0 for row in rows) == len(snapshot.window)
    assert sum(row.tokens for row in rows) == snapshot.usage.tokens
    assert all(row.tokens >= 0 for row in rows)


@pytest.mark.parametrize("strategy", ["fifo", "summarize"])
async def test_rows_add_up_through_pins_tools_and_cleanups(chat: Chat, strategy: str) -> None:
    repl = await chat(cleanup_strategy=strategy)
    await assert_rows_add_up(repl)  # a new session: the system prompt alone
    await repl.handle("remember: the deadline is Friday")
    await repl.handle("/pin")
    await repl.handle(f"/agent {agent('ToolAgent')}")
    await repl.handle("what is the weather in Oslo?")  # a tool call and its result
    await repl.handle("/agent echo")
    cleaned = False
    for turn in range(14):
        await repl.handle(TEXT.format(turn))
        cleaned = cleaned or "cleanup:" in output(repl)
        await assert_rows_add_up(repl)
    assert cleaned  # the window was cleaned up on the way

    output(repl)
    await repl.handle("/context")  # not a terminal: tab-separated rows, numbers whole
    rows = [line.split("\t") for line in output(repl, one_line=False).splitlines()]
    names = [row[0] for row in rows]
    parts, total = rows[: names.index("in the window")], rows[names.index("in the window")]
    assert sum(int(row[1]) for row in parts if row[1]) == int(total[1])
    assert sum(int(row[2]) for row in parts) == int(total[2])
    assert rows[names.index("window size")][2] == "1000"
    assert any(name.startswith("of which pinned: 1 exchange") for name in names)
    assert rows[0][:2] == ["system prompt", ""]  # not a message: no count


async def test_rows_add_up_over_many_summaries(chat: Chat) -> None:
    repl = await chat(cleanup_strategy="summarize")
    for turn in range(30):
        await repl.handle(TEXT.format(turn))
        await assert_rows_add_up(repl)
