"""The shared state in a real Redis: turn events in streams (ids, the MAXLEN cap, an expiry on
every key, replay after Last-Event-ID, a dead replica's turn ending in ``replica_lost``,
cancels between replicas), the shared rate limit, and the event codec every replay goes
through. Two "replicas" here are two logs (or limiters) with their own Redis clients."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2 as httpx
import pytest

from agentcli.agent import (
    AgentInterface,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    TurnComplete,
)
from agentcli.cli.cmd_info import run_checks
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall
from agentcli.server.encoders.openai_chat import ChatEncoder
from agentcli.server.encoders.responses import ResponsesEncoder
from agentcli.server.errors import ApiError
from agentcli.server.event_codec import dump_event, load_event
from agentcli.server.limits import SharedRateLimiter
from agentcli.server.redis_turns import RedisTurnLog, RemoteTurn
from agentcli.server.shared import SharedRedis
from agentcli.server.sse import encode
from agentcli.server.turns import Failed, LiveTurn, Started, TurnEvent, TurnRegistry
from agentcli.session import SessionManager
from agentcli.stores.memory import MemoryStore

from ..servers.redis import RedisCluster, RedisServer
from .running import running_server, server_settings
from .serve_agents import Forever

COUNT = 30


class Counter(AgentInterface):
    """Streams ``0 1 2 ...`` (``COUNT`` pieces), with usage."""

    name = "counter"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        for i in range(COUNT):
            yield TextDelta(f"{i} ")
            await asyncio.sleep(0)
        output = "".join(f"{i} " for i in range(COUNT))
        usage = {"prompt_tokens": 7, "completion_tokens": COUNT, "tokens": COUNT + 7}
        yield TurnComplete(AgentResponse(output=output, metadata=usage))


def _manager(agent: AgentInterface) -> SessionManager:
    return SessionManager(agent, store=MemoryStore(), lease_wait=0)


@asynccontextmanager
async def _log(server: RedisServer | RedisCluster, **options: float) -> AsyncIterator[RedisTurnLog]:
    shared = SharedRedis(server.url, 2)
    log = RedisTurnLog(
        shared,
        lease_ttl=options.get("lease_ttl", 3.0),
        retention=options.get("retention", 60.0),
        max_events=int(options.get("max_events", 1000)),
    )
    try:
        yield log
    finally:
        await log.close()
        await shared.close()


async def _follow(turn: RemoteTurn | LiveTurn, after: int = 0) -> list[tuple[int, TurnEvent]]:
    return [item async for item in turn.follow(after, keepalive=5) if item is not None]


def _same(a: TurnEvent, b: TurnEvent) -> bool:
    return dump_event(a) == dump_event(b)


# ---------------------------------------------------------------------- the codec


def _story() -> list[TurnEvent]:
    call = ToolCall(id="call-1", name="lookup", arguments='{"q": "ü\\n"}')
    result = Message(
        role="tool", tool_call_id="call-1", name="lookup", content="42\n", is_error=True
    )
    metadata = {"prompt_tokens": 3, "completion_tokens": 4, "tokens": 7, "cost": 0.25}
    response = AgentResponse(
        output="é\nanswer",
        metadata=metadata,
        messages=[Message(role="assistant", tool_calls=(call,)), result],
    )
    return [
        Started("t1", "s1", "echo"),
        ToolCallEvent(call),
        ToolResultEvent(result),
        TextDelta("é\n"),
        TextDelta("answer"),
        TurnComplete(response),
    ]


def test_every_event_round_trips_and_encodes_the_same() -> None:
    events = _story()
    loaded = [load_event(dump_event(event)) for event in events]
    assert loaded == events  # dataclasses compare by value, the response and usage included
    complete = loaded[-1]
    assert isinstance(complete, TurnComplete)
    assert complete.response.usage is not None
    assert complete.response.usage.cost == 0.25
    view = LiveTurn.__new__(LiveTurn)  # only id, session_id and model are read
    view.id, view.session_id, view.model = "t1", "s1", "echo"
    chat = [
        ChatEncoder(completion_id="c", model="echo", created=1, include_usage=True) for _ in "ab"
    ]
    responses = [ResponsesEncoder(turn_id="t1", session_id="s1", model="echo") for _ in "ab"]
    for number, (original, copy) in enumerate(zip(events, loaded, strict=True), 1):
        assert encode(view, number, original) == encode(view, number, copy)
        assert chat[0].feed(original) == chat[1].feed(copy)
        assert _stable(responses[0].feed(original)) == _stable(responses[1].feed(copy))


def _stable(value: object) -> object:
    """``value`` without its ``created_at`` (the encoders' clock)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k != "created_at"}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_a_failure_round_trips_with_its_status_and_retry_after() -> None:
    error = ApiError(503, "replica_lost", "gone", "server_error", param="x", retry_after=1.5)
    loaded = load_event(dump_event(Failed(error)))
    assert isinstance(loaded, Failed)
    assert (loaded.error.status, loaded.error.code, loaded.error.message) == (
        503,
        "replica_lost",
        "gone",
    )
    assert (loaded.error.type, loaded.error.param, loaded.error.retry_after) == (
        "server_error",
        "x",
        1.5,
    )


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError, match="does not match any of the expected tags"):
        load_event(b'{"type":"nope"}')


