"""Saved prompts: ``agentcli prompts ...``, ``--prompt NAME`` and the chat's ``/prompt``."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from typer.testing import CliRunner, Result

from agentcli.cli.app import app
from agentcli.cli.exits import USAGE
from agentcli.cli.prompt_store import save_prompt
from agentcli.cli.runtime import open_cli_store
from agentcli.config import load_settings
from agentcli.session.window_cache import SYSTEM_PROMPT_KEY

from .test_slash import Chat, chat, output

__all__ = ["chat"]  # the fixture, shared with the slash command tests

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def data_dir() -> Path:
    return Path(os.environ["AGENTCLI_DATA_DIR"])


def stored_system_prompt(session_id: str) -> object:
    async def read() -> object:
        store = open_cli_store(load_settings(env_file=None))
        try:
            info = await store.info(session_id)
        finally:
            await store.close()
        assert info is not None
        return info.metadata.get(SYSTEM_PROMPT_KEY)

    return asyncio.run(read())


@pytest.fixture(autouse=True)
def _cwd(workdir: Path) -> None:
    """Every test runs in a scratch directory with its own data directory."""


def test_save_list_show_delete() -> None:
    text = "Talk like a pirate.\n\n  Keep the indentation."
    assert invoke("prompts", "save", "pirate", text).exit_code == 0
    assert invoke("prompts", "save", "terse", input="be terse\n").exit_code == 0  # from stdin

    shown = invoke("prompts", "show", "pirate")
    assert shown.exit_code == 0
    assert shown.stdout == text + "\n"  # exactly as saved, line breaks and all

    listed = json.loads(invoke("prompts", "list", "--json").stdout)
    assert [(p["name"], p["text"]) for p in listed] == [("pirate", text), ("terse", "be terse")]
    piped = invoke("prompts", "list").stdout.splitlines()  # not a terminal: one line each
    assert [line.split("\t")[:2] for line in piped] == [["pirate", str(len(text))], ["terse", "8"]]

    replaced = invoke("prompts", "save", "terse", "be very terse")
    assert "replaced prompt terse" in replaced.stderr
    assert invoke("prompts", "show", "terse").stdout == "be very terse\n"

    assert invoke("prompts", "delete", "terse").exit_code == 0
    assert json.loads(invoke("prompts", "list", "--json").stdout)[0]["name"] == "pirate"
    missing = invoke("prompts", "delete", "terse")
    assert missing.exit_code == USAGE
    assert "no saved prompt named 'terse'" in missing.stderr


def test_prompts_are_private_files() -> None:
    invoke("prompts", "save", "secret", "internal instructions")
    directory = data_dir() / "prompts"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "secret.txt").stat().st_mode) == 0o600
    assert [p.name for p in directory.iterdir()] == ["secret.txt"]  # no temporary file left


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", "x" * 65, "", "sp ace", "é"])
def test_bad_names_are_refused(name: str) -> None:
    result = invoke("prompts", "save", name, "text")
    assert result.exit_code == USAGE
    assert "bad prompt name" in result.stderr
    assert not (data_dir() / "prompts").exists()


def test_empty_or_unstorable_text_is_refused() -> None:
    assert invoke("prompts", "save", "blank", "  \n").exit_code == USAGE
    assert invoke("prompts", "save", "nul", "a\x00b").exit_code == USAGE
    assert invoke("prompts", "list", "--json").stdout.strip() == "[]"


def test_a_planted_link_is_never_followed(tmp_path: Path) -> None:
    invoke("prompts", "save", "real", "text")
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a prompt of yours")
    (data_dir() / "prompts" / "linked.txt").symlink_to(target)
    result = invoke("prompts", "show", "linked")
    assert result.exit_code == USAGE
    assert "symbolic link" in result.stderr
    assert "not a prompt of yours" not in result.stdout
    assert [p["name"] for p in json.loads(invoke("prompts", "list", "--json").stdout)] == ["real"]


def test_show_sanitises_the_text() -> None:
    save_prompt(data_dir(), "loud", "red \x1b[31mtext\x1b]0;title\x07")
    assert invoke("prompts", "show", "loud").stdout == "red text\n"


def test_run_with_a_saved_prompt_sets_the_system_prompt() -> None:
    invoke("prompts", "save", "terse", "Answer in one word.")
    result = invoke("run", "--json", "--prompt", "terse", "hello")
    assert result.exit_code == 0, result.output
    session_id = json.loads(result.stdout)["session_id"]
    assert stored_system_prompt(session_id) == "Answer in one word."


@pytest.mark.parametrize("command", ["run", "chat"])
def test_prompt_and_system_together_or_an_unknown_prompt_are_usage_errors(command: str) -> None:
    invoke("prompts", "save", "terse", "Answer in one word.")
    text = ["hi"] if command == "run" else []
    both = invoke(command, "--prompt", "terse", "--system", "other", *text, input="")
    assert both.exit_code == USAGE
    assert "use either --system or --prompt, not both" in both.stderr
    unknown = invoke(command, "--prompt", "nope", *text, input="hi\n")
    assert unknown.exit_code == USAGE
    assert "no saved prompt named 'nope'" in unknown.stderr
    assert "agentcli" not in unknown.stdout  # the chat stopped before its banner


async def test_slash_prompt_sets_and_lists(chat: Chat, capsys: pytest.CaptureFixture[str]) -> None:
    repl = await chat()
    await repl.handle("/prompt")
    assert "no saved prompts yet" in output(repl)
    save_prompt(repl.settings.data_dir, "pirate", "Talk like a pirate.")
    save_prompt(repl.settings.data_dir, "terse", "Answer in one word.")
    await repl.handle("/prompt")
    assert output(repl) == "saved prompts: pirate, terse"

    await repl.handle("/prompt pirate")
    assert "system prompt set from saved prompt pirate" in output(repl)
    await repl.handle("/system")
    assert output(repl) == "system prompt: Talk like a pirate."

    capsys.readouterr()
    await repl.handle("/prompt nope")
    assert "no saved prompt named 'nope'" in capsys.readouterr().err
    await repl.handle("/prompt a b")
    assert "give one prompt name. Usage: /prompt [NAME]" in capsys.readouterr().err
    await repl.handle("/system")
    assert output(repl) == "system prompt: Talk like a pirate."  # unchanged by the errors


async def test_tab_completes_prompt_names(chat: Chat) -> None:
    repl = await chat()
    save_prompt(repl.settings.data_dir, "pirate", "Talk like a pirate.")
    save_prompt(repl.settings.data_dir, "poet", "Answer in verse.")
    save_prompt(repl.settings.data_dir, "terse", "Answer in one word.")
    completer = repl._prompt_session().completer
    assert completer is not None
    found = completer.get_completions(Document("/prompt p"), CompleteEvent())
    assert sorted(c.text for c in found) == ["pirate", "poet"]
