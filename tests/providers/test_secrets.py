"""A canary key, driven through every path, never shows up: not in errors, tracebacks, logs at
DEBUG (the SDKs' and httpx2's included), reprs, settings or the stored session."""

from __future__ import annotations

import io
import logging
import socket
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from agentcli.agents._faults import scrub
from agentcli.agents.provider_agent import ProviderAgent
from agentcli.errors import AgentCLIError
from agentcli.messages import AgentContext, messages_adapter
from agentcli.session import SessionManager
from agentcli.tools import tool

from .fake_http import Drop, FakeServer, KeepAlive, Recorded, Reply, sse_reply
from .vendors import CallSpec, Vendor, after

LOGGERS = ("", "agentcli", "openai", "anthropic", "httpx2", "httpcore2")


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG, by any library, with tracebacks and stacks."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(args)s"))
    handler.setLevel(logging.DEBUG)
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    root = logging.getLogger()
    root.addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def context() -> AgentContext:
    return AgentContext(input="hello", session_id="s1")


async def consume(chunks: AsyncIterator[str]) -> list[str]:
    return [chunk async for chunk in chunks]


def leaking_error(key: str) -> Callable[[Recorded], Reply]:
    """A proxy that echoes the whole key in an error body."""

    def reply(_: Recorded) -> Reply:
        from .fake_http import json_reply

        return json_reply(
            {"error": {"message": f"key {key} is not allowed here", "type": "permission_error"}},
            status=403,
        )

    return reply


async def test_canary_key_appears_nowhere(
    server: FakeServer, vendor: Vendor, debug_log: io.StringIO
) -> None:
    canary = f"sk-canary-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    seen: list[str] = []

    def agent(**overrides: Any) -> ProviderAgent[Any]:
        made = vendor.agent_with_key(server, canary, **overrides)
        seen.extend([repr(made), str(made)])
        return made

    async def expect_error(run: Awaitable[Any]) -> None:
        try:
            await run
        except AgentCLIError as exc:
            seen.append(str(exc))
            seen.append("".join(traceback.format_exception(exc)))
        else:  # pragma: no cover - every scripted path here fails
            raise AssertionError("expected an error")

    @tool
    async def echo(text: str) -> str:
        """Echo the text."""
        return text

    main = agent(tools=[echo], max_retries=1)
    # Success: plain, streamed, and a tool round.
    server.add(vendor.answer("fine"), vendor.stream(("fine",)))
    server.add(
        vendor.tool_calls(CallSpec("call_1", "echo", {"text": "hi"}), stream=True),
        vendor.reply("done", stream=True),
    )
    seen.append(str(await main.process(context())))
    for _ in range(2):
        seen.extend([str(e) async for e in main.stream_events(context())])
    # Every error a provider can send.
    for reply in (
        vendor.bad_key(),
        leaking_error(canary),
        vendor.rate_limited("300"),
        vendor.context_too_long(),
        vendor.model_not_found(),
    ):
        server.add(reply)
        await expect_error(main.process(context()))
    server.add(vendor.server_error(), vendor.server_error())
    await expect_error(main.process(context()))
    # Streams that stall or break.
    parts = vendor.stream_parts(("a", "b"))
    server.add(sse_reply([*parts[: after(parts, '"a"')], KeepAlive(5)]))
    await expect_error(consume(agent(stream_idle_timeout=0.3).process_stream(context())))
    server.add(sse_reply([*parts[:2], Drop()]), sse_reply([*parts[:2], Drop()]))
    await expect_error(consume(main.process_stream(context())))
    # Nobody listening, and no key at all.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = vendor.agent_with_key(f"http://127.0.0.1:{port}", canary, max_retries=0)
    seen.append(repr(down))
    await expect_error(down.process(context()))
    # A session stores failed turns with their error text.
    manager = SessionManager(main)
    server.add(vendor.bad_key())
    await expect_error(manager.chat("s1", "hello"))
    seen.append(messages_adapter.dump_json(await manager.history("s1")).decode())
    # Settings, shown every way.
    settings = vendor.settings(server, **{f"{vendor.name}_api_key": SecretStr(canary)})
    seen.extend([repr(settings), str(settings), str(settings.redacted())])
    seen.append(settings.model_dump_json())

    # The key did go over the wire (the fake server saw it) ...
    assert any(canary in str(r.headers) for r in server.requests)
    # ... and nowhere else.
    everything = "\n".join(seen) + debug_log.getvalue()
    assert "Incorrect API key" in everything or vendor.name == "anthropic"
    assert canary not in everything
    secret_part = canary.removeprefix("sk-canary-")
    for start in range(len(secret_part) - 7):
        assert secret_part[start : start + 8] not in everything


def test_scrub_removes_keys_fragments_and_masked_keys() -> None:
    key = "sk-proj-AbCdEf0123456789GhIjKl"
    assert scrub(f"bad key {key}!", key) == "bad key [redacted]!"
    assert "AbCdEf" not in scrub("starts AbCdEf01 here", key)
    assert scrub("Incorrect API key provided: sk-proj-AbC*******jKl.", key) == (
        "Incorrect API key provided: [redacted key]"
    )
    assert scrub("nothing secret", key) == "nothing secret"
    assert scrub("sk-proj- prefixes are public", key) == "sk-proj- prefixes are public"
