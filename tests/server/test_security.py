"""Keys and limits over real HTTP: each key sees only its own sessions, unknown callers get
401, the per-key rate limit and the one-turn-per-session rule answer at once, bad input and
unknown models are refused, and no key (ours or a provider's) ever leaves the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from ..providers import fake_openai
from ..providers.fake_http import FakeServer, Recorded, Reply, json_reply
from .running import running_server, server_settings
from .support import GatedAgent, capture_logs

KEY_A = "key-a-0123456789abcdefghij"
KEY_B = "key-b-0123456789abcdefghij"
TWO_KEYS = f"{KEY_A},{KEY_B}"

SESSION_CALLS = [
    ("GET", ""),
    ("GET", "/usage"),
    ("GET", "/export"),
    ("GET", "/export?format=md"),
    ("POST", "/compact"),
    ("POST", "/cancel"),
    ("DELETE", ""),
]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _is_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["code"] == code
    return error


def test_a_key_cannot_see_or_touch_another_keys_session() -> None:
    settings = server_settings(api_keys=TWO_KEYS)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        made = client.post("/chat", json={"message": "mine"}, headers=_auth(KEY_A)).json()
        session_id = made["session_id"]
        other = _auth(KEY_B)
        assert client.get("/sessions", headers=other).json() == {"sessions": []}
        for method, suffix in SESSION_CALLS:
            path, _, query = f"/sessions/{session_id}{suffix}".partition("?")
            response = client.request(method, path, params=query or None, headers=other)
            _is_error(response, 404, "session_not_found")
        hijack = {"message": "let me in", "session_id": session_id}
        _is_error(client.post("/chat", json=hijack, headers=other), 404, "session_not_found")
        # The owner's session is untouched by all of that.
        owned = client.get("/sessions", headers=_auth(KEY_A)).json()["sessions"]
        transcript = client.get(f"/sessions/{session_id}", headers=_auth(KEY_A)).json()
    assert [s["id"] for s in owned] == [session_id]
    assert [m["role"] for m in transcript["messages"]] == ["user", "assistant"]
    assert transcript["messages"][0]["content"] == "mine"


def test_another_key_cannot_cancel_or_delete_a_running_turn() -> None:
    gated = GatedAgent()
    settings = server_settings(api_keys=TWO_KEYS)
    with (
        running_server(settings, agents={"gated": gated}) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        body = {"message": "slow", "session_id": "shared-name"}
        with client.stream("POST", "/chat/stream", json=body, headers=_auth(KEY_A)) as stream:
            assert gated.started.wait(30)
            for method, suffix in (("POST", "/cancel"), ("DELETE", "")):
                response = client.request(
                    method, f"/sessions/shared-name{suffix}", headers=_auth(KEY_B)
                )
                _is_error(response, 404, "session_not_found")
            follow = client.get(f"/chat/stream/{stream.headers['x-turn-id']}", headers=_auth(KEY_B))
            _is_error(follow, 404, "turn_not_found")
            gated.open()
            events = stream.read().decode()
    assert "event: done" in events


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {KEY_A}x", f"Basic {KEY_A}", "Bearer", KEY_A],
    ids=["none", "wrong-key", "basic", "empty", "no-scheme"],
)
def test_no_or_a_wrong_key_is_401(authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    settings = server_settings(api_keys=TWO_KEYS)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        answers = [
            client.post("/chat", json={"message": "hi"}, headers=headers),
            client.get("/sessions", headers=headers),
            *(
                client.request(method, f"/sessions/any{suffix.split('?')[0]}", headers=headers)
                for method, suffix in SESSION_CALLS
            ),
        ]
        health = client.get("/health")  # probes carry no key
    for response in answers:
        error = _is_error(response, 401, "invalid_api_key")
        assert error["type"] == "authentication_error"
        assert KEY_A not in response.text
    assert health.status_code == 200


def test_the_rate_limit_is_per_key_and_says_when_to_retry() -> None:
    settings = server_settings(api_keys=TWO_KEYS, rate_limit_per_minute=2)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        allowed = [client.get("/sessions", headers=_auth(KEY_A)) for _ in range(2)]
        refused = client.get("/sessions", headers=_auth(KEY_A))
        other_key = client.get("/sessions", headers=_auth(KEY_B))
        probe = client.get("/health")
    assert [r.status_code for r in allowed] == [200, 200]
    error = _is_error(refused, 429, "rate_limited")
    assert error["type"] == "rate_limit_error"
    assert int(refused.headers["retry-after"]) >= 1
    assert other_key.status_code == 200
    assert probe.status_code == 200


def test_a_second_turn_on_a_busy_session_is_409_at_once() -> None:
    gated = GatedAgent()
    with (
        running_server(agents={"gated": gated}) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        body = {"message": "first", "session_id": "one-at-a-time"}
        with client.stream("POST", "/chat/stream", json=body) as stream:
            assert gated.started.wait(30)
            second = client.post("/chat", json={**body, "message": "second"})
            streamed = client.post("/chat/stream", json={**body, "message": "third"})
            gated.open()
            assert "event: done" in stream.read().decode()
        after = client.post("/chat", json={**body, "message": "fourth"})
    for busy in (second, streamed):
        error = _is_error(busy, 409, "session_busy")
        assert error["type"] == "conflict_error"
        assert int(busy.headers["retry-after"]) >= 1
    assert after.status_code == 200


def test_input_over_the_limit_is_400_and_an_unknown_model_404() -> None:
    settings = server_settings(max_input_chars=20)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        too_long = client.post("/chat", json={"message": "x" * 21})
        just_right = client.post("/chat", json={"message": "x" * 20})
        unknown = client.post("/chat", json={"message": "hi", "model": "gpt-none"})
    _is_error(too_long, 400, "invalid_input")
    assert just_right.status_code == 200
    error = _is_error(unknown, 404, "model_not_found")
    assert error["param"] == "model"
    assert "echo" in error["message"]


# ---------------------------------------------------------------------- the canary keys


@pytest.fixture
def provider() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


def _echoes_the_key(request: Recorded) -> Reply:
    """A proxy that puts the whole key it was sent into its error."""
    key = request.headers.get("authorization", "")
    return json_reply({"error": {"message": f"key {key} is not valid", "type": "auth"}}, 401)


def test_canary_keys_appear_in_no_response_log_or_metric(provider: FakeServer) -> None:
    client_key = f"client-canary-{uuid.uuid4().hex}"
    provider_key = f"sk-canary-{uuid.uuid4().hex}"
    settings = server_settings(
        api_keys=f"{client_key},{KEY_B}",
        openai_api_key=provider_key,
        openai_base_url=f"{provider.url}/v1",
        max_retries=0,
    )
    model = "openai:gpt-4o-mini"
    provider.add(fake_openai.stream(), _echoes_the_key, _echoes_the_key)
    responses: list[httpx.Response] = []
    with (
        capture_logs() as logs,
        running_server(settings, agents=["echo", model]) as server,
        capture_logs("uvicorn") as server_logs,  # after uvicorn configured its loggers
        httpx.Client(base_url=server.url, headers=_auth(client_key)) as client,
    ):
        ok = client.post("/chat", json={"message": "hi", "model": model})
        session_id = ok.json()["session_id"]
        turn = {"message": "again", "model": model, "session_id": session_id}
        responses += [ok, client.post("/chat", json=turn), client.post("/chat/stream", json=turn)]
        for method, suffix in SESSION_CALLS:
            path, _, query = f"/sessions/{session_id}{suffix}".partition("?")
            responses.append(client.request(method, path, params=query or None))
        for path in ("/sessions", "/health", "/readiness", "/openapi.json", "/nowhere"):
            responses.append(client.get(path))
        wrong = {"Authorization": f"Bearer {client_key}x"}
        responses.append(client.post("/chat", json={"message": "hi"}, headers=wrong))
        for response in responses:  # every request is logged (and counted) before the scrape
            logs.access(response.headers["x-request-id"])
        metrics = client.get("/metrics").text
    assert ok.status_code == 200, ok.text
    assert responses[1].json()["error"]["code"] == "provider_authentication_failed"
    assert "event: error" in responses[2].text
    assert provider.requests[0].headers["authorization"] == f"Bearer {provider_key}"
    for canary in (client_key, provider_key):
        for response in responses:
            assert canary not in response.text
            assert canary not in str(response.headers.multi_items())
        assert canary not in metrics
        for line in [*logs.lines, *server_logs.lines]:
            assert canary not in line
