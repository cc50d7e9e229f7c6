"""Operations over real HTTP: health, readiness, metrics, and what the middleware does to every
request (request ids, the access log, request metrics, the body limit, CORS, a JSON 500)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx2 as httpx
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from agentcli.server.state import ServerState

from .running import RunningServer, running_server, server_settings
from .support import PRICE, FaultyStore, capture_logs, priced_agents


def _is_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"message", "type", "code", "param"}


async def _set_draining(state: ServerState) -> None:
    # What `agentcli serve` does on SIGTERM; set on the server's loop, as it would be.
    state.draining = True


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


# ---------------------------------------------------------------------- health and readiness


def test_health_and_readiness_when_all_is_well() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        health = client.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        ready = client.get("/readiness")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "checks": {"store": "ok", "agents": "ok", "shutdown": "ok"},
        }


def test_draining_fails_health_and_readiness() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        server.call(_set_draining(server.app_state))
        health = client.get("/health")
        _is_error(health, 503, "server_shutting_down")
        assert health.headers["retry-after"] == "1"
        ready = client.get("/readiness")
        _is_error(ready, 503, "not_ready")
        assert ready.json()["status"] == "not_ready"
        assert ready.json()["checks"]["shutdown"] != "ok"
        assert "shutdown" in ready.json()["error"]["message"]


def test_readiness_names_an_agent_without_its_key() -> None:
    settings = server_settings()
    with running_server(settings, agents=["echo", "openai:gpt-4o-mini"]) as server:
        ready = httpx.get(f"{server.url}/readiness")
    _is_error(ready, 503, "not_ready")
    checks = ready.json()["checks"]
    assert checks["store"] == "ok"
    assert checks["agents"] == "openai:gpt-4o-mini: OPENAI_API_KEY is not set"


def test_readiness_with_the_key_set() -> None:
    settings = server_settings(openai_api_key="sk-test-readiness-0123456789")
    with running_server(settings, agents=["openai:gpt-4o-mini"]) as server:
        ready = httpx.get(f"{server.url}/readiness")
    assert ready.status_code == 200, ready.text


def test_readiness_answers_when_the_store_hangs_and_health_ignores_the_store() -> None:
    store = FaultyStore()
    with running_server(agents=["echo"], store=store) as server:
        store.hang.set()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            ready = client.get("/readiness")
            health = client.get("/health")
            ready_gauge = server.app_state.metrics.registry.get_sample_value("agent_ready")
        store.hang.clear()
    assert ready_gauge == 0.0  # the last check failed
    _is_error(ready, 503, "not_ready")
    assert ready.json()["checks"]["store"].startswith("no answer in")
    assert ready.json()["checks"]["agents"] == "ok"
    assert health.status_code == 200


# ---------------------------------------------------------------------- metrics


def test_metrics_count_requests_by_route_template() -> None:
    with (
        capture_logs() as logs,
        running_server(agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        chat = client.post("/chat", json={"message": "hello"})
        session_id = chat.json()["session_id"]
        got = client.get(f"/sessions/{session_id}")
        missing = client.get("/no/such/path")
        for response in (chat, got, missing):
            logs.access(response.headers["x-request-id"])  # counted before this line is written
        scraped = client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"] == CONTENT_TYPE_LATEST
    assert session_id not in scraped.text
    requests = _samples(scraped.text, "agent_requests_total")
    assert requests[(("agent", "echo"), ("endpoint", "/chat"), ("status", "2xx"))] == 1
    by_template = (("agent", "none"), ("endpoint", "/sessions/{session_id}"), ("status", "2xx"))
    assert requests[by_template] == 1
    assert requests[(("agent", "none"), ("endpoint", "unmatched"), ("status", "4xx"))] == 1
    durations = _samples(scraped.text, "agent_request_duration_seconds_count")
    assert durations[(("agent", "echo"), ("endpoint", "/chat"))] == 1


def test_metrics_of_cost_readiness_the_store_and_budgets() -> None:
    settings = server_settings(max_session_cost=0.5, max_key_cost_per_day=1.0)
    with (
        running_server(settings, agents=priced_agents()) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        assert client.post("/chat", json={"message": "hi", "session_id": "s1"}).status_code == 200
        again = client.post("/chat", json={"message": "hi", "session_id": "s1"})
        assert again.status_code == 402  # the session's budget ($0.60 of $0.50)
        assert client.post("/chat", json={"message": "hi", "session_id": "s2"}).status_code == 200
        over = client.post("/chat", json={"message": "hi", "session_id": "s3"})
        assert over.status_code == 402  # the key's budget ($1.20 of $1.00)
        assert client.get("/readiness").status_code == 200
        scraped = client.get("/metrics").text
    cost = _samples(scraped, "agent_cost_usd_total")
    assert cost[(("agent", "priced"), ("model", "m-1"))] == 2 * PRICE
    tokens = _samples(scraped, "agent_tokens_used_total")
    assert tokens[(("agent", "priced"), ("kind", "input"), ("model", "m-1"))] == 10
    assert tokens[(("agent", "priced"), ("kind", "output"), ("model", "m-1"))] == 4
    assert _samples(scraped, "agent_ready") == {(): 1.0}
    timed = _samples(scraped, "agent_store_operation_seconds_count")
    for operation, at_least in [("append", 4), ("lease", 3), ("release", 3), ("info", 4)]:
        assert timed[(("operation", operation),)] >= at_least, (operation, timed)
    assert timed[(("operation", "add_spend"),)] == 4  # each answer: its session and its key
    assert timed[(("operation", "get_spend"),)] >= 6
    rejections = _samples(scraped, "agent_budget_rejections_total")
    assert rejections == {
        (("agent", "priced"), ("scope", "session")): 1,
        (("agent", "priced"), ("scope", "key")): 1,
    }
    errors = _samples(scraped, "agent_errors_total")
    assert errors[(("agent", "priced"), ("code", "budget_exceeded"))] == 1  # the turn refused


# ---------------------------------------------------------------------- request ids and the log


def test_request_id_is_honoured_or_made_and_echoed() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        assert (
            client.get("/health", headers={"X-Request-ID": "req-42"}).headers["x-request-id"]
            == "req-42"
        )
        for bad in ("x" * 200, "has space", "tab\there"):
            made = client.get("/health", headers={"X-Request-ID": bad}).headers["x-request-id"]
            assert made != bad
            assert len(made) == 32
        first = client.get("/health").headers["x-request-id"]
        assert first != client.get("/health").headers["x-request-id"]


def test_one_access_line_per_request_without_content_or_raw_paths() -> None:
    secret_words = "purple elephants dance at midnight"
    with (
        capture_logs() as logs,
        running_server(agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        chat = client.post("/chat", json={"message": secret_words}, headers={"X-Request-ID": "r1"})
        session_id = chat.json()["session_id"]
        got = client.get(f"/sessions/{session_id}", headers={"X-Request-ID": "r2"})
        missing = client.get(f"/sessions/{session_id}/nothing", headers={"X-Request-ID": "r3"})
        line = logs.access("r1")
        logs.access("r2")
        logs.access("r3")
    assert got.status_code == 200
    assert missing.status_code == 404
    access = [json.loads(t) for t in logs.lines if '"agentcli.server.access"' in t]
    assert [a["request_id"] for a in access] == ["r1", "r2", "r3"]
    first, second, third = access
    assert line.levelname == "INFO"
    assert first["message"] == "POST /chat 200"
    assert {k: first[k] for k in ("method", "endpoint", "status", "agent", "key_id")} == {
        "method": "POST",
        "endpoint": "/chat",
        "status": 200,
        "agent": "echo",
        "key_id": "anonymous",
    }
    assert first["session_id"] == session_id
    assert first["tokens"] > 0
    assert first["duration_ms"] >= 0
    assert second["endpoint"] == "/sessions/{session_id}"
    assert third["endpoint"] == "unmatched"
    assert third["error_code"] == "not_found"
    for text in logs.lines:
        assert secret_words not in text
    for entry in access:  # the id is a field of its own, never part of the endpoint
        assert session_id not in entry["endpoint"]
        assert session_id not in entry["message"]


def test_an_unhandled_error_is_a_json_500_and_logged() -> None:
    store = FaultyStore()
    with (
        capture_logs() as logs,
        running_server(agents=["echo"], store=store) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        store.fail.set()
        broken = client.get("/sessions")
        store.fail.clear()
        request_id = broken.headers["x-request-id"]
        line = logs.access(request_id)
        still = client.get("/sessions")
    _is_error(broken, 500, "internal_error")
    assert broken.json()["error"]["type"] == "server_error"
    assert "driver" not in broken.text  # details stay in the log
    assert request_id in broken.json()["error"]["message"]
    assert getattr(line, "error_code", None) == "internal_error"
    assert getattr(line, "status", None) == 500
    logged = [r for r in logs.records if r.name == "agentcli.server" and r.exc_info]
    assert logged
    assert getattr(logged[0], "request_id", None) == request_id
    assert still.status_code == 200


# ---------------------------------------------------------------------- the body limit

LIMIT = 64 * 1024
BIG = 64 * 1024 * 1024


class _Chunks:
    """A request body from a generator (sent chunked); counts what the client managed to send."""

    def __init__(self, total: int, size: int = 64 * 1024) -> None:
        self.total, self.size, self.made = total, size, 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b"x" * self.size
        while self.made < self.total:
            self.made += self.size
            yield chunk


def test_a_chunked_body_over_the_limit_is_cut_off_and_the_server_carries_on() -> None:
    body = _Chunks(BIG)
    settings = server_settings(max_request_bytes=LIMIT)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        refused = client.post("/chat", content=body, headers={"content-type": "application/json"})
        _is_error(refused, 413, "request_too_large")
        assert refused.headers["connection"] == "close"
        # The server stopped reading: the client could not send the rest.
        assert body.made < BIG // 2
        assert client.get("/health").status_code == 200
        assert client.post("/chat", json={"message": "still here"}).status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_the_body() -> None:
    settings = server_settings(max_request_bytes=LIMIT)
    with running_server(settings, agents=["echo"]) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            # The head only: a server that waited for the body would never answer.
            sock.sendall(
                b"POST /chat HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000000000\r\n\r\n"
            )
            answer = _read_response(sock)
        assert answer.startswith(b"HTTP/1.1 413 ")
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert b"connection: close" in head.lower()
        assert json.loads(payload)["error"]["code"] == "request_too_large"
        with httpx.Client(base_url=server.url) as client:
            just_under = {"message": "x" * (LIMIT - 100)}
            assert client.post("/chat", json=just_under).status_code == 200


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):  # the server closes the connection after a 413
        data += chunk
    return data


# ---------------------------------------------------------------------- CORS


def _preflight(server: RunningServer, origin: str) -> httpx.Response:
    return httpx.options(
        f"{server.url}/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_cors_is_off_by_default() -> None:
    with running_server(agents=["echo"]) as server:
        preflight = _preflight(server, "https://app.example")
        simple = httpx.get(f"{server.url}/health", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


def test_cors_allows_the_configured_origins_only() -> None:
    settings = server_settings(cors_origins=["https://app.example"])
    with running_server(settings, agents=["echo"]) as server:
        allowed = _preflight(server, "https://app.example")
        other = _preflight(server, "https://evil.example")
        simple = httpx.get(f"{server.url}/health", headers={"Origin": "https://app.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
