"""A provider whose SDK extra is not installed is refused at start, or at ``/agent``, with the
install command, through the real command line.

The SDKs are installed in the test environment, so each process is started with the SDK's
entry in ``sys.modules`` set to ``None``: Python then treats it as absent (``import`` raises
``ImportError`` and ``find_spec`` finds nothing), as on a machine without the extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agentcli.cli.exits import CONFIG_ERROR

from .terminal import clean_env

LAUNCH = (
    "import sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    sys.modules[name] = None\n"
    "from agentcli.cli.entry import main\n"
    "main(sys.argv[2:])\n"
)


def without(
    tmp_path: Path, sdks: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``agentcli ARGS`` in a process where the modules named in ``sdks`` cannot be imported."""
    keys = {"OPENAI_API_KEY": "sk-test-not-used", "ANTHROPIC_API_KEY": "sk-ant-test-not-used"}
    env = clean_env(tmp_path, **keys)
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, sdks, *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["run", "--agent", "openai:gpt-4o-mini", "hi"], "openai"),
        (["run", "--agent", "anthropic:claude-haiku-4-5", "hi"], "anthropic"),
        (["chat", "--agent", "openai:gpt-4o-mini"], "openai"),
        (["serve", "--agent", "anthropic:claude-haiku-4-5", "--port", "0"], "anthropic"),
    ],
)
def test_a_missing_sdk_exits_4_with_the_install_command(
    tmp_path: Path, args: list[str], extra: str
) -> None:
    result = without(tmp_path, "openai,anthropic", *args)
    assert result.returncode == CONFIG_ERROR, result.stderr
    assert result.stderr.splitlines() == [
        f"error: the {extra} agent needs an optional extra: pip install 'agentcli[{extra}]'"
    ]
    assert result.stdout == ""  # no banner, no answer
    assert not (tmp_path / "data" / "sessions.db").exists()  # nothing was stored


def test_agent_switch_to_a_missing_sdk_keeps_the_old_agent(tmp_path: Path) -> None:
    stdin = "/agent anthropic:claude-haiku-4-5\nhello\n"
    result = without(tmp_path, "anthropic", "chat", "--agent", "echo", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "pip install 'agentcli[anthropic]'" in result.stderr
    assert "agent anthropic:" not in result.stdout  # it never says it switched
    assert "You said: hello" in result.stdout


def test_agents_that_need_no_missing_sdk_still_run(tmp_path: Path) -> None:
    result = without(tmp_path, "anthropic", "run", "--agent", "echo", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("You said: hi")
