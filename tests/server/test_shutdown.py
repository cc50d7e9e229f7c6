"""SIGTERM and SIGINT on a real ``agentcli serve`` process: drain, then exit 0.

Draining starts at once (health, readiness and new turns answer 503) while the server keeps
serving; running turns get ``AGENTCLI_SHUTDOWN_GRACE`` seconds, then are cancelled: their
streams end with an ``error`` event saying to retry, their partial answers stored interrupted.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from pathlib import Path

import httpx2 as httpx

from agentcli.messages import Message
from agentcli.stores import SQLiteStore

from .serve_agents import TICK, spec
from .serving import TIMEOUT, serve_env, served, sse_events


def _stored(data_dir: Path, session_id: str) -> list[Message]:
    async def read() -> list[Message]:
        async with SQLiteStore(data_dir / "sessions.db") as store:
            return await store.read(session_id)

    return asyncio.run(read())


def _until_draining(client: httpx.Client) -> httpx.Response:
    """``GET /health`` until it says the server is draining (the signal is handled on the
    server's loop, maybe just after a request that was already on its way)."""
    for _ in range(1000):
        response = client.get("/health")
        if response.status_code != 200:
            return response
        time.sleep(0.01)
    raise AssertionError("/health never stopped answering 200 after the signal")


def _error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_a_running_turn_finishes_while_new_ones_are_refused(tmp_path: Path) -> None:
    env = serve_env(tmp_path / "data", AGENTCLI_SHUTDOWN_GRACE="600")
    with (
        socket.create_server(("127.0.0.1", 0)) as gate,
        served(tmp_path, env, "--agent", spec("Gated")) as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as probe,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as streamer,
    ):
        gate.settimeout(TIMEOUT)
        assert probe.get("/health").status_code == 200  # this connection is kept alive
        message = str(gate.getsockname()[1])  # the agent waits on this port
        with streamer.stream("POST", "/chat/stream", json={"message": message}) as response:
            session_id = response.headers["x-session-id"]
            events = sse_events(response.iter_lines())
            assert [next(events)[0], next(events)[0]] == ["start", "delta"]
            waiting, _ = gate.accept()

            server.send(signal.SIGTERM)
            health = _until_draining(probe)
            assert health.status_code == 503
            assert _error_code(health) == "server_shutting_down"
            assert probe.get("/readiness").status_code == 503
            refused = probe.post("/chat", json={"message": "one more"})
            assert refused.status_code == 503
            assert _error_code(refused) == "server_shutting_down"
            assert refused.headers["retry-after"] == "1"
            # During the grace the listener still accepts: a new connection gets the 503s too.
            with httpx.Client(base_url=server.url, timeout=TIMEOUT) as late:
                assert late.get("/health").status_code == 503

            with waiting:
                waiting.sendall(b"!")  # the running turn may now finish
                rest = [name for name, _ in events]
        assert rest == ["delta", "done"]
        assert server.wait() == 0, server.stderr
    stored = _stored(tmp_path / "data", session_id)
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[-1].content == TICK + "opened"


def test_turns_still_running_after_the_grace_are_cancelled(tmp_path: Path) -> None:
    env = serve_env(tmp_path / "data", AGENTCLI_SHUTDOWN_GRACE="0.5")
    with (
        served(tmp_path, env, "--agent", spec("Forever")) as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as client,
        client.stream("POST", "/chat/stream", json={"message": "go"}) as response,
    ):
        session_id = response.headers["x-session-id"]
        events = sse_events(response.iter_lines())
        assert next(events)[0] == "start"
        assert next(events)[0] == "delta"
        server.send(signal.SIGTERM)
        rest = list(events)  # the stream ends by itself once the grace is over
        assert server.wait() == 0, server.stderr

    *deltas, (last, data) = rest
    assert last == "error"
    error = json.loads(data)
    assert error["error"]["code"] == "server_shutting_down"
    assert "retry" in error["error"]["message"]
    assert error["retry_after"] == 1
    assert {name for name, _ in deltas} == {"delta"}
    stored = _stored(tmp_path / "data", session_id)
    assert [(m.role, m.status) for m in stored] == [
        ("user", "complete"),
        ("assistant", "interrupted"),
    ]
    # Every text the client was sent, and nothing else, is in the stored partial answer.
    assert stored[-1].content == TICK * (len(deltas) + 1)


def test_a_second_ctrl_c_ends_the_grace_at_once(tmp_path: Path) -> None:
    env = serve_env(tmp_path / "data", AGENTCLI_SHUTDOWN_GRACE="600")
    with (
        served(tmp_path, env, "--agent", spec("Forever")) as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as probe,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as client,
        client.stream("POST", "/chat/stream", json={"message": "go"}) as response,
    ):
        events = sse_events(response.iter_lines())
        assert [next(events)[0], next(events)[0]] == ["start", "delta"]
        server.send(signal.SIGINT)
        assert _until_draining(probe).status_code == 503  # the first one was handled
        server.send(signal.SIGINT)
        last, data = list(events)[-1]
        assert last == "error"
        assert json.loads(data)["error"]["code"] == "server_shutting_down"
        assert server.wait() == 0, server.stderr
