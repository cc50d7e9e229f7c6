"""Resuming a session shows its last three exchanges, short, safe and dim, before the prompt."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pexpect
import pytest

from agentcli.cli.repl import ChatOptions, Repl
from agentcli.cli.runtime import open_cli_store
from agentcli.config import load_settings
from agentcli.messages import Message

from .inprocess_chat import ChatStarter, printed
from .terminal import Terminal, agent, visible

Chat = Callable[..., Awaitable[Repl]]  # (session=None, cont=False)
HEADING = "the last 3 exchanges of this session (/history shows them all):"


@pytest.fixture
def chat(workdir: Path, chat_starter: ChatStarter) -> Chat:
    """Start a Repl (no input loop) on the SQLite store of the data directory, printing to a
    100-column terminal without colours; closed after the test."""

    async def start(session: str | None = None, cont: bool = False) -> Repl:
        options = ChatOptions("echo", session=session, cont=cont)
        return await chat_starter.start(
            load_settings(env_file=None), options, terminal=True, ephemeral=None, keep_banner=True
        )

    return start


async def seed(session_id: str, messages: list[Message]) -> None:
    store = open_cli_store(load_settings(env_file=None))
    try:
        await store.append(session_id, messages)
    finally:
        await store.close()


def exchange(number: int) -> list[Message]:
    return [
        Message(role="user", content=f"question {number}"),
        Message(role="assistant", content=f"answer {number}"),
    ]


async def test_resuming_shows_the_last_three_exchanges(chat: Chat) -> None:
    await seed("past", [m for number in range(1, 5) for m in exchange(number)])
    repl = await chat(session="past")
    shown = printed(repl, one_line=False).splitlines()
    start = shown.index(HEADING)
    assert shown[start + 1 :] == [
        "› question 2",  # noqa: RUF001 - the prompt sign
        "  answer 2",
        "› question 3",  # noqa: RUF001
        "  answer 3",
        "› question 4",  # noqa: RUF001
        "  answer 4",
    ]
    assert "(resumed, 8 messages)" in shown[0]


async def test_continue_shows_them_too_and_a_new_session_shows_nothing(chat: Chat) -> None:
    fresh = await chat()
    assert not any("exchange" in line for line in printed(fresh, one_line=False).splitlines())
    await seed("past", exchange(1))
    repl = await chat(cont=True)
    shown = printed(repl, one_line=False).splitlines()
    assert "the last exchange of this session (/history shows them all):" in shown
    assert shown[-2:] == ["› question 1", "  answer 1"]  # noqa: RUF001


async def test_long_tool_using_and_hostile_exchanges_are_shortened_and_safe(chat: Chat) -> None:
    long_answer = "\n".join(f"line {n}" for n in range(1, 20))
    await seed(
        "past",
        [
            Message(role="user", content="first line\n\n\tindented second\nthird\nfourth"),
            Message(role="assistant", content="let me look"),
            Message(role="tool", content="tool output is not shown", tool_call_id="c1", name="t"),
            Message(role="assistant", content=long_answer),
            Message(role="user", content="evil \x1b]0;title\x07\x1b[2J\u202eright " + "w" * 400),
            Message(role="assistant", content="cut off", status="interrupted"),
            Message(role="user", content="never answered"),
        ],
    )
    repl = await chat(session="past")
    shown = printed(repl, one_line=False).splitlines()
    start = shown.index(HEADING)
    assert shown[start + 1 : start + 5] == [
        "› first line",  # noqa: RUF001
        "      indented second",  # the tab kept as indentation
        "  third …",
        "  let me look",
    ]
    assert shown[start + 5 : start + 7] == ["  line 1", "  line 2 …"]  # three lines in all
    hostile = shown[start + 7]
    assert hostile.startswith("› evil <U+202E>right www")  # noqa: RUF001
    assert hostile.endswith("…")
    assert len(hostile) <= 100  # cut to the console's width
    assert "\x1b" not in "".join(shown)
    assert shown[start + 8 :] == ["  cut off [interrupted]", "› never answered", "  (no answer)"]  # noqa: RUF001
    assert "tool output" not in "\n".join(shown)


async def test_slash_resume_shows_the_last_exchanges(chat: Chat) -> None:
    await seed("past", [m for number in range(1, 3) for m in exchange(number)])
    repl = await chat()
    printed(repl, one_line=False).splitlines()
    await repl.handle("/resume past")
    shown = printed(repl, one_line=False).splitlines()
    assert shown[0] == "resumed session past (4 messages)"
    assert shown[1] == "the last 2 exchanges of this session (/history shows them all):"
    assert shown[2:6] == ["› question 1", "  answer 1", "› question 2", "  answer 2"]  # noqa: RUF001
    assert "context" in shown[6]  # then the gauge


@pytest.mark.pty
def test_resumed_chat_shows_the_last_exchange_dim_in_a_terminal(
    spawn: Callable[..., Terminal],
) -> None:
    first = spawn("chat", "--agent", agent("RepeatAgent"))
    first.prompt()
    first.line("remember the kiwi")
    first.child.sendcontrol("d")
    first.expect(pexpect.EOF)

    again = spawn("chat", "--continue", "--agent", agent("RepeatAgent"))
    before_prompt = again.prompt()
    lines = visible(before_prompt).splitlines()
    assert "the last exchange of this session (/history shows them all):" in lines
    assert "› remember the kiwi" in lines  # noqa: RUF001
    assert "  remember the kiwi" in lines  # the answer, indented
    dim = re.compile(rb"\x1b\[[0-9;]*\b2m[^\x1b]*remember the kiwi")
    assert dim.search(before_prompt), before_prompt
    again.exit()