# ---------------------------------------------------------------------- turn streams


async def _keys(log: RedisTurnLog) -> list[str]:
    found = await (await log.redis.client()).keys("agentcli:*")
    return sorted(k.decode() if isinstance(k, bytes) else k for k in found)


async def _pttl(log: RedisTurnLog, key: str) -> int:
    return int(await (await log.redis.client()).pttl(key))


async def test_events_are_in_redis_before_a_follower_sees_them(redis: RedisServer) -> None:
    async with _log(redis, retention=60) as log:
        registry = TurnRegistry(60, log=log)
        turn = registry.start(_manager(Counter()), "s1", "go", model="counter", owner="key-1")
        assert await turn.wait_until_held() is None
        seen: list[tuple[int, TurnEvent]] = []
        async for item in turn.follow(0, keepalive=5):
            assert item is not None
            number, event = item
            stored = await log.read(turn.id, number - 1, 0)
            assert stored[0][0] == number
            assert _same(stored[0][1], event)
            seen.append(item)
        await turn.wait()
        assert [n for n, _ in seen] == list(range(1, COUNT + 3))  # start, deltas, done
        client = await log.redis.client()
        entries: Any = await client.xrange(f"agentcli:turn:{{{turn.id}}}:events")
        assert [e[0] for e in entries] == [f"{n}-0".encode() for n in range(1, COUNT + 3)]
        # Ended: the heartbeat and the session's running turn are gone; the rest expires.
        record = f"agentcli:turn:{{{turn.id}}}"
        assert await _keys(log) == [record, f"{record}:events"]
        for key in (record, f"{record}:events"):
            assert 0 < await _pttl(log, key) <= 60_000
        assert (await log.state(turn.id))[:2] == ("ended", COUNT + 2)
        remote = await log.find(turn.id)
        assert remote is not None
        assert (remote.session_id, remote.model, remote.owner) == ("s1", "counter", "key-1")
        replayed = await _follow(remote, after=5)
        assert [n for n, _ in replayed] == [n for n, _ in seen[5:]]
        assert all(_same(a, b) for (_, a), (_, b) in zip(replayed, seen[5:], strict=True))
        last = replayed[-1][1]
        assert isinstance(last, TurnComplete)
        assert last.response.usage is not None
        assert last.response.usage.total_tokens == COUNT + 7


async def test_every_key_expires_while_the_turn_runs(redis: RedisServer) -> None:
    async with _log(redis, lease_ttl=3, retention=30) as log:
        registry = TurnRegistry(60, log=log)
        turn = registry.start(_manager(Forever()), "s1", "go", model="forever", owner="k")
        assert await turn.wait_until_held() is None
        async for item in turn.follow(0, keepalive=5):
            if item is not None and item[0] >= 3:
                break
        record = f"agentcli:turn:{{{turn.id}}}"
        keys = await _keys(log)
        assert keys == sorted(
            [record, f"{record}:alive", f"{record}:events", "agentcli:running:s1"]
        )
        for key in keys:  # none lives forever, whatever happens to this replica
            assert 0 < await _pttl(log, key) <= (4 + 30) * 1000
        assert 0 < await _pttl(log, f"{record}:alive") <= 4000
        assert turn.cancel()
        await turn.wait()
        assert await _keys(log) == [record, f"{record}:events"]


