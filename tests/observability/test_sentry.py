"""Sentry over real HTTP: the envelope a loopback "Sentry" receives holds the error's type and
stack, never the user's text, a key or a store password; a caller's mistake sends nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2 as httpx
import sentry_sdk

from agentcli import observability
from agentcli.agent import AgentInterface, StreamEvent, TextDelta
from agentcli.messages import AgentContext, AgentResponse

from ..server.running import running_server, server_settings
from .receiver import Posted, Receiver, wait_for

KEY = "sk-test-canary0123456789abcdefghijklmnop"
PASSWORD = "hunter2-canary-pw"
STORE = f"postgresql://agent:{PASSWORD}@db.internal:5432/agentcli"
USER_TEXT = "my private diary entry about Lisbon"


class BrokenAgent(AgentInterface):
    """Fails with a message that quotes the input, a store URL and a key: as careless code
    does."""

    name = "broken"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        if context.input:
            raise RuntimeError(f"cannot save {context.input!r} to {STORE} (key {KEY})")
        yield TextDelta("")  # pragma: no cover


def _items(posted: Posted) -> list[tuple[dict[str, Any], bytes]]:
    """(item header, payload) of each item of an envelope: a header line, then items, each a
    header line and a payload (of ``length`` bytes when the header says, else a line)."""
    rest = posted.body.split(b"\n", 1)[1]
    items = []
    while rest.strip():
        line, rest = rest.split(b"\n", 1)
        header = json.loads(line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header, payload))
    return items


def _events(sentry: Receiver) -> list[tuple[dict[str, Any], bytes]]:
    found = []
    for posted in sentry.posted("/api/1/envelope/"):
        found += [(json.loads(p), p) for h, p in _items(posted) if h.get("type") == "event"]
    return found


def test_an_internal_error_is_reported_scrubbed(collector: Receiver) -> None:
    settings = server_settings(
        sentry_dsn=f"http://publickey@127.0.0.1:{collector.port}/1",
        sentry_environment="test",
        openai_api_key=KEY,
    )
    with (
        running_server(settings, agents={"broken": BrokenAgent()}) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        # The caller's mistakes first: none of them is reported.
        assert client.get("/sessions/no-such-session").status_code == 404
        assert client.post("/chat", json={}).status_code == 422
        failed = client.post(
            "/chat", json={"message": USER_TEXT}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert failed.status_code == 502, failed.text
        wait_for(lambda: bool(_events(collector)), poke=sentry_sdk.flush)
    sentry_sdk.flush()
    [(event, raw)] = _events(collector)
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "[removed]"
    assert any(f["function"] == "stream_events" for f in exception["stacktrace"]["frames"])
    assert event["environment"] == "test"
    assert "request" not in event
    everything = b"".join(p.body for p in collector.posted("/api/1/envelope/"))
    for secret in (USER_TEXT, "Lisbon", PASSWORD, KEY, "canary"):
        assert secret.encode() not in everything, secret
    assert not any("vars" in f for f in exception["stacktrace"]["frames"])
    assert raw.count(b"breadcrumbs") <= 1  # present at most as scrubbed kinds and levels


def test_breadcrumbs_and_log_arguments_are_dropped(collector: Receiver) -> None:
    """An ERROR log record is reported as its template: its arguments, the breadcrumbs'
    messages and data stay here; a secret left in the template is masked."""
    import logging

    settings = server_settings(
        sentry_dsn=f"http://publickey@127.0.0.1:{collector.port}/1", openai_api_key=KEY
    )
    observability.configure(settings)
    log = logging.getLogger("agentcli.test")
    log.warning("user said %s", USER_TEXT)  # a breadcrumb
    log.error("store %s failed for " + STORE + " and " + KEY, USER_TEXT)
    wait_for(lambda: bool(_events(collector)), poke=sentry_sdk.flush)
    [(event, raw)] = _events(collector)
    assert event["logentry"]["message"].startswith("store %s failed for postgresql://agent:")
    for secret in (USER_TEXT, PASSWORD, KEY):
        assert secret.encode() not in raw, secret
    crumbs = event.get("breadcrumbs", {}).get("values", [])
    assert crumbs, "the warning is kept as a breadcrumb"
    assert all(set(c) <= {"type", "category", "level", "timestamp"} for c in crumbs)


def test_log_arguments_stay_out_with_the_agentcli_log_handler(collector: Receiver) -> None:
    """Our own log handler hides passwords in records before Sentry sees them: it must clean
    the template and its arguments apart, never merge the user's text into the template."""
    import io
    import logging

    from agentcli.logs import configure_logging

    handler = configure_logging("WARNING", stream=io.StringIO())
    try:
        observability.configure(
            server_settings(sentry_dsn=f"http://publickey@127.0.0.1:{collector.port}/1")
        )
        logging.getLogger("agentcli.test").error("store %s failed for " + STORE, USER_TEXT)
        wait_for(lambda: bool(_events(collector)), poke=sentry_sdk.flush)
        [(event, raw)] = _events(collector)
        assert event["logentry"]["message"].startswith("store %s failed for postgresql://agent:")
        for secret in (USER_TEXT, PASSWORD):
            assert secret.encode() not in raw, secret
    finally:
        logging.getLogger("agentcli").removeHandler(handler)
