"""Turns over real HTTP: POST /chat, the SSE stream and its replay."""

from __future__ import annotations

import httpx2 as httpx

from .running import running_server


def _events(text: str) -> list[tuple[str, str, str]]:
    """(id, event, data) of each SSE frame."""
    out = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if "event" in fields:
            out.append((fields.get("id", ""), fields["event"], fields.get("data", "")))
    return out


def test_chat_then_stream_continue_one_session() -> None:
    with running_server(agents=["echo"]) as server, httpx.Client(base_url=server.url) as client:
        first = client.post("/chat", json={"message": "hello"})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["output"].startswith("You said: hello")
        assert body["context"]["level"] == "green"
        session_id = body["session_id"]
        streamed = client.post("/chat/stream", json={"message": "again", "session_id": session_id})
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert streamed.headers["x-accel-buffering"] == "no"
        events = _events(streamed.text)
        assert [e[1] for e in events][:2] == ["start", "delta"]
        assert events[-1][1] == "done"
        assert [e[0] for e in events] == [str(i) for i in range(1, len(events) + 1)]
        turn_id = streamed.headers["x-turn-id"]
        replay = client.get(f"/chat/stream/{turn_id}", headers={"Last-Event-ID": "2"})
        assert [e[0] for e in _events(replay.text)] == [e[0] for e in events[2:]]
