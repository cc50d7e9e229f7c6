"""``agentcli serve`` checks its agents before it starts, as ``chat`` does: an agent without its
API key exits 4 with one line naming the variable to set, before the store is opened or a port
bound (the refusal of an exposed address without keys still comes first)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from agentcli.cli.exits import CONFIG_ERROR

from .serving import run_serve, serve_env, served

NO_PROVIDER = "http://127.0.0.1:9/v1"  # nothing is contacted at startup; never the internet


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "says", "variable"),
    [
        (
            [],
            {"DEFAULT_MODEL": "openai:gpt-4o-mini"},
            "DEFAULT_MODEL=openai:gpt-4o-mini: openai:gpt-4o-mini needs an API key",
            "OPENAI_API_KEY",
        ),
        ([], {"DEFAULT_MODEL": "gpt-4o-mini"}, "DEFAULT_MODEL=gpt-4o-mini: ", "OPENAI_API_KEY"),
        (
            ["--agent", "echo", "--agent", "anthropic:claude-sonnet-4-5"],
            {},
            "error: anthropic:claude-sonnet-4-5 needs an API key",
            "ANTHROPIC_API_KEY",
        ),
        (
            [],
            {"AGENTCLI_SUMMARY_AGENT": "openai:gpt-4o-mini"},
            "AGENTCLI_SUMMARY_AGENT=openai:gpt-4o-mini: openai:gpt-4o-mini needs an API key",
            "OPENAI_API_KEY",
        ),
    ],
)
def test_an_agent_without_its_key_stops_serve_before_it_listens(
    tmp_path: Path, args: list[str], env: dict[str, str], says: str, variable: str
) -> None:
    data = tmp_path / "data"
    with socket.socket() as taken:  # had serve got as far as binding, it would say so
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_serve(tmp_path, serve_env(data, **env), "--port", port, *args)
    assert result.returncode == CONFIG_ERROR, result.stderr
    line = _one_line(result.stderr)
    assert says in line
    assert f"set {variable} in the environment" in line
    assert "cannot listen" not in line
    assert "listening on" not in result.stderr
    assert not data.exists()  # the store was never opened
    assert result.stdout == ""


def test_the_exposure_refusal_still_comes_first(tmp_path: Path) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - that it is refused is the test
    env = serve_env(tmp_path / "data", DEFAULT_MODEL="openai:gpt-4o-mini")
    result = run_serve(tmp_path, env, "--port", "0", "--host", everywhere)
    assert result.returncode == CONFIG_ERROR
    line = _one_line(result.stderr)
    assert "refusing to listen on 0.0.0.0 without API keys" in line
    assert "OPENAI_API_KEY" not in line


def test_the_agent_is_checked_before_the_store(tmp_path: Path) -> None:
    """A data directory that cannot be made is not what is reported: the missing key is."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = serve_env(blocker / "data", DEFAULT_MODEL="openai:gpt-4o-mini")
    result = run_serve(tmp_path, env, "--port", "0")
    assert result.returncode == CONFIG_ERROR
    assert "set OPENAI_API_KEY" in _one_line(result.stderr)


@pytest.mark.parametrize(
    ("env", "model"),
    [
        (
            {
                "DEFAULT_MODEL": "openai:gpt-4o-mini",
                "OPENAI_API_KEY": "sk-test-not-a-real-key",
                "OPENAI_BASE_URL": NO_PROVIDER,
            },
            "openai:gpt-4o-mini",
        ),
        ({"DEFAULT_MODEL": "ollama:llama3.2", "OLLAMA_BASE_URL": NO_PROVIDER}, "ollama:llama3.2"),
    ],
)
def test_an_agent_with_what_it_needs_is_served(
    tmp_path: Path, env: dict[str, str], model: str
) -> None:
    with served(tmp_path, serve_env(tmp_path / "data", **env), "--ephemeral") as server:
        assert f"models: {model};" in server.startup_line
        server.send(signal.SIGTERM)
        assert server.wait() == 0
    assert "sk-test-not-a-real-key" not in server.stderr
