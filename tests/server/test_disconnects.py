"""100 streaming clients going away at random points of a turn with a tool round.

Whatever the point, the store must hold whole tool units only (a call with all its results, no
result without its call), every partial answer marked ``interrupted``, and no turn left running.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Collection, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2 as httpx

from agentcli.messages import Message
from agentcli.server.state import ServerState
from agentcli.stores import MemoryStore

from .running import RunningServer, running_server, server_settings
from .serve_agents import TOOL_ANSWER, TOOL_TEXTS, ToolStreamer

CLIENTS = 100
T = TypeVar("T")
SEED = 20_261_124
# start, tool_call, tool_result, one delta per text, done
EVENTS = 3 + len(TOOL_TEXTS) + 1


@dataclass
class Client:
    stop_after: int  # events read before going away (EVENTS: the whole stream)
    session_id: str = ""
    seen: tuple[str, ...] = ()


async def _frames(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    event = ""
    async for line in lines:
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif not line and event:
            yield event
            event = ""


async def _run(http: httpx.AsyncClient, client: Client) -> None:
    seen: list[str] = []
    async with http.stream("POST", "/chat/stream", json={"message": "go"}) as response:
        assert response.status_code == 200
        client.session_id = response.headers["x-session-id"]
        if client.stop_after:
            async for event in _frames(response.aiter_lines()):
                seen.append(event)
                if len(seen) == client.stop_after:
                    break
    # Leaving the block before the end of the stream drops the connection.
    client.seen = tuple(seen)


async def _settle(state: ServerState, session_ids: Collection[str] | None = None) -> None:
    """Until no turn runs (of ``session_ids``, if given): each one notices its client left at
    its next write, a keep-alive at the latest."""
    while running := [
        t for t in state.turns.running() if session_ids is None or t.session_id in session_ids
    ]:
        await asyncio.wait([t.task for t in running if t.task is not None])


async def _on_server(server: RunningServer, coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the server's loop without blocking this one (clients still read)."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, server.loop))


async def _open(gate: asyncio.Event) -> None:
    gate.set()


def _check_units(messages: list[Message]) -> None:
    """Each assistant message with tool calls is followed by the results of exactly those
    calls; no tool result stands anywhere else."""
    index = 0
    while index < len(messages):
        message = messages[index]
        assert message.role != "tool", f"a tool result without its call: {messages}"
        if message.tool_calls:
            wanted = {call.id for call in message.tool_calls}
            results = messages[index + 1 : index + 1 + len(wanted)]
            assert {r.tool_call_id for r in results if r.role == "tool"} == wanted, messages
            index += len(wanted)
        index += 1


def _check_session(client: Client, messages: list[Message]) -> str:
    """The checks of one client's session; returns its answer's status."""
    _check_units(messages)
    assert [m.role for m in messages if m.role == "user"] == ["user"]
    if messages[-1].role == "user":  # gone before the agent said or did anything: no answer
        assert "tool_result" not in client.seen
        assert "delta" not in client.seen
        return "unanswered"
    answer = messages[-1]
    assert answer.role == "assistant"
    assert not answer.tool_calls
    assert [m for m in messages if m.role == "assistant" and not m.tool_calls] == [answer]
    if answer.content != TOOL_ANSWER:
        assert answer.status == "interrupted", messages
        assert TOOL_ANSWER.startswith(answer.content)
    else:
        # The whole answer: complete, or interrupted in the instant before it was done.
        assert answer.status in {"complete", "interrupted"}
    if "done" in client.seen:
        assert answer.status == "complete"
    if "tool_result" in client.seen:
        assert any(m.tool_calls for m in messages), "a finished tool round was not stored"
    return answer.status


async def test_clients_leaving_at_random_points_leave_whole_units() -> None:
    rng = random.Random(SEED)  # noqa: S311 - test data, not a secret
    clients = [Client(stop_after=rng.randint(0, EVENTS)) for _ in range(CLIENTS)]
    # Those that leave before the tool's result (after start and tool_call at most) do so while
    # the tool runs; it ends once the server has seen them go (its keep-alives, every 50 ms,
    # fail), so some sessions surely end before their tool round, whatever the machine's load.
    early = [client for client in clients if client.stop_after <= 2]
    store = MemoryStore()
    gate = asyncio.Event()
    settings = server_settings(sse_keepalive=0.05)
    with running_server(settings, agents={"tools": ToolStreamer(gate)}, store=store) as server:
        state = server.app_state
        limits = httpx.Limits(max_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
            rest = [asyncio.create_task(_run(http, c)) for c in clients if c not in early]
            await asyncio.gather(*(_run(http, client) for client in early))
            gone = {client.session_id for client in early}
            await _on_server(server, asyncio.wait_for(_settle(state, gone), 60))
            await _on_server(server, _open(gate))
            await asyncio.gather(*rest)
        server.call(asyncio.wait_for(_settle(state), 60))
        assert state.turns.running() == []
        stored = {c.session_id: server.call(store.read(c.session_id)) for c in clients}

    assert len(stored) == CLIENTS
    statuses = [_check_session(c, stored[c.session_id]) for c in clients]
    # The run really covered both ends: turns cut short, and turns seen through to the end.
    assert statuses.count("interrupted") >= 20
    assert statuses.count("complete") >= 3
    assert len(early) >= 5
    assert all(not any(m.tool_calls for m in stored[c.session_id]) for c in early)