async def test_the_stream_is_capped_and_a_lost_start_is_said(redis: RedisServer) -> None:
    async with _log(redis, max_events=5) as log:
        registry = TurnRegistry(60, log=log)
        turn = registry.start(_manager(Counter()), "s1", "go", model="counter", owner="k")
        await turn.wait()
        last = COUNT + 2
        events_key = f"agentcli:turn:{{{turn.id}}}:events"
        assert await (await log.redis.client()).xlen(events_key) == 5
        remote = await log.find(turn.id)
        assert remote is not None
        assert remote.first == last - 4
        with pytest.raises(ApiError) as refused:
            remote.check_resumable(last - 6)
        assert (refused.value.status, refused.value.code) == (410, "events_expired")
        remote.check_resumable(last - 5)
        assert [n for n, _ in await _follow(remote, after=last - 5)] == list(
            range(last - 4, last + 1)
        )


async def test_a_dead_replicas_turn_ends_with_replica_lost(redis: RedisServer) -> None:
    ttl = 0.6
    async with _log(redis, lease_ttl=ttl) as dead, _log(redis, lease_ttl=ttl) as other:
        # What a replica leaves behind when it is killed mid-turn: a record, two events,
        # and a heartbeat nobody renews.
        turn = LiveTurn("d" * 32, "s1", "m", "k")
        await dead.open(turn)
        written: list[TurnEvent] = [Started(turn.id, "s1", "m"), TextDelta("partial")]
        batch = [(n, dump_event(e)) for n, e in enumerate(written, 1)]
        loop = asyncio.get_running_loop()
        await dead.append(turn.id, batch, end=False)
        last_sign_of_life = loop.time()
        remote = await other.find(turn.id)
        assert remote is not None
        followed = await _follow(remote, after=1)
        # A lower bound the design guarantees (the heartbeat's TTL), not a timing guess.
        assert loop.time() - last_sign_of_life >= ttl
        assert [n for n, _ in followed] == [2, 3]
        lost = followed[-1][1]
        assert isinstance(lost, Failed)
        assert lost.error.code == "replica_lost"
        assert "stopped" in lost.error.message
        # Said once, for every follower.
        again = await _follow(remote, after=0)
        assert [type(e).__name__ for _, e in again] == ["Started", "TextDelta", "Failed"]
        assert (await other.state(turn.id))[0] == "lost"
        # The dead replica, were it only stalled, writes nothing after that.
        assert await dead.append(turn.id, [(3, dump_event(TextDelta("late")))], end=False) < 0


async def test_a_turn_is_cancelled_from_another_replica(redis: RedisServer) -> None:
    async with _log(redis) as here, _log(redis) as there:
        registry = TurnRegistry(60, log=here)
        here.start(registry)
        turn = registry.start(_manager(Forever()), "s1", "go", model="forever", owner="k")
        assert await turn.wait_until_held() is None
        async for item in turn.follow(0, keepalive=5):
            if item is not None and item[0] >= 2:
                break
        assert await there.cancel_elsewhere("s1", 10) == [turn.id]
        assert turn.done
        assert turn.failure is not None
        assert turn.failure.code == "turn_cancelled"
        assert await there.cancel_elsewhere("s1", 10) == []  # nothing runs there now
        remote = await there.find(turn.id)
        assert remote is not None
        events = await _follow(remote)
        assert isinstance(events[-1][1], Failed)


# ---------------------------------------------------------------------- rate limits


async def test_two_replicas_share_one_limit(redis: RedisServer) -> None:
    clients = [SharedRedis(redis.url, 1) for _ in range(2)]
    try:
        limiters = [SharedRateLimiter(client, 4) for client in clients]
        for i in range(4):
            await limiters[i % 2].check("key-1")
        for limiter in limiters:
            with pytest.raises(ApiError) as refused:
                await limiter.check("key-1")
            assert refused.value.status == 429
            assert refused.value.retry_after is not None
            assert 0 < refused.value.retry_after <= 15  # a token every 15 s
            assert refused.value.headers()["Retry-After"] in {str(n) for n in range(1, 16)}
        await limiters[0].check("key-2")  # each key has its own bucket
        assert 0 < await (await clients[0].client()).pttl("agentcli:rate:key-1") <= 60_000
    finally:
        for client in clients:
            await client.close()


async def test_without_redis_the_limit_is_kept_here() -> None:
    from .running import free_port

    client = SharedRedis(f"redis://127.0.0.1:{free_port()}/0", 1)  # nobody listens there
    errors: list[str] = []
    try:
        limiter = SharedRateLimiter(client, 2, on_error=lambda what, exc: errors.append(what))
        await limiter.check("key-1")
        await limiter.check("key-1")
        with pytest.raises(ApiError) as refused:
            await limiter.check("key-1")
        assert refused.value.code == "rate_limited"
        assert errors
    finally:
        await client.close()


