"""The chat's slash commands in process: a Repl on an in-memory store, output at a fixed width."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agentcli.cli.repl import ChatOptions, Repl
from agentcli.config import load_settings

from .inprocess_chat import ChatStarter, printed
from .terminal import agent

Chat = Callable[..., Awaitable[Repl]]  # (spec="echo", system=None)


output = printed  # the name these tests, and those of test_prompts, use


@pytest.fixture
def chat(workdir: Path, chat_starter: ChatStarter) -> Chat:
    """Start a Repl (no input loop) on a 1,000-token window; closed after the test."""

    async def start(spec: str = "echo", system: str | None = None) -> Repl:
        settings = load_settings(env_file=None, context_window=1000)
        return await chat_starter.start(settings, ChatOptions(spec, system=system))

    return start


async def test_history_shows_the_last_n(chat: Chat) -> None:
    repl = await chat()
    for text in ("one", "two"):
        await repl.handle(text)
    output(repl)
    await repl.handle("/history 1")
    shown = output(repl)
    assert "#4 assistant" in shown
    assert "#3 user" not in shown


@pytest.mark.parametrize("count", ["0", "-1"])
async def test_history_rejects_a_count_below_one(
    chat: Chat, count: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repl = await chat()
    await repl.handle("hello")
    output(repl)
    capsys.readouterr()
    await repl.handle(f"/history {count}")
    assert output(repl) == ""  # not "no messages yet": the session has messages
    assert "N must be 1 or more. Usage: /history [N]" in capsys.readouterr().err


async def test_clear_keeps_the_system_prompt_and_hints_only_at_a_stored_session(
    chat: Chat,
) -> None:
    repl = await chat(system="be brief")
    empty = repl.session_id
    await repl.handle("/clear")
    cleared = output(repl)
    assert "new session" in cleared
    assert "/resume" not in cleared  # the old session had no messages: it was never stored
    assert empty not in cleared

    await repl.handle("hello")
    used = repl.session_id
    await repl.handle("/system")
    assert "be brief" in output(repl)
    await repl.handle("/clear")
    assert f"/resume {used} to go back" in output(repl)
    await repl.handle("/system")
    assert "be brief" in output(repl)  # the new session starts with the --system prompt


async def test_clear_then_resume_does_not_move_the_system_prompt(chat: Chat) -> None:
    repl = await chat()
    await repl.handle("hello")
    old = repl.session_id
    repl.options.system = "for new sessions only"
    await repl.handle("/clear")
    await repl.handle(f"/resume {old}")
    output(repl)
    await repl.handle("/system")
    assert "(none)" in output(repl)


async def test_compact_says_once_why_nothing_could_be_trimmed(chat: Chat) -> None:
    # One exchange of about 700 tokens in a 1,000-token window: above the 60% target, below
    # the 90% threshold, and all of it must be kept.
    repl = await chat(agent("PadAgent"))
    await repl.handle("word " * 300)
    output(repl)
    await repl.handle("/compact")
    shown = output(repl)
    assert shown.count("nothing to trim") == 1
    assert "only messages that are always kept remain" in shown
    assert "above the cleanup target of 60%" in shown
    assert "cannot shrink further" not in shown  # the store's warning is not repeated


async def test_compact_at_or_below_the_target(chat: Chat) -> None:
    repl = await chat()
    await repl.handle("hello")
    output(repl)
    await repl.handle("/compact")
    assert "nothing to trim: the window is at or below its target" in output(repl)
