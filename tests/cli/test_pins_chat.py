"""``/pin``, ``/unpin``, ``/pins`` and the pins in ``/context``, in a chat on a small window."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agentcli.cli.repl import ChatOptions, Repl
from agentcli.config import load_settings

from .inprocess_chat import ChatStarter
from .inprocess_chat import printed as output

Chat = Callable[..., Awaitable[Repl]]  # (pin_first_message=False)
LONG = "word " * 120  # about a sixth of the 1,000-token window, answer included


@pytest.fixture
def chat(workdir: Path, chat_starter: ChatStarter) -> Chat:
    """Start a Repl (no input loop) with the echo agent on a 1,000-token window."""

    async def start(*, pin_first_message: bool = False) -> Repl:
        settings = load_settings(
            env_file=None, context_window=1000, pin_first_message=pin_first_message
        )
        return await chat_starter.start(settings, ChatOptions("echo"), width=120)

    return start


async def test_pin_the_last_exchange_list_it_see_it_in_context_and_unpin(chat: Chat) -> None:
    repl = await chat()
    await repl.handle("remember: the deadline is Friday")
    await repl.handle("/pin")
    shown = output(repl)
    assert "📌 pinned #1: its exchange stays in the context window" in shown
    assert "📌 #1 user: remember: the deadline is Friday" in shown
    assert "pinned: 1 exchange" in shown

    for _ in range(8):
        await repl.handle(LONG)
    output(repl)
    await repl.handle("/context")
    table = output(repl)
    assert "📌 #1 user: remember: the deadline is Friday" in table
    assert "pinned: 1 exchange, kept through cleanups 2 " in table
    assert "trimmed out" in table  # cleanups ran, and the pinned exchange stayed

    await repl.handle("/unpin 1")
    left = "unpinned #1: older than the window's start, its exchange left the window"
    assert left in output(repl)
    await repl.handle(LONG)  # messages #19 and #20
    await repl.handle("/pin")
    assert "📌 pinned #19" in output(repl)
    await repl.handle("/unpin 20")  # the answer of the pinned exchange unpins it too
    assert "unpinned #20: cleanup may drop its exchange again" in output(repl)
    await repl.handle("/pins")
    assert "nothing pinned" in output(repl)


async def test_pin_refusals_are_one_clear_line(
    chat: Chat, capsys: pytest.CaptureFixture[str]
) -> None:
    repl = await chat()
    for _ in range(8):
        await repl.handle(LONG)
    output(repl)
    capsys.readouterr()
    await repl.handle("/pin 1")
    assert "no longer in the context window" in capsys.readouterr().err
    await repl.handle("/pin one")
    assert "Usage: /pin [N]" in capsys.readouterr().err
    await repl.handle("/unpin")
    assert "Usage: /unpin N" in capsys.readouterr().err
    await repl.handle("/unpin 3")
    assert "message #3 is not pinned (pinned: none)" in capsys.readouterr().err
    await repl.handle("/pin 99999")
    assert "there is no message #99999" in capsys.readouterr().err
    assert output(repl) == ""


async def test_pin_first_message_keeps_the_task_through_a_long_chat(chat: Chat) -> None:
    repl = await chat(pin_first_message=True)
    await repl.handle("the task: rename every file")
    for _ in range(10):
        await repl.handle(LONG)
    output(repl)
    await repl.handle("/pins")
    assert "📌 #1 user: the task: rename every file" in output(repl)
    await repl.handle("/history 50")
    assert "the context window starts here" in output(repl)


async def test_help_lists_the_pin_commands(chat: Chat) -> None:
    repl = await chat()
    await repl.handle("/help")
    shown = output(repl)
    for usage in ("/pin [N]", "/unpin N", "/pins"):
        assert usage in shown
