"""Three ``agentcli serve`` replicas on one store, as behind a load balancer: on Redis, then on
PostgreSQL with Redis for the shared state. A client that sends each request to a different
replica gets one continuous conversation (cleanup applied once); a session is busy on every
replica; a turn followed after its replica was killed resumes elsewhere and ends with
``replica_lost``; a cancel works from any replica; the replicas together keep one rate
limit. Every replica is a real process; the clients speak real HTTP over loopback."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx

from agentcli.config import load_settings
from agentcli.session import SessionManager
from agentcli.stores.memory import MemoryStore

from ..servers.redis import RedisServer
from .serve_agents import TICK, Recall, spec
from .serving import TIMEOUT, Served, serve_env, sse_events

KEYS = {name: f"test-key-{name * 24}" for name in "abcd"}
RATE = 30  # requests a minute per key
WINDOW = 200  # tokens: the conversation below needs cleanup twice
LEASE_TTL = 2.0
RECALL, FOREVER = spec("Recall"), spec("Forever")


@contextmanager
def replicas(tmp_path: Path, count: int, **env: str) -> Iterator[list[Served]]:
    """``count`` replicas of ``agentcli serve`` on the store ``env`` names, started at once."""
    environment = serve_env(
        tmp_path / "data",
        AGENTCLI_API_KEYS=",".join(KEYS.values()),
        AGENTCLI_RATE_LIMIT_PER_MINUTE=str(RATE),
        AGENTCLI_CONTEXT_WINDOW=str(WINDOW),
        AGENTCLI_LEASE_TTL=str(LEASE_TTL),
        AGENTCLI_SSE_KEEPALIVE="1",
        **env,
    )
    command = [sys.executable, "-m", "agentcli", "serve", "--port", "0"]
    command += ["--agent", RECALL, "--agent", FOREVER]
    processes = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    try:
        yield [Served(process) for process in processes]  # each waits for its startup line
    finally:
        for process in processes:
            kill(process)
            assert process.stderr is not None
            process.stderr.close()


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL, as a crashed machine: no drain, no goodbye to Redis."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=TIMEOUT)


def client(server: Served, key: str = "a") -> httpx.Client:
    auth = {"Authorization": f"Bearer {KEYS[key]}"}
    return httpx.Client(base_url=server.url, headers=auth, timeout=TIMEOUT)


# ---------------------------------------------------------------------- the scenarios


def _reference(inputs: list[str]) -> list[tuple[str, int, int]]:
    """(answer, trimmed, window_start) of each turn, as one process with one store gives."""
    settings = load_settings(None, context_window=WINDOW, store_url="memory://")

    async def run() -> list[tuple[str, int, int]]:
        store = MemoryStore()
        manager = SessionManager.from_settings(Recall(), settings, store=store)
        out = []
        for text in inputs:
            response = await manager.chat("s", text)
            info = await store.info("s")
            assert info is not None
            trimmed = response.cleanup.trimmed if response.cleanup else 0
            out.append((response.output, trimmed, info.window_start))
        return out

    return asyncio.run(run())


def one_conversation_across_replicas(servers: list[Served]) -> None:
    inputs = [f"turn {k}: " + "lorem ipsum dolor sit amet " * 3 for k in range(1, 8)]
    expected = _reference(inputs)
    assert sum(1 for _, trimmed, _ in expected if trimmed) >= 2  # cleanup is needed, twice
    clients = [client(server) for server in servers]
    session_id, got = None, []
    for k, text in enumerate(inputs):
        body: dict[str, Any] = {"message": text, "model": RECALL, "session_id": session_id}
        answer = clients[k % 3].post("/chat", json=body)
        assert answer.status_code == 200, (answer.text, [s.stderr for s in servers])
        result = answer.json()
        session_id = result["session_id"]
        transcript = clients[(k + 1) % 3].get(f"/sessions/{session_id}").json()
        trimmed = result["cleanup"]["trimmed"] if result["cleanup"] else 0
        got.append((result["output"], trimmed, transcript["window_start"]))
    # Each answer saw exactly the window one process would have kept: every earlier turn
    # until cleanup, then only what it kept. The window moved once per cleanup, by what that
    # cleanup trimmed; no replica trimmed again from a stale window of its own.
    assert got == expected
    assert got[-1][2] == 1 + sum(trimmed for _, trimmed, _ in got)
    for c in clients:
        c.close()


def a_busy_session_is_busy_everywhere(servers: list[Served]) -> None:
    body = {"message": "go", "model": FOREVER, "session_id": "busy-1"}
    start, answered = threading.Barrier(2, timeout=TIMEOUT), threading.Barrier(2, timeout=TIMEOUT)

    def send(server: Served) -> tuple[int, str]:
        with client(server, "c") as c:
            start.wait()
            with c.stream("POST", "/chat/stream", json=body) as response:
                # A 200 comes once the turn holds the session; it keeps it (and its stream
                # stays open) until the other request has its answer too.
                answered.wait()
                if response.status_code != 200:
                    response.read()
                    return response.status_code, response.json()["error"]["code"]
                return 200, ""  # the stream closes: the turn is cancelled, its partial kept

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(send, servers[:2]))
    assert outcomes == [(200, ""), (409, "session_busy")]


def a_cancel_works_from_any_replica(servers: list[Served]) -> None:
    with client(servers[0], "c") as here, client(servers[1], "c") as there:
        body = {"message": "go", "model": FOREVER, "on_disconnect": "continue"}
        with here.stream("POST", "/chat/stream", json=body) as stream:
            session_id = stream.headers["x-session-id"]
            turn_id = stream.headers["x-turn-id"]
            events = sse_events(stream.iter_lines())
            assert next(events)[0] == "start"
            assert next(events)[0] == "delta"
            cancelled = there.post(f"/sessions/{session_id}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            assert cancelled.json() == {
                "session_id": session_id,
                "cancelled": True,
                "turn_ids": [turn_id],
            }
            last = [event for event in events][-1]  # the stream ends: the turn was cancelled
        assert last[0] == "error"
        assert json.loads(last[1])["error"]["code"] == "turn_cancelled"
        assert there.post(f"/sessions/{session_id}/cancel").json()["cancelled"] is False


def the_replicas_share_one_rate_limit(servers: list[Served]) -> None:
    clients = [client(server, "b") for server in servers]
    statuses = []
    started = _now()
    for i in range(RATE * 2):
        response = clients[i % 3].get("/v1/models")
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "rate_limited"
            assert int(response.headers["retry-after"]) >= 1
    elapsed = _now() - started
    allowed = statuses.count(200)
    # The limit, plus what refilled meanwhile (one request every 60/RATE seconds): never
    # each replica's own limit (3 x RATE would have allowed all of them).
    assert RATE <= allowed <= RATE + 1 + int(elapsed * RATE / 60)
    assert statuses.count(429) == RATE * 2 - allowed
    for c in clients:
        c.close()


def _now() -> float:
    import time

    return time.monotonic()


def a_dead_replicas_turn_resumes_elsewhere(servers: list[Served], victim: Served) -> None:
    """``victim`` runs a turn and is killed mid-stream; the client resumes on another."""
    body = {"message": "go", "model": FOREVER, "on_disconnect": "continue"}
    seen: list[tuple[int, str]] = []
    with client(victim, "d") as c, c.stream("POST", "/chat/stream", json=body) as stream:
        session_id, turn_id = stream.headers["x-session-id"], stream.headers["x-turn-id"]
        number = 0
        for line in stream.iter_lines():
            if line.startswith("id: "):
                number = int(line[4:])
            elif line.startswith("event: "):
                seen.append((number, line[7:]))
                if number >= 5:
                    break
        kill(victim.process)
    last = seen[-1][0]
    with client(servers[0], "d") as c:
        resumed = c.get(f"/chat/stream/{turn_id}", headers={"Last-Event-ID": str(last)})
        assert resumed.status_code == 200, resumed.text
        frames = _frames(resumed.text)
        # Every event after the last one seen, in order, then the news: nothing lost.
        assert [n for n, _, _ in frames] == list(range(last + 1, last + 1 + len(frames)))
        assert all(e == "delta" and json.loads(d) == {"text": TICK} for _, e, d in frames[:-1])
        event, data = frames[-1][1], json.loads(frames[-1][2])
        assert event == "error"
        assert data["error"]["code"] == "replica_lost"
        assert "stopped" in data["error"]["message"]
        # By then the session's lease had lapsed too: the turn can be retried at once.
        retry = c.post(
            "/chat", json={"message": "again", "model": RECALL, "session_id": session_id}
        )
        assert retry.status_code == 200, retry.text
    with client(servers[1], "d") as c:  # and any replica tells the same story
        again = c.get(f"/chat/stream/{turn_id}", headers={"Last-Event-ID": str(last)})
        assert _frames(again.text) == frames


def _frames(text: str) -> list[tuple[int, str, str]]:
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            out.append((int(fields["id"]), fields["event"], fields["data"]))
    return out


def _all_scenarios(servers: list[Served]) -> None:
    one_conversation_across_replicas(servers)
    a_busy_session_is_busy_everywhere(servers)
    a_cancel_works_from_any_replica(servers)
    the_replicas_share_one_rate_limit(servers)
    a_dead_replicas_turn_resumes_elsewhere(servers[:2], servers[2])


# ---------------------------------------------------------------------- the stores


def test_three_replicas_on_one_redis(tmp_path: Path, redis: RedisServer) -> None:
    with replicas(tmp_path, 3, AGENTCLI_STORE_URL=redis.url) as servers:
        _all_scenarios(servers)


def test_three_replicas_on_postgresql_with_redis(
    tmp_path: Path, postgres_url: str, redis: RedisServer
) -> None:
    from agentcli.stores.postgres import upgrade_schema

    asyncio.run(upgrade_schema(postgres_url))
    env = {"AGENTCLI_STORE_URL": postgres_url, "AGENTCLI_REDIS_URL": redis.url}
    with replicas(tmp_path, 3, **env) as servers:
        _all_scenarios(servers)
