"""Output that is not going to a terminal is exact: nothing wrapped, cut or styled.

Each test runs the real command with its output on pipes and no ``COLUMNS`` or ``LINES`` in the
environment (rich would otherwise assume 80 columns), and compares whole lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .terminal import agent

TIMEOUT = 60
LONG = "a long line of text that a terminal of eighty columns would have to wrap " * 3


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"COLUMNS", "LINES", "DEFAULT_MODEL", "NO_COLOR", "FORCE_COLOR"}
        and not k.endswith("_API_KEY")
    }
    env.update(AGENTCLI_DATA_DIR=str(data_dir), PYTHONIOENCODING="utf-8")
    env["PYDANTIC_DISABLE_PLUGINS"] = "1"
    return env


def _cli(
    workdir: Path, data_dir: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcli", *args],
        cwd=workdir,
        env=_env(data_dir),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    # Longer than 80 characters, so a cut or wrapped value would show.
    return tmp_path / ("d" * 90)


def _no_escapes(*texts: str) -> None:
    for text in texts:
        assert "\x1b" not in text


def test_run_prints_the_answer_exactly(workdir: Path, data_dir: Path) -> None:
    text = "roses are red\nviolets are blue\n    indented *not emphasis*\n\n" + LONG
    done = _cli(workdir, data_dir, "run", "--agent", agent("RepeatAgent"), text)
    assert done.returncode == 0, done.stderr
    assert done.stdout == text + "\n"
    assert done.stderr == ""


def test_run_markdown_when_asked_keeps_line_breaks(workdir: Path, data_dir: Path) -> None:
    text = "# Poem\n\nroses are red\nviolets are blue"
    done = _cli(workdir, data_dir, "run", "--markdown", "--agent", agent("RepeatAgent"), text)
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert lines[-2:] == ["roses are red", "violets are blue"]
    assert "# Poem" not in done.stdout
    _no_escapes(done.stdout)


def test_piped_chat_writes_whole_lines(workdir: Path, data_dir: Path) -> None:
    done = _cli(workdir, data_dir, "chat", "--agent", "echo", stdin=LONG + "\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "You said: " + LONG in lines
    [gauge] = [line for line in lines if line.startswith("context ")]
    assert " tokens (" in gauge
    assert "turn " in gauge  # the whole turn line, on one line
    assert lines[0].startswith("agentcli ")
    assert lines[0].endswith("(new)")
    _no_escapes(done.stdout, done.stderr)


def test_config_is_one_setting_per_line(workdir: Path, data_dir: Path) -> None:
    done = _cli(workdir, data_dir, "config")
    assert done.returncode == 0, done.stderr
    rows = dict(line.split("\t") for line in done.stdout.splitlines())
    assert rows["data_dir"] == str(data_dir)  # whole, though longer than 80 columns
    assert rows["default_model"] == ""  # not set
    _no_escapes(done.stdout)
    shown = json.loads(_cli(workdir, data_dir, "config", "--json").stdout)
    assert shown["data_dir"] == str(data_dir)


def test_agents_are_tab_separated(workdir: Path, data_dir: Path) -> None:
    done = _cli(workdir, data_dir, "agents")
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert rows[0][:2] == ["echo", "yes"]
    assert all(len(row) == 4 for row in rows)
    assert done.stderr == "default agent: echo\n"
    _no_escapes(done.stdout)


def test_sessions_list_and_show_keep_text_whole(workdir: Path, data_dir: Path) -> None:
    title = LONG.strip()
    ran = _cli(workdir, data_dir, "run", "-s", "piped", "--agent", agent("RepeatAgent"), title)
    assert ran.returncode == 0, ran.stderr

    listed = _cli(workdir, data_dir, "sessions", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line.split("\t") for line in listed.stdout.splitlines()]
    session_id, shown_title, messages, tokens, last_active = row
    assert (session_id, messages) == ("piped", "2")
    assert title.startswith(shown_title.rstrip("…"))
    assert int(tokens) > 0
    assert last_active.startswith("20")  # an ISO time, not "just now"

    shown = _cli(workdir, data_dir, "sessions", "show", "piped")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines().count(title) == 2  # the question and its echo, unwrapped
    _no_escapes(shown.stdout)


def test_no_sessions_prints_nothing_when_piped(workdir: Path, data_dir: Path) -> None:
    done = _cli(workdir, data_dir, "sessions", "list")
    assert (done.returncode, done.stdout) == (0, "")


def test_a_piped_error_is_one_line(workdir: Path, data_dir: Path) -> None:
    missing = "no-such-session-" + "x" * 90
    done = _cli(workdir, data_dir, "sessions", "show", missing)
    assert done.returncode == 5
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ")
    assert missing in line


BOX_CHARACTERS = "╭╮╰╯│─"


def test_a_piped_usage_error_is_one_line(workdir: Path, data_dir: Path) -> None:
    done = _cli(workdir, data_dir, "sessions", "list", "--limit", "many")
    assert done.returncode == 2
    # Typer's panel would wrap this at 80 columns inside a box; click's form keeps it whole.
    assert done.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--limit' / '-n': Input should be a valid integer, "
        "unable to parse string as an integer"
    )
    assert "Try 'agentcli sessions list -h' for help." in done.stderr
    assert not set(BOX_CHARACTERS) & set(done.stderr)


def test_piped_help_is_plain_text_with_whole_summaries(workdir: Path, data_dir: Path) -> None:
    done = _cli(workdir, data_dir, "--help")
    assert done.returncode == 0, done.stderr
    assert not set(BOX_CHARACTERS) & set(done.stdout)
    _no_escapes(done.stdout)
    assert "\nCommands:\n" in done.stdout
    # Each command's whole first paragraph, not click's cut at 45 characters with "...".
    commands = done.stdout.split("\nCommands:\n", 1)[1]
    assert not [line for line in commands.splitlines() if line.endswith("...")]
    assert "143 SIGTERM." in done.stdout
    options = _cli(workdir, data_dir, "run", "--help").stdout
    [line] = [line for line in options.splitlines() if "--option NAME=VALUE" in line]
    assert line.startswith("  -o, --option NAME=VALUE")  # grep finds the option, not a panel row
