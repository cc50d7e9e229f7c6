"""Provider agents through the command line, against a fake vendor server on 127.0.0.1 and a
real MCP server process: the key, base URL, MCP tools and cost all arrive the way a user's do."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentcli.cli.app import app
from agentcli.cli.exits import AGENT_ERROR, CONFIG_ERROR

from ..providers.fake_http import FakeServer
from ..providers.vendors import CallSpec, make_vendor

KEY = "sk-test-0123456789abcdefghijklmnopqrstuvwxyz"
MCP_SERVER = Path(__file__).parents[1] / "tools" / "mcp_server.py"
runner = CliRunner()


@pytest.fixture
def server(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    fake = FakeServer().start()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
    monkeypatch.setenv("AGENTCLI_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("AGENTCLI_MAX_RETRIES", "0")
    yield fake
    fake.stop()


def test_run_with_an_openai_agent_reports_usage_and_cost(server: FakeServer) -> None:
    vendor = make_vendor("openai", KEY)
    server.add(vendor.stream(("Hello ", "from ", "the model"), prompt=30, output=7))
    result = runner.invoke(app, ["run", "--json", "--agent", "openai:gpt-4o-mini", "hi"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["output"] == "Hello from the model"
    assert data["usage"]["input_tokens"] == 30
    assert data["usage"]["cost"] > 0
    assert KEY not in result.output


def test_mcp_tools_reach_the_model(server: FakeServer) -> None:
    vendor = make_vendor("openai", KEY)
    server.add(
        vendor.tool_calls(CallSpec("call-1", "add", {"a": 2, "b": 3}), stream=True),
        vendor.stream(("The sum is 5",)),
    )
    mcp = f"{shlex.quote(sys.executable)} {shlex.quote(str(MCP_SERVER))}"
    result = runner.invoke(app, ["run", "--agent", "openai:gpt-4o-mini", "--mcp", mcp, "2+3?"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "The sum is 5\n"
    assert "→ add" in result.stderr
    assert "← add: 5" in result.stderr
    offered = [tool["function"]["name"] for tool in server.requests[0].json["tools"]]
    assert "add" in offered


def test_a_failing_mcp_server_is_a_clear_error(server: FakeServer) -> None:
    result = runner.invoke(
        app, ["run", "--agent", "openai:gpt-4o-mini", "--mcp", "no-such-command-xyz", "hi"]
    )
    assert result.exit_code == CONFIG_ERROR
    assert "no-such-command-xyz" in result.stderr
    assert "Traceback" not in result.output


def test_mcp_is_ignored_with_a_notice_for_offline_agents(workdir: Path) -> None:
    result = runner.invoke(app, ["run", "--agent", "echo", "--mcp", "whatever", "hi"])
    assert result.exit_code == 0
    assert "--mcp is for provider agents" in result.stderr


def test_provider_failure_exits_3(server: FakeServer) -> None:
    vendor = make_vendor("openai", KEY)
    server.add(vendor.bad_key())
    result = runner.invoke(app, ["run", "--agent", "openai:gpt-4o-mini", "hi"])
    assert result.exit_code == AGENT_ERROR, result.output
    assert "Traceback" not in result.output
    assert KEY not in result.output
