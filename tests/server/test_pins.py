"""Pins over real HTTP: POST and DELETE /sessions/{id}/pins/{seq}, ``pinned`` in the transcript
and usage, refusals (422), a running turn (409), unknown and other keys' sessions (404)."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

from .running import running_server, server_settings
from .support import GatedAgent

KEY_A = "key-a-0123456789abcdefghij"
KEY_B = "key-b-0123456789abcdefghij"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _is_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    message: str = error["message"]
    return message


def _turn(client: httpx.Client, message: str, session_id: str) -> dict[str, Any]:
    response = client.post("/chat", json={"message": message, "session_id": session_id})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_pin_survives_cleanups_and_shows_in_the_transcript_and_usage() -> None:
    settings = server_settings(context_window=600, min_messages_to_keep=2)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        _turn(client, "the task: keep this", "p-1")
        pinned = client.post("/sessions/p-1/pins/1")
        assert pinned.json() == {"session_id": "p-1", "pinned": [1]}
        assert client.post("/sessions/p-1/pins/2").json()["pinned"] == [1]  # same exchange
        for i in range(12):
            _turn(client, f"more {i} " + "word " * 20, "p-1")
        transcript = client.get("/sessions/p-1").json()
        usage = client.get("/sessions/p-1/usage").json()
        manager = server.app_state.managers[server.app_state.default_model]
        window = server.call(manager.window("p-1"))
        pinned_markdown = client.get("/sessions/p-1/export", params={"format": "md"}).text
        unpinned = client.delete("/sessions/p-1/pins/1")
        after = client.get("/sessions/p-1/usage").json()
        markdown = client.get("/sessions/p-1/export", params={"format": "md"}).text
    assert transcript["pinned"] == [1]
    assert transcript["window_start"] > 3  # trimmed, yet the pinned exchange stayed
    assert usage["pinned"] == [1]
    assert usage["trimmed"] > 0
    assert [m.seq for m in window[:2]] == [1, 2]
    assert "### #1 · User · 📌 pinned" in pinned_markdown
    assert "### #2 · Assistant · 📌 pinned" in pinned_markdown
    assert unpinned.json() == {"session_id": "p-1", "pinned": []}
    assert after["pinned"] == []
    # Older than the window's start, the unpinned exchange left the window at once.
    assert after["trimmed"] == usage["trimmed"] + 2
    assert after["tokens"] < usage["tokens"]
    assert "### #1 · User · *trimmed*" in markdown


def test_refusals_are_422_with_the_reason() -> None:
    settings = server_settings(context_window=600, min_messages_to_keep=2)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for i in range(12):
            _turn(client, f"turn {i} " + "word " * 20, "r-1")
        trimmed = client.post("/sessions/r-1/pins/1")
        missing = client.post("/sessions/r-1/pins/9999")
        not_pinned = client.delete("/sessions/r-1/pins/3")
        bad_seq = client.post("/sessions/r-1/pins/zero")
        zero = client.post("/sessions/r-1/pins/0")
        unknown = client.post("/sessions/nope/pins/1")
        usage = client.get("/sessions/r-1/usage").json()
    assert "no longer in the context window" in _is_error(trimmed, 422, "pin_refused")
    assert "there is no message #9999" in _is_error(missing, 422, "pin_refused")
    assert "is not pinned" in _is_error(not_pinned, 422, "pin_refused")
    for invalid in (bad_seq, zero):
        _is_error(invalid, 422, "invalid_request")
    _is_error(unknown, 404, "session_not_found")
    assert usage["pinned"] == []


def test_too_much_pinned_is_refused_with_the_percentages() -> None:
    settings = server_settings(context_window=600)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        for i in range(2):
            _turn(client, f"big {i} " + "word " * 130, "big-1")  # 44 % an exchange
        assert client.post("/sessions/big-1/pins/1").status_code == 200
        refused = client.post("/sessions/big-1/pins/3")
    message = _is_error(refused, 422, "pin_refused")
    assert "cannot pin message #3: the pinned exchanges would take" in message
    assert "above the cleanup target of 60%" in message


def test_pins_answer_409_during_a_turn() -> None:
    gated = GatedAgent()
    with (
        running_server(agents={"gated": gated}) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        body = {"message": "take your time", "session_id": "busy-1"}
        with client.stream("POST", "/chat/stream", json=body) as stream:
            assert gated.started.wait(30)
            pinning = client.post("/sessions/busy-1/pins/1")
            unpinning = client.delete("/sessions/busy-1/pins/1")
            gated.open()
            assert "event: done" in stream.read().decode()
        after = client.post("/sessions/busy-1/pins/1")
    for busy in (pinning, unpinning):
        _is_error(busy, 409, "session_busy")
        assert busy.headers["retry-after"] == "1"
    assert after.json() == {"session_id": "busy-1", "pinned": [1]}


def test_another_key_cannot_pin_or_unpin() -> None:
    settings = server_settings(api_keys=f"{KEY_A},{KEY_B}")
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        made = client.post("/chat", json={"message": "mine"}, headers=_auth(KEY_A)).json()
        path = f"/sessions/{made['session_id']}/pins/1"
        assert client.post(path, headers=_auth(KEY_A)).json()["pinned"] == [1]
        other_pin = client.post(path, headers=_auth(KEY_B))
        other_unpin = client.delete(path, headers=_auth(KEY_B))
        usage = client.get(f"/sessions/{made['session_id']}/usage", headers=_auth(KEY_A))
    for foreign in (other_pin, other_unpin):
        _is_error(foreign, 404, "session_not_found")
    assert usage.json()["pinned"] == [1]


def test_the_openapi_document_describes_the_pin_endpoints() -> None:
    with running_server(agents=["echo"]) as server:
        document = httpx.get(f"{server.url}/openapi.json").json()
    assert set(document["paths"]["/sessions/{session_id}/pins/{seq}"]) == {"post", "delete"}
    schemas = document["components"]["schemas"]
    assert "pinned" in schemas["SessionUsage"]["properties"]
    assert "pinned" in schemas["Transcript"]["properties"]
