"""Configuration problems are found at start (or at ``/agent``), before anything is shown: a
provider without its key, a bad base URL, a data directory that cannot be written. Each exits
with the configuration code and names the variable to set, through the real command line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcli.agents.factory import check_spec
from agentcli.config import Settings
from agentcli.errors import ConfigError

from .terminal import clean_env
from .test_settings_errors import agentcli, assert_one_config_line

BANNER = "agentcli "  # the chat's first line starts so


def chat(
    tmp_path: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """``agentcli chat`` without a terminal: one message per line from ``stdin``."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "agentcli", "chat", *args],
        cwd=work,
        env=clean_env(tmp_path, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------------- the agent


@pytest.mark.parametrize(
    ("args", "env", "variable"),
    [
        (["--agent", "anthropic:claude-haiku-4-5"], {}, "ANTHROPIC_API_KEY"),
        (["--agent", "openai:gpt-4o-mini"], {}, "OPENAI_API_KEY"),
        ([], {"DEFAULT_MODEL": "gpt-4o-mini"}, "OPENAI_API_KEY"),
        ([], {"DEFAULT_MODEL": "claude-haiku-4-5"}, "ANTHROPIC_API_KEY"),
    ],
)
def test_a_provider_without_its_key_exits_4_naming_the_variable(
    tmp_path: Path, args: list[str], env: dict[str, str], variable: str
) -> None:
    result = agentcli(tmp_path, "run", *args, "hi", **env)
    line = assert_one_config_line(result, variable, "needs an API key")
    if "DEFAULT_MODEL" in env:
        assert "DEFAULT_MODEL=" in line  # where the spec came from: nobody typed it
    assert result.stdout == ""


def test_chat_without_a_key_exits_4_before_the_banner(tmp_path: Path) -> None:
    result = chat(tmp_path, "--agent", "anthropic:claude-haiku-4-5", stdin="hi\n")
    assert_one_config_line(result, "ANTHROPIC_API_KEY")
    assert BANNER not in result.stdout


def test_a_bad_base_url_exits_4_naming_the_variable(tmp_path: Path) -> None:
    result = agentcli(
        tmp_path,
        "run",
        "--agent",
        "anthropic:claude-haiku-4-5",
        "hi",
        ANTHROPIC_API_KEY="sk-test-key",
        ANTHROPIC_BASE_URL="not a url",
    )
    assert_one_config_line(result, "ANTHROPIC_BASE_URL")


def test_agent_switch_without_a_key_keeps_the_old_agent(tmp_path: Path) -> None:
    result = chat(tmp_path, "--agent", "echo", stdin="/agent anthropic:claude-haiku-4-5\nhello\n")
    assert result.returncode == 0, result.stderr
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert "agent anthropic:" not in result.stdout  # it never says it switched
    assert "You said: hello" in result.stdout  # the next message goes to the echo agent


def test_check_spec_accepts_what_can_work(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert check_spec("echo", settings).kind == "echo"
    assert check_spec("ollama:llama3.2", settings).kind == "ollama"  # a local server: no key
    keyed = Settings(_env_file=None, data_dir=tmp_path, OPENAI_API_KEY="sk-test")
    assert check_spec("openai:gpt-4o-mini", keyed).target == "gpt-4o-mini"
    with pytest.raises(ConfigError, match="ollama:MODEL"):  # the keyless way is offered
        check_spec("openai:gpt-4o-mini", settings)


# ---------------------------------------------------------------------- the data directory


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory this process cannot write: mode 0500, or (for root, whom modes do
    not stop) a path under a regular file."""
    if os.geteuid() == 0:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        yield blocker / "data"
        return
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
    yield directory
    directory.chmod(stat.S_IRWXU)


def test_an_unwritable_data_dir_fails_before_the_banner(
    tmp_path: Path, unwritable_dir: Path
) -> None:
    result = chat(tmp_path, stdin="hi\n", AGENTCLI_DATA_DIR=str(unwritable_dir))
    assert_one_config_line(result, str(unwritable_dir), "AGENTCLI_DATA_DIR", "--ephemeral")
    assert BANNER not in result.stdout


def test_run_with_an_unwritable_data_dir_names_the_fix(
    tmp_path: Path, unwritable_dir: Path
) -> None:
    result = agentcli(tmp_path, "run", "hi", AGENTCLI_DATA_DIR=str(unwritable_dir))
    assert_one_config_line(result, "AGENTCLI_DATA_DIR", "--ephemeral")
    ephemeral = agentcli(
        tmp_path, "run", "--ephemeral", "hi", AGENTCLI_DATA_DIR=str(unwritable_dir)
    )
    assert ephemeral.returncode == 0, ephemeral.stderr


def test_a_data_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = agentcli(tmp_path, "sessions", "list", AGENTCLI_DATA_DIR=str(blocker))
    line = assert_one_config_line(result, "not a directory", "AGENTCLI_DATA_DIR")
    assert "--ephemeral" not in line  # sessions has no such option


def test_a_database_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sessions.db").mkdir(parents=True)  # in the way, for root too
    result = chat(tmp_path, stdin="hi\n", AGENTCLI_DATA_DIR=str(data))
    assert_one_config_line(result, "sessions.db", "it is a directory", "AGENTCLI_DATA_DIR")
    assert BANNER not in result.stdout
