"""Cost budgets over real HTTP: an API key's daily budget and a session's budget refuse a turn
with 402 and OpenAI's error body before anything is stored, on every turn endpoint, and a key's
budget is one budget for every replica on a shared (Redis) store."""

from __future__ import annotations

import httpx2 as httpx

from agentcli.config import Settings
from agentcli.stores.base import session_scope

from ..servers.redis import RedisServer
from .running import RunningServer, running_server, server_settings
from .support import PRICE, priced_agents

KEY_A = "key-a-0123456789abcdefghij"
KEY_B = "key-b-0123456789abcdefghij"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _refused(response: httpx.Response, *fragments: str) -> None:
    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == "budget_exceeded"
    assert error["type"] == "insufficient_quota"
    for fragment in fragments:
        assert fragment in error["message"], error["message"]


def _key_settings(**overrides: object) -> Settings:
    return server_settings(api_keys=f"{KEY_A},{KEY_B}", max_key_cost_per_day=1.0, **overrides)


def _sessions_of(server: RunningServer, key: str) -> list[str]:
    listed = httpx.get(f"{server.url}/sessions", headers=_auth(key), timeout=30)
    assert listed.status_code == 200, listed.text
    return sorted(s["id"] for s in listed.json()["sessions"])


def test_a_key_over_its_daily_budget_gets_402_on_every_turn_endpoint() -> None:
    with (
        running_server(_key_settings(), agents=priced_agents()) as server,
        httpx.Client(base_url=server.url, headers=_auth(KEY_A), timeout=30) as client,
    ):
        for _ in range(2):  # $0 then $0.60 spent: both under the $1 budget
            assert client.post("/chat", json={"message": "hi"}).status_code == 200
        kept = _sessions_of(server, KEY_A)
        refused = client.post("/chat", json={"message": "hi", "session_id": "new-one"})
        _refused(refused, "API key's daily cost budget", "$1.20 of $1.00", "00:00 UTC")
        assert 1 <= int(refused.headers["retry-after"]) <= 86_400  # until midnight, UTC
        _refused(client.post("/chat/stream", json={"message": "hi"}))  # a status, not SSE
        completion = {"model": "priced", "messages": [{"role": "user", "content": "hi"}]}
        _refused(client.post("/v1/chat/completions", json=completion))
        _refused(client.post("/v1/chat/completions", json={**completion, "stream": True}))
        _refused(client.post("/v1/responses", json={"model": "priced", "input": "hi"}))
        assert _sessions_of(server, KEY_A) == kept  # nothing was stored for a refused turn
        # Another key has its own budget.
        other = client.post("/chat", json={"message": "hi"}, headers=_auth(KEY_B))
        assert other.status_code == 200, other.text


def test_a_session_over_its_budget_gets_402_and_other_sessions_run() -> None:
    settings = server_settings(max_session_cost=0.5)
    with (
        running_server(settings, agents=priced_agents()) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        first = client.post("/chat", json={"message": "hi", "session_id": "s1"})
        assert first.status_code == 200, first.text
        spent = server.call(server.app_state.store.get_spend(session_scope("s1")))
        assert spent == PRICE
        again = client.post("/chat/stream", json={"message": "hi", "session_id": "s1"})
        _refused(again, "session's cost budget (session 's1')", "$0.60 of $0.50")
        _refused(client.post("/chat", json={"message": "hi", "session_id": "s1"}))
        messages = client.get("/sessions/s1").json()["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]  # nothing half-written
        assert client.post("/chat", json={"message": "hi", "session_id": "s2"}).status_code == 200


def test_the_key_budget_is_shared_by_two_servers_on_one_redis(redis: RedisServer) -> None:
    settings = _key_settings(store_url=redis.url)
    with (
        running_server(settings, agents=priced_agents()) as a,
        running_server(settings, agents=priced_agents()) as b,
    ):
        for server in (a, b):  # $0.60 on each: $1.20 together, over the $1 budget
            turn = httpx.post(
                f"{server.url}/chat", json={"message": "hi"}, headers=_auth(KEY_A), timeout=30
            )
            assert turn.status_code == 200, turn.text
        for server in (a, b):
            _refused(
                httpx.post(
                    f"{server.url}/chat", json={"message": "hi"}, headers=_auth(KEY_A), timeout=30
                ),
                "$1.20 of $1.00",
            )
        fine = httpx.post(f"{b.url}/chat", json={"message": "hi"}, headers=_auth(KEY_B), timeout=30)
        assert fine.status_code == 200, fine.text
