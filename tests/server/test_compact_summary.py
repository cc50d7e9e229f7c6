"""``POST /sessions/{id}/compact`` with instructions, over real HTTP: the echo agent summarises,
the transcript keeps the summary, and the usage totals count it apart from the answers."""

from __future__ import annotations

import httpx2 as httpx

from .running import running_server, server_settings


def test_compact_with_instructions_summarises_and_without_follows_the_strategy() -> None:
    settings = server_settings(context_window=100_000)
    with (
        running_server(settings, agents=["echo"]) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        first = client.post("/chat", json={"message": "note the file a.py please"}).json()
        session_id = first["session_id"]
        for turn in range(4):
            body = {"message": f"and file b{turn}.py too", "session_id": session_id}
            assert client.post("/chat", json=body).status_code == 200
        plain = client.post(f"/sessions/{session_id}/compact").json()
        report = client.post(
            f"/sessions/{session_id}/compact", json={"instructions": "keep the file names"}
        ).json()
        transcript = client.get(f"/sessions/{session_id}").json()
        usage = client.get(f"/sessions/{session_id}/usage").json()
        bad = client.post(f"/sessions/{session_id}/compact", json={"instructions": 3})
    assert server.app_state is not None
    assert plain["trimmed"] == 0
    assert plain["strategy"] == "fifo"
    assert report["strategy"] == "summarize"
    assert report["summarized"] > 0
    [summary] = [m for m in transcript["messages"] if (m.get("metadata") or {}).get("summary")]
    assert summary["role"] == "system"
    assert "(Asked: keep the file names.)" in summary["content"]
    assert usage["usage"]["answers"] == 5  # the summary's usage counts, as no answer
    assert bad.status_code == 422
