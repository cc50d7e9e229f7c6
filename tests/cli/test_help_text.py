"""Every command's help reads like a man page: no ``<bool>`` after a flag, no ``<str>`` after
an argument, no ``{ID}`` in a usage line."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
import typer.main
from typer.testing import CliRunner

from agentcli.cli.app import app

from .terminal import Terminal, visible

PLACEHOLDER = re.compile(r"<(?:bool|str|int|float|path|file|directory|list\[[a-z]+\])>")
runner = CliRunner()


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from command_paths(sub, (*path, name))


ALL_COMMANDS = list(command_paths(typer.main.get_command(app)))


def assert_plain_help(text: str) -> None:
    assert "Usage:" in text, text
    assert not PLACEHOLDER.search(text), PLACEHOLDER.search(text)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage
    assert "Show this message and exit." in text


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda path: " ".join(path) or "agentcli")
def test_help_has_no_type_placeholders(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert_plain_help(result.stdout)


@pytest.mark.parametrize("args", [["--help"], ["chat", "--help"], ["run", "-h"]])
def test_help_through_the_real_command_line(tmp_path: Path, args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentcli", *args],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert_plain_help(result.stdout)


def test_a_missing_argument_is_still_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sessions", "show"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Missing argument 'ID'" in result.output
    assert "sessions show [OPTIONS] ID" in result.output


def test_help_and_usage_errors_keep_their_panels_on_a_terminal(
    spawn: Callable[..., Terminal],
) -> None:
    term = spawn("run", "--help")
    term.expect(pexpect.EOF)
    panels = visible(term.raw)
    assert "╭─ Options " in panels
    assert "--option" in panels
    assert not PLACEHOLDER.search(panels), PLACEHOLDER.search(panels)  # Typer's <bool>, <str>
    term = spawn("sessions", "list", "--limit", "many")
    term.expect(pexpect.EOF)
    shown = visible(term.raw)
    assert "╭─ Error " in shown
    assert "Input should be a valid integer" in shown
