"""The app narrowed to the command being run answers exactly as the whole app does."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.main import get_command_name
from typer.testing import CliRunner

from agentcli.cli.app import app
from agentcli.cli.one_command import narrowed

runner = CliRunner()
NAMES = [
    *(
        c.name or get_command_name(c.callback.__name__)
        for c in app.registered_commands
        if c.callback
    ),
    *(g.name for g in app.registered_groups if g.name),
]


def _answer(which: typer.Typer, args: list[str]) -> tuple[int, str]:
    result = runner.invoke(which, args, env={"COLUMNS": "100"})
    return result.exit_code, result.output


def test_every_command_and_group_is_found() -> None:
    assert {"chat", "run", "serve", "sessions", "db", "prompts"} <= set(NAMES)
    for name in NAMES:
        lean = narrowed(app, [name])
        assert lean is not app
        assert len(lean.registered_commands) + len(lean.registered_groups) == 1


@pytest.mark.parametrize("name", NAMES)
def test_help_is_the_same(name: str) -> None:
    args = [name, "--help"]
    assert _answer(narrowed(app, args), args) == _answer(app, args)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--no-such-option"],
        ["sessions", "show"],
        ["sessions", "nope"],
        ["prompts", "list", "--json"],
        ["config", "--json"],
    ],
)
def test_errors_and_answers_are_the_same(args: list[str], workdir: Path) -> None:
    assert _answer(narrowed(app, args), args) == _answer(app, args)


@pytest.mark.parametrize("args", [[], ["--help"], ["--version"], ["rnu", "hi"], ["Run"]])
def test_anything_else_gets_the_whole_app(args: list[str]) -> None:
    # The whole app's help lists every command, and an unknown name's error suggests one.
    assert narrowed(app, args) is app
