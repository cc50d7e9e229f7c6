"""A real MCP server for the tests, built with the ``mcp`` SDK.

``python mcp_server.py`` serves over stdio; ``--port N`` serves streamable HTTP on 127.0.0.1.
``--name`` sets the server's name (the prefix of its tools with ``prefix=True``).
"""

from __future__ import annotations

import argparse
import asyncio
import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError


def build(name: str) -> MCPServer:
    app: MCPServer = MCPServer(name, log_level="WARNING")
    waiting: list[asyncio.Event] = []

    @app.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @app.tool()
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @app.tool()
    def fail(message: str) -> str:
        """Fail with the given message."""
        raise ToolError(message)

    @app.tool()
    def crash() -> str:
        """Raise an unexpected exception."""
        raise RuntimeError("internal detail")

    @app.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, then say so."""
        await asyncio.sleep(seconds)
        return "slept"

    @app.tool()
    async def meet() -> str:
        """Return 'met' once a second call is running at the same time (else 'alone')."""
        # Proves concurrency without a clock: two calls only meet if both run at once.
        if waiting:
            waiting.pop().set()
            return "met"
        arrived = asyncio.Event()
        waiting.append(arrived)
        try:
            await asyncio.wait_for(arrived.wait(), 10)
        except TimeoutError:
            return "alone"
        return "met"

    @app.tool()
    def die() -> str:
        """End the server process at once, as a crash would."""
        os._exit(1)

    @app.tool(name="files.read-all")
    def read_all() -> str:
        """A name with a dot, which model APIs do not accept."""
        return "contents"

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    parser.add_argument("--name", default="agentcli-test")
    options = parser.parse_args()
    app = build(options.name)
    if options.port is None:
        app.run()
    else:
        app.run("streamable-http", host="127.0.0.1", port=options.port)


if __name__ == "__main__":
    main()
