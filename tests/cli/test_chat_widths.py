"""The chat's own views at fixed widths, on a terminal and not.

Not on a terminal, nothing the chat prints depends on the width: tables are tab-separated lines
(``/help``, ``/context``) and text is whole. On a terminal the gauge printed after ``/resume``,
``/compact`` and a cancelled turn fits the width, like the turn line. Every console here is
made with its width and ``force_terminal`` spelled out: the real terminal and ``COLUMNS`` never
matter.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from rich.console import Console

from agentcli.cli.repl import ChatOptions, Repl
from agentcli.cli.slash import COMMANDS, KEYS
from agentcli.config import load_settings

from .inprocess_chat import ChatStarter

Chat = Callable[..., Awaitable[Repl]]  # (spec="echo", system=None, stream=True)
WIDTHS = [40, 60, 80]
CANCELLED = f"{Path(__file__).parent / 'cancel_agents.py'}:CancelledAgent"
QUESTION = "please keep the numbers 12, 34 and 56 in mind for the report due on Friday " * 2
GAUGE = re.compile(r"^(context|ctx) .*\((<1|\d+)%\)")  # the whole gauge, on one line
BOX = "│┃━─┼╇"


def console(width: int, *, terminal: bool) -> Console:
    """A terminal ``width`` columns wide without colours, or, like the CLI's console for a pipe
    (``console.make_console``), one writing exact text: soft wrap and no colour."""
    return Console(
        file=io.StringIO(),
        width=width,
        force_terminal=terminal,
        soft_wrap=not terminal,
        no_color=not terminal,
        color_system=None,
        markup=False,
        emoji=False,
        highlight=False,
    )


async def shown(repl: Repl, command: str, width: int, *, terminal: bool = False) -> str:
    """What ``command`` prints on a fresh console of ``width`` columns."""
    repl.console = console(width, terminal=terminal)
    await repl.handle(command)
    file = repl.console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


@pytest.fixture
def chat(workdir: Path, chat_starter: ChatStarter) -> Chat:
    """A started Repl on a 100,000-token window, its messages on a pipe-like console."""

    async def start(spec: str = "echo", system: str | None = None, stream: bool = True) -> Repl:
        settings = load_settings(env_file=None, context_window=100_000)
        options = ChatOptions(spec, system=system, stream=stream)
        repl = await chat_starter.start(settings, options)
        repl.console = console(80, terminal=False)
        repl.err = console(80, terminal=False)
        return repl

    return start


def tab_rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


# ---------------------------------------------------------------------- not a terminal


@pytest.mark.parametrize("width", WIDTHS)
async def test_piped_help_is_one_tab_separated_line_per_command_and_key(
    chat: Chat, width: int
) -> None:
    repl = await chat()
    expected = [f"{name} {usage}".strip() + "\t" + meta for name, (meta, usage) in COMMANDS.items()]
    expected += [f"{key}\t{meta}" for key, meta in KEYS]
    assert (await shown(repl, "/help", width)).splitlines() == expected


@pytest.mark.parametrize("width", WIDTHS)
async def test_piped_context_rows_add_up_to_the_total_at_any_width(chat: Chat, width: int) -> None:
    repl = await chat(system="You answer briefly.")
    for text in (QUESTION, "/pin", "and one more question"):
        await repl.handle(text)
    text = await shown(repl, "/context", width)
    assert text == await shown(repl, "/context", 200)  # the width changes nothing
    assert not any(char in text for char in BOX)
    rows = tab_rows(text)
    names = [row[0] for row in rows]
    total = rows[names.index("in the window")]
    parts = rows[: names.index("in the window")]
    assert all(len(row) == 4 for row in rows)
    assert sum(int(row[1]) for row in parts if row[1]) == int(total[1]) == 4
    assert sum(int(row[2]) for row in parts) == int(total[2])
    assert rows[names.index("window size")][1:3] == ["", "100000"]
    [pinned] = [row for row in rows if row[0].startswith("📌 #1 user: please keep")]
    assert pinned[1] == "2"
    assert "of which pinned: 1 exchange, kept through cleanups" in names


async def test_piped_slash_commands_print_the_same_at_any_width(chat: Chat) -> None:
    repl = await chat(system="be brief " * 60 + "\nand cite your sources")
    await repl.handle(QUESTION)
    await repl.handle("/pin")
    commands = ["/help", "/context", "/pins", "/cost", "/sessions", "/history", "/system"]
    commands += ["/agent", "/compact"]
    for command in commands:
        narrow, wide = await shown(repl, command, 40), await shown(repl, command, 200)
        assert narrow == wide, command
        assert not any(char in narrow for char in BOX), command


async def test_piped_system_prompt_is_whole_and_cut_on_a_terminal(chat: Chat) -> None:
    prompt = "be brief " * 60 + "\nand cite your sources"
    repl = await chat(system=prompt)
    assert await shown(repl, "/system", 40) == f"system prompt: {prompt}\n"
    on_terminal = await shown(repl, "/system", 200, terminal=True)
    assert "…" in on_terminal
    assert "and cite your sources" not in on_terminal


@pytest.mark.parametrize("width", WIDTHS)
async def test_piped_gauge_is_whole_at_any_width(chat: Chat, width: int) -> None:
    repl = await chat()
    await repl.handle(QUESTION)
    [gauge] = (await shown(repl, "/compact", width)).splitlines()[-1:]
    assert re.fullmatch(r"context [█░]{16} [\d,]+ / 100,000 tokens \((<1|\d+)%\)", gauge)


def test_piped_chat_prints_help_and_context_as_tab_separated_lines(
    workdir: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "FORCE_COLOR"}}
    env = {k: v for k, v in env.items() if not k.endswith("_API_KEY") and k != "DEFAULT_MODEL"}
    env.update(AGENTCLI_DATA_DIR=str(tmp_path / "data"), PYTHONIOENCODING="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "agentcli", "chat", "--agent", "echo", "--ephemeral"],
        cwd=workdir,
        env=env,
        input=f"{QUESTION}\n/help\n/context\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"/export {COMMANDS['/export'][1]}\t{COMMANDS['/export'][0]}" in lines
    assert "Ctrl-D\texit" in lines
    [total] = [line for line in lines if line.startswith("in the window\t")]
    assert re.fullmatch(r"in the window\t2\t\d+\t(<1|\d+)%", total)
    assert not any(char in done.stdout for char in BOX)
    assert "\x1b" not in done.stdout


# ---------------------------------------------------------------------- on a terminal


@pytest.mark.parametrize("width", WIDTHS)
async def test_help_on_a_terminal_is_a_table_within_the_width(chat: Chat, width: int) -> None:
    repl = await chat()
    text = await shown(repl, "/help", width, terminal=True)
    assert "\t" not in text
    assert all(len(line) <= width for line in text.splitlines())
    for name in COMMANDS:
        assert re.search(rf"^  {re.escape(name)}\b", text, re.MULTILINE), name


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_gauge_after_resume_and_compact_fits_the_terminal(chat: Chat, width: int) -> None:
    repl = await chat()
    await repl.handle(QUESTION)
    old = repl.session_id
    await repl.handle("/clear")
    resumed = (await shown(repl, f"/resume {old}", width, terminal=True)).splitlines()
    compacted = (await shown(repl, "/compact", width, terminal=True)).splitlines()
    for gauge in (resumed[-1], compacted[-1]):
        assert GAUGE.match(gauge), gauge
        assert len(gauge) <= width


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_gauge_after_a_cancelled_turn_fits_the_terminal(chat: Chat, width: int) -> None:
    repl = await chat(CANCELLED, stream=False)
    text = await shown(repl, "tell me something", width, terminal=True)
    gauge = text.splitlines()[-1]
    assert GAUGE.match(gauge), text
    assert len(gauge) <= width