# ---------------------------------------------------------------------- readiness, doctor


def _password_url(redis: RedisServer) -> str:
    return f"redis://agent:hunter2-secret@127.0.0.1:{redis.port}/0"


def test_readiness_checks_the_shared_state(redis: RedisServer) -> None:
    settings = server_settings(redis_url=redis.url)
    with running_server(settings, agents=["echo"]) as server:
        ready = httpx.get(f"{server.url}/readiness", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["shared_state"] == "ok"
    settings = server_settings(redis_url=_password_url(redis))  # no such user there
    with running_server(settings, agents=["echo"]) as server:
        refused = httpx.get(f"{server.url}/readiness", timeout=30)
        assert refused.status_code == 503
        assert refused.json()["checks"]["shared_state"].startswith("failed: ")
        assert "hunter2" not in refused.text


def test_readiness_without_redis_has_no_shared_state_check() -> None:
    with running_server(server_settings(redis_url=None), agents=["echo"]) as server:
        assert "shared_state" not in httpx.get(f"{server.url}/readiness").json()["checks"]


def test_doctor_pings_the_shared_state_redacted(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTCLI_REDIS_URL", redis.url)
    check = next(c for c in run_checks() if c.name == "shared state")
    assert check.status == "ok", check
    monkeypatch.setenv("AGENTCLI_REDIS_URL", _password_url(redis))
    check = next(c for c in run_checks() if c.name == "shared state")
    assert check.status == "fail"
    assert "hunter2" not in check.detail
    assert "agent:****@" in check.detail
    monkeypatch.delenv("AGENTCLI_REDIS_URL")
    assert "shared state" not in {c.name for c in run_checks()}
    assert os.environ.get("AGENTCLI_REDIS_URL") is None


async def test_turns_are_shared_through_a_cluster(cluster: RedisCluster) -> None:
    async with _log(cluster) as here, _log(cluster) as there:
        registry = TurnRegistry(60, log=here)
        here.start(registry)
        done = registry.start(_manager(Counter()), "s1", "go", model="counter", owner="k")
        await done.wait()
        remote = await there.find(done.id)
        assert remote is not None
        replayed = await _follow(remote, after=3)
        assert [n for n, _ in replayed] == list(range(4, COUNT + 3))
        turn = registry.start(_manager(Forever()), "s2", "go", model="forever", owner="k")
        assert await turn.wait_until_held() is None
        async for item in turn.follow(0, keepalive=5):
            if item is not None and item[0] >= 2:
                break
        assert await there.cancel_elsewhere("s2", 10) == [turn.id]
        assert turn.failure is not None
        assert turn.failure.code == "turn_cancelled"


# ---------------------------------------------------------------------- over HTTP


def _stream_then_replay_elsewhere(settings_a: Any, settings_b: Any) -> tuple[str, httpx.Response]:
    """A turn streamed from one server, then asked of another (after its third event)."""
    from .serve_agents import ToolStreamer

    agents = {"tools": ToolStreamer()}
    with (
        running_server(settings_a, agents=agents) as a,
        running_server(settings_b, agents=agents) as b,
    ):
        streamed = httpx.post(f"{a.url}/chat/stream", json={"message": "hi"}, timeout=30)
        assert streamed.status_code == 200, streamed.text
        turn_id = streamed.headers["x-turn-id"]
        replay = httpx.get(
            f"{b.url}/chat/stream/{turn_id}", headers={"Last-Event-ID": "3"}, timeout=30
        )
        return streamed.text, replay


def test_another_server_replays_a_turn_through_redis(redis: RedisServer) -> None:
    settings = server_settings(redis_url=redis.url)
    streamed, replay = _stream_then_replay_elsewhere(settings, settings)
    assert replay.status_code == 200, replay.text
    frames = streamed.split("\n\n")
    assert replay.text.split("\n\n") == [f for f in frames if _after(f, 3)]


def _after(frame: str, number: int) -> bool:
    """An SSE event frame with an id above ``number`` (or the empty tail)."""
    for line in frame.splitlines():
        if line.startswith("id: "):
            return int(line[4:]) > number
    return frame == ""


def test_without_redis_a_turn_is_known_only_where_it_ran() -> None:
    alone = server_settings(redis_url=None)
    _, replay = _stream_then_replay_elsewhere(alone, alone)
    assert replay.status_code == 404
    assert replay.json()["error"]["code"] == "turn_not_found"
