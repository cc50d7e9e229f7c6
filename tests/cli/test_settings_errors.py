"""Bad settings and ``.env`` files, through the real command line in a clean environment: one
line naming the variable (or the ``.env`` line) and the fix, the configuration exit code, and
never a secret's value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentcli.cli.exits import CONFIG_ERROR, FAILED

from .terminal import clean_env

SECRET = "sk-canary-51f0e2d9c7"


def agentcli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m agentcli ARGS`` in ``tmp_path/work`` with an environment built from scratch
    (nothing from the developer's shell leaks in)."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "agentcli", *args],
        cwd=work,
        env=clean_env(tmp_path, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_config_line(result: subprocess.CompletedProcess[str], *says: str) -> str:
    """The command failed with the configuration exit code and one line saying ``says``."""
    assert result.returncode == CONFIG_ERROR, (result.stdout, result.stderr)
    line = result.stderr.strip()
    assert line.startswith("error: "), result.stderr
    assert "\n" not in line, result.stderr
    assert "internal error" not in line
    assert "Traceback" not in line
    for text in says:
        assert text in line, line
    return line


def write_env(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "work").mkdir(exist_ok=True)
    (tmp_path / "work" / ".env").write_bytes(content)


MALFORMED_LINES = {
    "no equals sign": (f"OPENAI_API_KEY {SECRET}", "no '=' after OPENAI_API_KEY"),
    "export without equals": (f"export ANTHROPIC_API_KEY {SECRET}", "after ANTHROPIC_API_KEY"),
    "unclosed quote": (f'OPENAI_API_KEY="{SECRET}', "value for OPENAI_API_KEY"),
    "a pasted secret": (f"{SECRET} (the new key)", "does not start with NAME="),
}


@pytest.mark.parametrize("command", [["run", "hi"], ["config"], ["doctor"]])
@pytest.mark.parametrize("case", sorted(MALFORMED_LINES))
def test_a_malformed_env_line_is_named_never_shown(
    tmp_path: Path, command: list[str], case: str
) -> None:
    line, says = MALFORMED_LINES[case]
    write_env(tmp_path, f"# keys\nAGENTCLI_LOG_LEVEL=ERROR\n{line}\n".encode())
    result = agentcli(tmp_path, *command)
    output = result.stdout + result.stderr
    assert SECRET not in output
    assert SECRET[3:12] not in output  # not even a piece of it
    assert "line 3" in output, output
    assert says in output, output
    assert "internal error" not in output
    assert result.returncode == (FAILED if command == ["doctor"] else CONFIG_ERROR)


@pytest.mark.parametrize("command", [["config"], ["run", "hi"]])
def test_an_env_file_that_is_not_utf8_names_the_line(tmp_path: Path, command: list[str]) -> None:
    write_env(tmp_path, b"AGENTCLI_LOG_LEVEL=ERROR\nOPENAI_API_KEY=" + SECRET.encode() + b"\xff\n")
    line = assert_one_config_line(
        agentcli(tmp_path, *command), ".env: line 2 (OPENAI_API_KEY)", "save the file as UTF-8"
    )
    assert SECRET not in line


def test_an_env_file_with_a_byte_order_mark_is_refused(tmp_path: Path) -> None:
    write_env(tmp_path, b"\xef\xbb\xbfOPENAI_API_KEY=" + SECRET.encode() + b"\n")
    line = assert_one_config_line(agentcli(tmp_path, "config"), "byte order mark")
    assert SECRET not in line


def test_a_directory_called_env_is_not_a_settings_file(tmp_path: Path) -> None:
    (tmp_path / "work" / ".env").mkdir(parents=True)  # a virtualenv, say
    assert agentcli(tmp_path, "config").returncode == 0


@pytest.mark.parametrize("value", ["not json", '{"a": 1}', "[1, 2]"])
def test_mcp_servers_must_be_a_json_list(tmp_path: Path, value: str) -> None:
    assert_one_config_line(
        agentcli(tmp_path, "config", AGENTCLI_MCP_SERVERS=value), "AGENTCLI_MCP_SERVERS"
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("~no-such-user-agentcli/x", "a user that does not exist"),
        ("", "is empty"),
        ("   ", "is empty"),
    ],
)
@pytest.mark.parametrize("command", [["config"], ["run", "hi"]])
def test_an_unusable_data_dir_is_refused(
    tmp_path: Path, value: str, says: str, command: list[str]
) -> None:
    result = agentcli(tmp_path, *command, AGENTCLI_DATA_DIR=value)
    assert_one_config_line(result, "AGENTCLI_DATA_DIR", says)
    assert list((tmp_path / "work").iterdir()) == []  # nothing made in the current directory


def test_an_empty_api_keys_file_path_is_refused(tmp_path: Path) -> None:
    result = agentcli(tmp_path, "config", AGENTCLI_API_KEYS_FILE="")
    assert_one_config_line(result, "AGENTCLI_API_KEYS_FILE", "is empty")


@pytest.mark.parametrize("timeout", ["1e400", "-1", "nan", "inf", "-inf", "1e9", "abc", ""])
def test_sqlite_timeout_is_range_checked(tmp_path: Path, timeout: str) -> None:
    url = f"sqlite:///{tmp_path}/x.db?timeout={timeout}"
    result = agentcli(tmp_path, "run", "hi", AGENTCLI_STORE_URL=url)
    assert_one_config_line(result, "AGENTCLI_STORE_URL", "timeout=", "from 0 to 3600")


def test_a_store_url_that_is_no_url_is_never_shown(tmp_path: Path) -> None:
    line = assert_one_config_line(
        agentcli(tmp_path, "config", AGENTCLI_STORE_URL=SECRET), "AGENTCLI_STORE_URL"
    )
    assert SECRET not in line


def test_cleanup_target_above_threshold_names_both_variables(tmp_path: Path) -> None:
    result = agentcli(tmp_path, "config", AGENTCLI_CLEANUP_TARGET="0.95")
    line = assert_one_config_line(
        result, "AGENTCLI_CLEANUP_TARGET", "AGENTCLI_CLEANUP_THRESHOLD", "lower the target"
    )
    assert "AGENTCLI_SETTINGS" not in line


# One bad value of each kind through the real command; tests/test_settings_sweep.py tries
# every setting with many values in-process.
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AGENTCLI_SESSION_TTL", "1e400"),
        ("AGENTCLI_REQUEST_TIMEOUT", "inf"),
        ("AGENTCLI_MAX_RETRIES", "-1"),
        ("AGENTCLI_ANTHROPIC_PROMPT_CACHE", "abc"),
        ("AGENTCLI_LOG_LEVEL", ""),
        ("OPENAI_BASE_URL", "abc"),
        ("AGENTCLI_CORS_ORIGINS", "nan"),
        ("AGENTCLI_REDIS_URL", "redis://127.0.0.1/0?socket_timeout=-1"),
    ],
)
def test_each_kind_of_bad_setting_is_one_line(tmp_path: Path, variable: str, value: str) -> None:
    assert_one_config_line(agentcli(tmp_path, "config", **{variable: value}), variable)
