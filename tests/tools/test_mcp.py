"""MCP tools against a real MCP server process (tests/tools/mcp_server.py), stdio and HTTP."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcli.errors import ConfigError, MissingDependencyError
from agentcli.mcp import MCPServerSpec, MCPToolset, parse_mcp_spec
from agentcli.messages import ToolCall
from agentcli.tools import run_tool_calls, tools_by_name

SERVER = Path(__file__).with_name("mcp_server.py")
PYTHON = shlex.quote(sys.executable)
STDIO = f"{PYTHON} {shlex.quote(str(SERVER))}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A streamable HTTP MCP server on 127.0.0.1, for the whole module."""
    port = free_port()
    log = tmp_path_factory.mktemp("mcp") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(port)], stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"MCP test server exited early:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"MCP test server did not listen:\n{log.read_text()}")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(params=["stdio", "http"])
def spec(request: pytest.FixtureRequest) -> str:
    if request.param == "stdio":
        return STDIO
    url: str = request.getfixturevalue("http_url")
    return url


def call(name: str, arguments: str = "{}", call_id: str | None = None) -> ToolCall:
    return ToolCall(id=call_id or f"call_{name}", name=name, arguments=arguments)


# ----------------------------------------------------------------------------- specs


def test_parse_specs() -> None:
    stdio = parse_mcp_spec("  uvx 'my server' --flag=1 ")
    assert (stdio.kind, stdio.argv) == ("stdio", ("uvx", "my server", "--flag=1"))
    assert stdio.label == "uvx 'my server' --flag=1"
    http = parse_mcp_spec("HTTPS://user:secret@example.test:8443/mcp?token=abc")
    assert (http.kind, http.url) == ("http", "HTTPS://user:secret@example.test:8443/mcp?token=abc")
    assert http.label == "https://example.test:8443/mcp"  # no credentials in error messages
    assert parse_mcp_spec("http://127.0.0.1:1/mcp") == MCPServerSpec(
        "http", "http://127.0.0.1:1/mcp", url="http://127.0.0.1:1/mcp"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty MCP server spec"), ("python 'open", "cannot split"), ("http:///mcp", "no host")],
)
def test_bad_specs(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_mcp_spec(text)


async def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # makes "import mcp" fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'agentcli\[mcp\]'"):
        async with MCPToolset([STDIO]):
            pass


# ----------------------------------------------------------------------------- a real server


async def test_lists_and_calls_tools(spec: str) -> None:
    async with MCPToolset([spec]) as toolset:
        tools = tools_by_name(toolset.tools)
        assert set(tools) == {
            "add",
            "echo",
            "fail",
            "crash",
            "sleep",
            "meet",
            "die",
            "files_read-all",
        }
        add = tools["add"]
        assert add.description == "Add two integers."
        assert add.parameters["type"] == "object"
        assert add.parameters["required"] == ["a", "b"]
        assert add.openai_schema()["function"]["name"] == "add"
        assert add.anthropic_schema()["input_schema"] is add.parameters

        assert await add.call('{"a": 2, "b": 40}') == "42"
        results = await run_tool_calls(
            tools,
            [
                call("echo", '{"text": "h\\u00e9llo\\u0000"}'),
                call("fail", '{"message": "disk full"}'),
                call("crash"),
                call("add", '{"a": "two"}', "bad_args"),
                call("files_read-all"),
                call("echo", '{"text": "error: only text"}', "echo_error"),
            ],
        )
        contents = [m.content for m in results]
        assert contents[0] == "h\u00e9llo\ufffd"
        # The server's error results keep their text, and carry the flag.
        assert contents[1] == "Error executing tool fail: disk full"
        # The SDK hides an unexpected exception's text from the client.
        assert contents[2] == "Error executing tool crash"
        assert contents[3].startswith("Error executing tool add: ")
        assert "validation error" in contents[3]
        assert contents[4] == "contents"  # called by its name on the server, "files.read-all"
        assert contents[5] == "error: only text"  # an output, not a failure
        assert [m.is_error for m in results] == [False, True, True, True, False, False]


async def test_parallel_calls_timeouts_and_closing(spec: str) -> None:
    async with MCPToolset([spec]) as toolset:
        tools = tools_by_name(toolset.tools)
        # Both calls return "met" only if the server ran them at the same time.
        met = await run_tool_calls(tools, [call("meet", call_id="1"), call("meet", call_id="2")])
        assert [m.content for m in met] == ["met", "met"]

        (slow,) = await run_tool_calls(tools, [call("sleep", '{"seconds": 30}')], timeout=0.2)
        assert slow.content == "tool 'sleep' did not finish within 0.2 s"
        assert slow.is_error
        # The abandoned call did not break the connection.
        (after,) = await run_tool_calls(tools, [call("echo", '{"text": "still here"}')])
        assert after.content == "still here"
        assert not after.is_error
    assert toolset.tools == []
    (closed,) = await run_tool_calls(tools, [call("echo", '{"text": "gone"}')])
    assert closed.content.startswith("MCP server ")
    assert "is not connected" in closed.content
    assert closed.is_error


async def test_name_clash_is_an_error_unless_prefixed(http_url: str) -> None:
    with pytest.raises(ConfigError, match=r"two MCP tools are named 'add'.*prefix=True"):
        async with MCPToolset([http_url, http_url]):
            pass
    async with MCPToolset([http_url, http_url], prefix=True) as toolset:
        names = {t.name for t in toolset.tools}
        assert {"agentcli-test__add", "agentcli-test_2__add"} <= names
        tools = tools_by_name(toolset.tools)
        (result,) = await run_tool_calls(tools, [call("agentcli-test_2__add", '{"a": 1, "b": 1}')])
        assert result.content == "2"


# ----------------------------------------------------------------------------- failing servers


async def test_a_server_that_dies_mid_session_gives_error_results() -> None:
    async with MCPToolset([STDIO]) as toolset:
        tools = tools_by_name(toolset.tools)
        (died,) = await run_tool_calls(tools, [call("die")], timeout=10)
        assert died.content == f"MCP server {STDIO} failed: Connection closed"
        assert died.is_error
        (after,) = await run_tool_calls(tools, [call("add", '{"a": 1, "b": 2}')], timeout=10)
        assert after.content.startswith("MCP server ")
        assert after.is_error


async def test_command_not_found() -> None:
    with pytest.raises(ConfigError, match="command 'agentcli-no-such-command' not found"):
        async with MCPToolset(["agentcli-no-such-command --stdio"]):
            pass


async def test_server_that_exits_shows_its_stderr() -> None:
    script = "import sys; print('config file missing: ~/.srv', file=sys.stderr); sys.exit(2)"
    command = f"{PYTHON} -c {shlex.quote(script)}"
    with pytest.raises(ConfigError) as caught:
        async with MCPToolset([command]):
            pass
    message = str(caught.value)
    assert message.startswith(f"MCP server {command!r} could not be started: ")
    assert message.endswith("its stderr ended with:\nconfig file missing: ~/.srv")


async def test_server_that_never_answers_times_out() -> None:
    # Reads its stdin and says nothing; it exits once the client closes stdin.
    command = f"{PYTHON} -c {shlex.quote('import sys; sys.stdin.read()')}"
    with pytest.raises(ConfigError, match=r"could not be started: no answer within 0\.3 s"):
        async with MCPToolset([command], connect_timeout=0.3):
            pass


async def test_unreachable_http_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with pytest.raises(ConfigError, match="could not be reached: ConnectError"):
        async with MCPToolset([url], connect_timeout=5):
            pass
