"""Building provider agents: the factory, settings, lazy imports, clients, tool sources."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence

import pytest
from pydantic import SecretStr

from agentcli.agents.anthropic import AnthropicAgent
from agentcli.agents.factory import create_agent
from agentcli.agents.openai import OpenAIAgent
from agentcli.config import load_settings
from agentcli.errors import ConfigError, MissingDependencyError
from agentcli.messages import AgentContext
from agentcli.tools import Tool, tool

from . import fake_openai
from .fake_http import FakeServer
from .vendors import Vendor


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def context() -> AgentContext:
    return AgentContext(input="hi", session_id="s1")


def test_factory_builds_each_provider_from_settings() -> None:
    settings = load_settings(
        env_file=None,
        openai_api_key="sk-o",
        openai_base_url="http://127.0.0.1:9/v1",
        anthropic_api_key="sk-a",
        ollama_base_url="http://127.0.0.1:11434/v1",
    )

    openai_agent = create_agent("openai:gpt-4o-mini", settings, tools=[add])
    assert isinstance(openai_agent, OpenAIAgent)
    assert (openai_agent.provider, openai_agent.model) == ("openai", "gpt-4o-mini")
    assert openai_agent.base_url == "http://127.0.0.1:9/v1"
    assert openai_agent.tools == [add]
    assert openai_agent.name == "openai:gpt-4o-mini"

    anthropic_agent = create_agent("anthropic:claude-sonnet-4-6", settings)
    assert isinstance(anthropic_agent, AnthropicAgent)
    assert anthropic_agent.base_url is None  # the SDK's default endpoint

    ollama = create_agent("ollama:llama3.2", settings)
    assert isinstance(ollama, OpenAIAgent)
    assert (ollama.provider, ollama.name) == ("ollama", "ollama:llama3.2")
    assert ollama.base_url == "http://127.0.0.1:11434/v1"
    assert ollama.context_window is None  # Ollama's window is its own setting (num_ctx)


def test_base_urls_come_from_the_sdks_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:2")
    settings = load_settings(env_file=None)

    assert OpenAIAgent.from_settings("gpt-4o", settings).base_url == "http://127.0.0.1:1/v1"
    assert AnthropicAgent.from_settings("claude-sonnet-4-6", settings).base_url == (
        "http://127.0.0.1:2"
    )


def test_repr_shows_no_key() -> None:
    settings = load_settings(
        env_file=None,
        openai_api_key="sk-secret-value-123456",
        openai_base_url="http://user:pw@127.0.0.1:9/v1",
    )
    agent = OpenAIAgent.from_settings("gpt-4o-mini", settings)

    text = repr(agent)
    assert "secret-value" not in text
    assert "pw@" not in text
    assert (
        text
        == "OpenAIAgent(model='gpt-4o-mini', provider='openai', base_url='http://127.0.0.1:9/v1')"
    )


def test_importing_the_agents_does_not_import_the_sdks() -> None:
    code = (
        "import sys\n"
        "from agentcli.config import load_settings\n"
        "from agentcli.agents.factory import create_agent\n"
        "s = load_settings(env_file=None, openai_api_key='k', anthropic_api_key='k')\n"
        "create_agent('openai:gpt-4o-mini', s); create_agent('anthropic:claude-sonnet-4-6', s)\n"
        "print(sorted(m for m in ('openai', 'anthropic', 'httpx2', 'genai_prices') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


async def test_a_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # makes "import anthropic" fail
    settings = load_settings(env_file=None, anthropic_api_key="k")
    agent = AnthropicAgent("claude-sonnet-4-6", settings)  # built directly, not by the factory

    with pytest.raises(MissingDependencyError, match=r"pip install 'agentcli\[anthropic\]'"):
        await agent.process(context())


def test_duplicate_tool_names_are_a_config_error() -> None:
    settings = load_settings(env_file=None, openai_api_key="k")

    @tool(name="add")
    def other(x: int) -> int:
        """Another add."""
        return x

    with pytest.raises(ConfigError, match="two tools are named 'add'"):
        OpenAIAgent("gpt-4o-mini", settings, tools=[add, other])


async def test_ollama_needs_no_key(server: FakeServer) -> None:
    server.add(fake_openai.stream(("local",), model="llama3.2"))
    settings = load_settings(env_file=None, ollama_base_url=f"{server.url}/v1")
    agent = create_agent("ollama:llama3.2", settings)
    try:
        events = [e async for e in agent.stream_events(context())]
    finally:
        await agent.aclose()

    response = events[-1].response  # type: ignore[union-attr]
    assert response.output == "local"
    assert response.usage is not None
    assert response.usage.cost is None
    assert response.usage.cost_note is not None
    assert "no price for ollama" in response.usage.cost_note
    assert server.requests[0].headers["authorization"] == "Bearer ollama"


async def test_client_is_reused_and_closed(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.answer("1"), vendor.answer("2"), vendor.answer("3"))
    agent = vendor.agent(server)

    await agent.process(context())
    first = agent._provider._client
    await agent.process(context())
    assert agent._provider._client is first

    await agent.aclose()
    assert agent._provider._client is None
    # Usable again after closing: a new client is made.
    assert (await agent.process(context())).output == "3"


def test_an_agent_works_on_one_loop_after_another(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.answer("1"), vendor.answer("2"))
    agent = vendor.agent(server)

    async def turn() -> str:
        try:
            return (await agent.process(context())).output
        finally:
            await agent.aclose()

    # As a command line does: one asyncio.run per command, the agent closed in each.
    assert asyncio.run(turn()) == "1"
    assert asyncio.run(turn()) == "2"


class StubToolset:
    """What an open ``MCPToolset`` offers: a ``tools`` list read on every turn."""

    def __init__(self, tools: Sequence[Tool]) -> None:
        self.tools = list(tools)


async def test_tools_from_a_tool_source_are_offered(server: FakeServer, vendor: Vendor) -> None:
    source = StubToolset([add])
    server.add(vendor.answer("ok"), vendor.answer("ok"))
    settings = vendor.settings(server)
    cls = OpenAIAgent if vendor.name == "openai" else AnthropicAgent
    agent = cls(vendor.model, settings, mcp=[source])
    vendor.agents.append(agent)

    await agent.process(context())
    source.tools = []
    await agent.process(context())

    first, second = (r.json for r in server.requests)
    names = [t["function"]["name"] if "function" in t else t["name"] for t in first["tools"]]
    assert names == ["add"]
    assert "tools" not in second


def test_an_mcp_toolset_is_a_tool_source() -> None:
    from agentcli.agents.toolbox import ToolSource
    from agentcli.mcp import MCPToolset

    toolset: ToolSource = MCPToolset([])  # checked by mypy: the agent reads .tools per turn
    settings = load_settings(env_file=None, openai_api_key="k")
    agent = OpenAIAgent("gpt-4o-mini", settings, mcp=[toolset])
    assert agent.mcp == [toolset]


def test_key_from_settings_is_a_secret() -> None:
    settings = load_settings(env_file=None, anthropic_api_key="sk-ant-xyz")
    agent = AnthropicAgent.from_settings("claude-sonnet-4-6", settings)
    assert isinstance(agent._provider._key, SecretStr)
