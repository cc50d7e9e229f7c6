"""Sessions over real HTTP: list, transcript, usage, export, compact, cancel, delete."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2 as httpx
import pytest

from agentcli.export import import_session
from agentcli.messages import Message, messages_adapter
from agentcli.stores.memory import MemoryStore

from .running import RunningServer, running_server, server_settings
from .support import PARTIAL, GatedAgent


def _is_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def _turn(client: httpx.Client, message: str, session_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if session_id is not None:
        body["session_id"] = session_id
    response = client.post("/chat", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _stored(server: RunningServer, session_id: str) -> list[Message]:
    messages: list[Message] = server.call(server.app_state.store.read(session_id))
    return messages


def test_list_most_recent_first_with_a_limit() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        ids = [_turn(client, f"topic {n}")["session_id"] for n in range(3)]
        _turn(client, "more on topic 0", ids[0])
        listed = client.get("/sessions").json()["sessions"]
        assert [s["id"] for s in listed] == [ids[0], ids[2], ids[1]]
        first = listed[0]
        assert first["title"] == "topic 0"
        assert first["messages"] == 4
        assert first["tokens"] == sum(m.tokens for m in _stored(server, ids[0]))
        assert set(first) == {"id", "title", "created_at", "updated_at", "messages", "tokens"}
        two = client.get("/sessions", params={"limit": 2}).json()["sessions"]
        assert [s["id"] for s in two] == [ids[0], ids[2]]
        for bad in (0, 101, "many"):
            _is_error(client.get("/sessions", params={"limit": bad}), 422, "invalid_request")


def test_the_transcript_is_lossless() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        session_id = _turn(client, "hello")["session_id"]
        _turn(client, "and again", session_id)
        body = client.get(f"/sessions/{session_id}").json()
        assert messages_adapter.validate_python(body["messages"]) == _stored(server, session_id)
        assert [m["role"] for m in body["messages"]] == ["user", "assistant"] * 2
        assert body["id"] == session_id
        assert body["window_start"] == 1
        assert body["system_prompt"] is None
        assert body["title"] == "hello"


def test_the_transcript_shows_the_sessions_system_prompt() -> None:
    store = MemoryStore()
    asyncio.run(store.set_state("briefed", metadata={"system_prompt": "Be brief."}))
    with running_server(agents=["echo"], store=store) as server:
        body = httpx.get(f"{server.url}/sessions/briefed").json()
    assert body["system_prompt"] == "Be brief."
    assert body["messages"] == []


def test_usage_reports_the_window_and_the_summed_usage() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        session_id = _turn(client, "one")["session_id"]
        last = _turn(client, "two", session_id)
        usage = client.get(f"/sessions/{session_id}/usage").json()
        answers = [m.usage for m in _stored(server, session_id) if m.usage is not None]
    assert usage["session_id"] == session_id
    for key in ("tokens", "window", "level"):
        assert usage[key] == last["context"][key]
    assert usage["fraction"] == pytest.approx(last["context"]["fraction"], abs=1e-4)  # rounded
    assert usage["messages"] == 4
    assert usage["trimmed"] == 0
    totals = usage["usage"]
    assert totals["answers"] == len(answers) == 2
    assert totals["input_tokens"] == sum(u.input_tokens or 0 for u in answers)
    assert totals["output_tokens"] == sum(u.output_tokens or 0 for u in answers)
    assert totals["total_tokens"] == sum(u.tokens or 0 for u in answers)
    priced = [u.cost for u in answers if u.cost is not None]
    assert totals["cost"] == (pytest.approx(sum(priced)) if priced else None)
    assert totals["unpriced_answers"] == len(answers) - len(priced)


def test_export_json_round_trips_and_markdown_reads() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        session_id = _turn(client, "export me")["session_id"]
        as_json = client.get(f"/sessions/{session_id}/export", params={"format": "json"})
        as_md = client.get(f"/sessions/{session_id}/export", params={"format": "md"})
        default = client.get(f"/sessions/{session_id}/export")
        wrong = client.get(f"/sessions/{session_id}/export", params={"format": "xml"})
        stored = _stored(server, session_id)
    assert as_json.headers["content-type"] == "application/json"
    assert f'filename="session-{session_id}.json"' in as_json.headers["content-disposition"]
    assert json.loads(as_json.text)["format"] == "agentcli.session"
    assert default.headers["content-type"] == "application/json"
    copy = MemoryStore()
    imported = asyncio.run(_import(copy, as_json.text))
    assert imported == stored
    assert as_md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert as_md.headers["content-disposition"].endswith('.md"')
    assert as_md.text.startswith("# export me")
    assert "### #1 · User" in as_md.text
    _is_error(wrong, 422, "invalid_request")


async def _import(store: MemoryStore, text: str) -> list[Message]:
    session_id = await import_session(store, text)
    return await store.read(session_id)


def test_compact_trims_the_window_and_keeps_the_transcript() -> None:
    settings = server_settings(context_window=600, min_messages_to_keep=2)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        session_id = _turn(client, "first")["session_id"]
        fraction = 0.0
        while fraction <= 0.6:  # fill the window past the cleanup target (not to the threshold)
            fraction = _turn(client, "more", session_id)["context"]["fraction"]
        assert fraction < 0.9
        report = client.post(f"/sessions/{session_id}/compact").json()
        assert report["reason"] == "compact"
        assert report["trimmed"] > 0
        assert report["tokens_after"] < report["tokens_before"]
        assert report["tokens_after"] <= 0.6 * report["window"]
        body = client.get(f"/sessions/{session_id}").json()
        usage = client.get(f"/sessions/{session_id}/usage").json()
        stored = _stored(server, session_id)
    assert body["window_start"] > 1
    assert len(body["messages"]) == len(stored)
    assert usage["trimmed"] == report["trimmed"]
    assert usage["tokens"] == report["tokens_after"]


def test_cancel_stores_the_partial_answer_as_interrupted() -> None:
    gated = GatedAgent()
    with (
        running_server(agents={"gated": gated}) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        body = {"message": "take your time", "session_id": "slow-1"}
        with client.stream("POST", "/chat/stream", json=body) as stream:
            assert stream.status_code == 200
            assert gated.started.wait(30)
            cancelled = client.post("/sessions/slow-1/cancel").json()
            assert cancelled == {
                "session_id": "slow-1",
                "cancelled": True,
                "turn_ids": [stream.headers["x-turn-id"]],
            }
            events = stream.read().decode()
        again = client.post("/sessions/slow-1/cancel").json()
        messages = client.get("/sessions/slow-1").json()["messages"]
        gated.open()
    assert "event: error" in events
    assert '"turn_cancelled"' in events
    assert again["cancelled"] is False
    answer = messages[-1]
    assert answer["role"] == "assistant"
    assert answer["status"] == "interrupted"
    assert answer["content"] == PARTIAL


def test_usage_compact_and_delete_answer_409_during_a_turn() -> None:
    gated = GatedAgent()
    with (
        running_server(agents={"gated": gated}) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        body = {"message": "take your time", "session_id": "busy-1"}
        with client.stream("POST", "/chat/stream", json=body) as stream:
            assert gated.started.wait(30)
            deleting = client.delete("/sessions/busy-1")
            compacting = client.post("/sessions/busy-1/compact")
            reading = client.get("/sessions/busy-1/usage")
            transcript = client.get("/sessions/busy-1")  # the store's, never blocked
            gated.open()
            assert "event: done" in stream.read().decode()
        deleted = client.delete("/sessions/busy-1")
        after = client.get("/sessions/busy-1")
        listed = client.get("/sessions").json()["sessions"]
    assert transcript.status_code == 200
    for busy in (deleting, compacting, reading):
        _is_error(busy, 409, "session_busy")
        assert busy.headers["retry-after"] == "1"
    assert deleted.json() == {"session_id": "busy-1", "deleted": True}
    _is_error(after, 404, "session_not_found")
    assert listed == []


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("GET", "/usage"),
        ("GET", "/export"),
        ("POST", "/compact"),
        ("POST", "/cancel"),
        ("DELETE", ""),
    ],
)
def test_unknown_and_invalid_sessions(method: str, suffix: str) -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        _is_error(client.request(method, f"/sessions/nope{suffix}"), 404, "session_not_found")
        too_long = "x" * 129
        _is_error(
            client.request(method, f"/sessions/{too_long}{suffix}"), 400, "invalid_session_id"
        )


def test_the_openapi_document_describes_the_session_endpoints() -> None:
    with running_server(agents=["echo"]) as server:
        document = httpx.get(f"{server.url}/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/sessions/{session_id}"]) == {"get", "delete"}
    for path in ("/sessions/{session_id}/compact", "/sessions/{session_id}/cancel"):
        assert "post" in paths[path]
    schemas = document["components"]["schemas"]
    for name in ("SessionList", "Transcript", "SessionUsage", "CancelResult", "CleanupReport"):
        assert name in schemas
    export = paths["/sessions/{session_id}/export"]["get"]
    assert set(export["responses"]["200"]["content"]) >= {"application/json", "text/markdown"}
    for path in ("/health", "/readiness", "/metrics"):
        assert "get" in paths[path]
