"""A real uvicorn server on 127.0.0.1, in a thread with its own event loop, for tests.

The server is as independent of the test's client as a real one: its own loop, a real socket,
real HTTP. ``RunningServer.url`` is its base URL; ``app_state`` is its ``ServerState`` (for
checks on what the server did, never to steer it).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from agentcli.agent import AgentInterface
from agentcli.config import Settings, load_settings
from agentcli.server.app import create_app
from agentcli.server.state import ServerState
from agentcli.stores.base import SessionStore

__all__ = ["RunningServer", "free_port", "running_server", "server_settings"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_settings(**overrides: Any) -> Settings:
    """Settings for a test server: a memory store and no rate limit unless overridden."""
    values: dict[str, Any] = {"store_url": "memory://", "rate_limit_per_minute": 0}
    values.update(overrides)
    return load_settings(None, **values)


class _Server(uvicorn.Server):
    """Sets ``up`` once it listens (or gave up trying), so tests wait on an event."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.up = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.up.set()


async def _serve(server: uvicorn.Server) -> None:
    """Serve, then cancel what the app left behind (as ``asyncio.run`` does, so the loop closes
    clean: a store's lease renewer, say, sleeps until its next tick)."""
    try:
        await server.serve()
    finally:
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not current]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop

    @property
    def app_state(self) -> ServerState:
        state: ServerState = self.server.config.app.state.agentcli  # type: ignore[union-attr]
        return state

    def call(self, coro: Any) -> Any:
        """Run ``coro`` on the server's loop (to read its store, say) and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)


@contextmanager
def running_server(
    settings: Settings | None = None,
    *,
    agents: Sequence[str] | Mapping[str, AgentInterface] | None = None,
    store: SessionStore | None = None,
    **uvicorn_options: Any,
) -> Iterator[RunningServer]:
    app = create_app(settings or server_settings(), agents=agents, store=store)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **uvicorn_options
    )
    server = _Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(_serve(server),), daemon=True)
    thread.start()
    if not server.up.wait(timeout=60) or not server.started:
        thread.join(timeout=5)
        raise RuntimeError("the test server did not start")
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", server, loop)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        loop.close()
