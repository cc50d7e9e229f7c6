"""Agent spec strings resolve through one factory with helpful errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentcli.agents import EchoAgent
from agentcli.agents.factory import create_agent, default_spec, parse_spec
from agentcli.config import load_settings
from agentcli.errors import ConfigError


def test_echo_is_built_in() -> None:
    assert isinstance(create_agent("echo"), EchoAgent)


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("openai:gpt-4o-mini", "openai"),
        ("anthropic:claude-sonnet-4-5", "anthropic"),
        ("ollama:llama3.2:3b", "ollama"),
        ("my_pkg.agents:MyAgent", "module"),
        ("./agents/mine.py:MyAgent", "file"),
    ],
)
def test_specs_parse(spec: str, kind: str) -> None:
    assert parse_spec(spec).kind == kind


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("ehco", "Did you mean 'echo'"),
        ("opnai:gpt-4o", "Did you mean 'openai:gpt-4o'"),
        ("openai:", "names no model"),
        ("", "empty agent spec"),
    ],
)
def test_bad_specs_say_what_to_do(spec: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=hint):
        parse_spec(spec)


def test_user_agent_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "from agentcli import AgentInterface, AgentResponse\n"
        "class Mine(AgentInterface):\n"
        "    async def process(self, context):\n"
        "        return AgentResponse(output='mine')\n"
    )
    agent = create_agent(f"{path}:Mine")
    assert type(agent).__name__ == "Mine"
    with pytest.raises(ConfigError, match="Did you mean 'Mine'"):
        create_agent(f"{path}:Mien")


def test_user_agent_must_subclass_the_interface(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("class NotAnAgent:\n    pass\n")
    with pytest.raises(ConfigError, match="not a subclass"):
        create_agent(f"{path}:NotAnAgent")


def test_user_agent_from_a_module() -> None:
    agent = create_agent("agentcli.agents.offline:EchoAgent")
    assert isinstance(agent, EchoAgent)


def test_default_spec_follows_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_spec(load_settings(env_file=None)) == "echo"
    monkeypatch.setenv("DEFAULT_MODEL", "gpt-4o-mini")
    assert default_spec(load_settings(env_file=None)) == "openai:gpt-4o-mini"
    monkeypatch.setenv("DEFAULT_MODEL", "claude-sonnet-4-5")
    assert default_spec(load_settings(env_file=None)) == "anthropic:claude-sonnet-4-5"
    monkeypatch.setenv("DEFAULT_MODEL", "ollama:llama3.2")
    assert default_spec(load_settings(env_file=None)) == "ollama:llama3.2"


def test_every_place_reads_the_one_provider_table() -> None:
    from agentcli.agents.offline import OFFLINE_NOTICE
    from agentcli.agents.registry import PROVIDERS, keyed_providers
    from agentcli.cli.cmd_info import agent_rows
    from agentcli.cli.slash import AGENT_SPECS

    settings = load_settings(env_file=None)
    rows = {row["spec"]: row for row in agent_rows(settings)}
    assert list(PROVIDERS) == ["openai", "anthropic", "ollama"]
    for prefix, info in PROVIDERS.items():
        assert parse_spec(info.example_spec).kind == prefix  # the factory
        assert info.example_spec in AGENT_SPECS  # the REPL's Tab completion
        assert info.example_spec in rows[f"{prefix}:MODEL"]["description"]  # agentcli agents
    for info in keyed_providers():
        assert f"set {info.key_variable}" in rows[f"{info.prefix}:MODEL"]["note"]
        assert str(info.key_variable) in OFFLINE_NOTICE
    ollama = PROVIDERS["ollama"]
    assert ollama.key_variable is None
    assert settings.ollama_base_url == ollama.default_base_url
    assert ollama.default_base_url in rows["ollama:MODEL"]["note"]


def test_an_unknown_spec_lists_every_provider() -> None:
    with pytest.raises(ConfigError, match="openai:MODEL, anthropic:MODEL, ollama:MODEL"):
        parse_spec("gpt4")
