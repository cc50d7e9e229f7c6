"""Text keeps its shape: line breaks survive Markdown, ``--raw`` shows the text as written,
``/markdown`` toggles, and a multi-line block keeps its lines and indentation."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pexpect
from rich.console import Console

from agentcli.cli.render import answer
from agentcli.stores import SQLiteStore

from .terminal import Terminal, agent, visible

Spawn = Callable[..., Terminal]
POEM = "roses are red\nviolets are blue"


def _lines(renderable: object, width: int = 60) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None, markup=False)
    console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return [line.rstrip() for line in out.splitlines()]


def test_markdown_keeps_line_breaks() -> None:
    assert _lines(answer(POEM)) == ["roses are red", "violets are blue"]
    assert _lines(answer("**bold**\nnext")) == ["bold", "next"]


def test_raw_keeps_everything() -> None:
    text = "# not a heading\n    indented\n*not emphasis*"
    assert _lines(answer(text, markdown=False)) == text.splitlines()


def test_run_on_a_terminal_keeps_the_lines(spawn: Spawn) -> None:
    term = spawn("run", "--agent", agent("RepeatAgent"), POEM)
    term.expect(pexpect.EOF)
    shown = visible(term.raw)
    assert "roses are red\n" in shown
    assert "\nviolets are blue" in shown


async def test_a_block_keeps_its_lines_and_indentation(spawn: Spawn, tmp_path: Path) -> None:
    term = spawn("chat", "--raw", "--agent", agent("RepeatAgent"), "--session", "block")
    term.prompt()
    for line in ('"""', "def f():", "    return 1", "", "  two spaces", '"""'):
        term.send(line + "\r")
    out = visible(term.prompt())
    assert "def f():\n    return 1\n\n  two spaces" in out
    assert term.exit() == 0
    async with SQLiteStore(tmp_path / "data" / "sessions.db") as store:
        question, reply = await store.read("block")
    assert question.content == reply.content == "def f():\n    return 1\n\n  two spaces"


def test_slash_markdown_toggles(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", agent("RepeatAgent"))
    term.prompt()
    assert "exactly as written (raw)" in visible(term.line("/markdown"))
    assert "# title" in visible(term.line("# title"))  # raw: the hash stays
    assert "as Markdown" in visible(term.line("/markdown on"))
    assert "give on, off or nothing" in visible(term.line("/markdown maybe"))
    assert term.exit() == 0
