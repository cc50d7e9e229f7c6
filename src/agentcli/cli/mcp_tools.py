"""MCP servers for provider agents: ``--mcp SPEC`` (repeatable) plus ``AGENTCLI_MCP_SERVERS``.

Provider agents take *open* toolsets. The MCP SDK's clients hold task groups, so a toolset is
entered and left by one task: ``ToolsetKeeper`` runs that task in the background, so the chat
prompt never waits for servers to start, and closes it when the command ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["ToolsetKeeper", "mcp_specs"]

CLOSE_TIMEOUT = 10.0


def mcp_specs(settings: Settings, extra: list[str]) -> list[str]:
    """The configured servers, then the ones given on the command line, without repeats."""
    return list(dict.fromkeys([*settings.mcp_servers, *extra]))


class ToolsetKeeper:
    """Opens MCP servers in one background task and keeps them open until ``close()``."""

    def __init__(self, specs: list[str]) -> None:
        self.specs = specs
        self._ready: asyncio.Future[list[Any]] | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Future[None] | None = None

    def start(self) -> None:
        if self._task is None and self.specs:
            self._ready = asyncio.get_running_loop().create_future()
            self._stop = asyncio.Event()
            self._task = asyncio.ensure_future(self._hold())

    async def sources(self) -> list[Any]:
        """The open toolsets (empty without specs); raises what opening them raised."""
        self.start()
        if self._ready is None:
            return []
        return await asyncio.shield(self._ready)

    async def _hold(self) -> None:
        from ..mcp import MCPToolset

        assert self._ready is not None
        assert self._stop is not None
        try:
            async with MCPToolset(self.specs) as toolset:
                self._ready.set_result([toolset])
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                if isinstance(exc, asyncio.CancelledError):
                    self._ready.cancel()
                else:
                    self._ready.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def close(self) -> None:
        if self._task is None or self._stop is None:
            return
        self._stop.set()
        with contextlib.suppress(Exception, asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(self._task, CLOSE_TIMEOUT)
        if self._ready is not None and self._ready.done() and not self._ready.cancelled():
            self._ready.exception()  # retrieved: no "exception was never retrieved" warning
