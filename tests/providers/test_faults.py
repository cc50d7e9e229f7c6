"""Faults over real HTTP, for both vendors: rate limits, stalls, cuts, cancellation, bad keys,
unknown models, context overflow, server errors and an unreachable server."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest

from agentcli.agent import StreamEvent, TextDelta, ToolCallEvent
from agentcli.agents.provider_agent import ProviderAgent
from agentcli.errors import (
    AuthenticationError,
    ContextLengthError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from agentcli.messages import AgentContext
from agentcli.session import SessionManager
from agentcli.tools import tool

from .fake_http import Drop, FakeServer, KeepAlive, Pause, Recorded, Reply, sse_reply
from .vendors import CallSpec, Vendor, after

T = TypeVar("T")


def context(text: str = "Hello?") -> AgentContext:
    return AgentContext(input=text, session_id="s1")


async def drain(agent: ProviderAgent[Any], ctx: AgentContext | None = None) -> list[StreamEvent]:
    return [event async for event in agent.stream_events(ctx or context())]


async def collect_into(items: AsyncIterator[T], into: list[T]) -> None:
    """Gather ``items`` into ``into`` (kept when the iteration raises)."""
    async for item in items:
        into.append(item)


async def wait_for(event_flag: Recorded, what: str = "disconnected", seconds: float = 3) -> bool:
    flag = getattr(event_flag, what)
    return bool(await asyncio.to_thread(flag.wait, seconds))


def stalls_after_first_text(vendor: Vendor) -> Reply:
    """A stream that sends "first ", then only keep-alive comments for 10 s, then the rest."""
    parts = vendor.stream_parts(("first ", "second"))
    cut = after(parts, "first ")
    return sse_reply([*parts[:cut], KeepAlive(seconds=10), *parts[cut:]])


# ---------------------------------------------------------------------- rate limits


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_rate_limited_then_success_is_one_retry(
    server: FakeServer, vendor: Vendor, stream: bool
) -> None:
    server.add(vendor.rate_limited("0.01"), vendor.reply("made it", stream=stream))
    agent = vendor.agent(server)

    if stream:
        events = await drain(agent)
        assert [e.text for e in events if isinstance(e, TextDelta)] == ["made it"]
    else:
        assert (await agent.process(context())).output == "made it"
    # The SDK retried once; nothing above it retried again.
    assert len(server.requests) == 2


async def test_retries_are_the_sdks_alone(server: FakeServer, vendor: Vendor) -> None:
    server.add(*[vendor.rate_limited("0.01") for _ in range(10)])
    agent = vendor.agent(server, max_retries=2)

    with pytest.raises(RateLimitError) as caught:
        await agent.process(context())

    assert len(server.requests) == 3  # the first attempt and the SDK's two retries
    assert caught.value.status == 429
    assert "rate limiting" in str(caught.value)


@pytest.mark.parametrize("header", ["300", "Wed, 21 Oct 2099 07:28:00 GMT"])
async def test_long_retry_after_fails_fast_with_a_hint(
    server: FakeServer, vendor: Vendor, header: str
) -> None:
    server.add(vendor.rate_limited(header), vendor.answer("too late"))
    agent = vendor.agent(server, max_retry_after=20)

    started = time.perf_counter()
    with pytest.raises(RateLimitError) as caught:
        await agent.process(context())

    assert time.perf_counter() - started < 2
    assert len(server.requests) == 1
    error = caught.value
    assert error.retry_after is not None
    assert error.retry_after > 20
    message = str(error)
    assert "retry after" in message
    assert "AGENTCLI_MAX_RETRY_AFTER" in message
    if header == "300":
        assert "300 s" in message


async def test_long_retry_after_on_a_stream(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.rate_limited("120"))
    agent = vendor.agent(server)

    with pytest.raises(RateLimitError, match="asks to wait 120 s"):
        await drain(agent)
    assert len(server.requests) == 1


# ---------------------------------------------------------------------- streams that go wrong


async def test_stalled_stream_is_ended_by_the_idle_watchdog(
    server: FakeServer, vendor: Vendor
) -> None:
    parts = vendor.stream_parts(("partial ", "answer"))
    cut = after(parts, "partial ")
    # Text arrives, then only SSE keep-alive comments, for far longer than the watchdog's
    # 0.5 s (and longer than the SDK's read timeout, which they keep resetting).
    server.add(sse_reply([*parts[:cut], KeepAlive(seconds=10, every=0.05), *parts[cut:]]))
    agent = vendor.agent(server, stream_idle_timeout=0.5, request_timeout=0.3)

    seen: list[StreamEvent] = []
    started = time.perf_counter()
    with pytest.raises(ProviderTimeoutError, match="AGENTCLI_STREAM_IDLE_TIMEOUT"):
        await collect_into(agent.stream_events(context()), seen)

    assert 0.4 < time.perf_counter() - started < 3
    assert any(isinstance(e, TextDelta) for e in seen)  # text arrived before the stall
    assert await wait_for(server.requests[0])  # and the stream was closed
    assert len(server.requests) == 1


async def test_a_slow_consumer_is_not_a_stalled_stream(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.stream(("one ", "two ", "three")))
    agent = vendor.agent(server, stream_idle_timeout=0.15)

    texts = []
    async for event in agent.stream_events(context()):
        if isinstance(event, TextDelta):
            texts.append(event.text)
            await asyncio.sleep(0.2)  # longer than the idle timeout, on the consumer's side

    assert texts == ["one ", "two ", "three"]


async def test_idle_time_adds_up_across_empty_events(
    server: FakeServer, openai_vendor: Vendor
) -> None:
    from . import fake_openai

    parts = openai_vendor.stream_parts(("hi",))
    cut = after(parts, '"hi"')
    # Chunks with no content, each within the timeout, are not progress: the stall adds up.
    empty = fake_openai.stream_parts((), with_usage=False)[0]
    stall = [part for _ in range(6) for part in (Pause(0.15), empty)]
    server.add(sse_reply([*parts[:cut], *stall, *parts[cut:]]))
    agent = openai_vendor.agent(server, stream_idle_timeout=0.5)

    with pytest.raises(ProviderTimeoutError):
        await drain(agent)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_stream_cut_mid_tool_call_never_yields_the_call(
    server: FakeServer, vendor: Vendor, stream: bool
) -> None:
    ran: list[str] = []

    @tool
    async def save(note: str) -> str:
        """Save a note."""
        ran.append(note)
        return "saved"

    parts = vendor.stream_parts((), (CallSpec("call_s", "save", {"note": "a long note to save"}),))
    # Cut after the first piece of the arguments: the call has a name and half its JSON.
    cut = after(parts, "partial_json" if vendor.name == "anthropic" else '"arguments": "{')
    server.add(sse_reply([*parts[:cut], Drop()]))
    agent = vendor.agent(server, tools=[save], max_retries=0)

    events: list[StreamEvent] = []
    run = (
        collect_into(agent.stream_events(context()), events)
        if stream
        else collect_into(agent.process_stream(context()), [])
    )
    with pytest.raises(ProviderUnavailableError, match="ended the answer early"):
        await run
    assert not [e for e in events if isinstance(e, ToolCallEvent)]
    assert ran == []


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_token_limit_in_the_middle_of_a_tool_call(
    server: FakeServer, openai_vendor: Vendor, stream: bool
) -> None:
    from . import fake_openai

    half = (fake_openai.Call("call_h", "save", '{"note": "a long no'),)
    if stream:
        server.add(sse_reply(fake_openai.stream_parts((), calls=half, finish="length")))
    else:
        server.add(fake_openai.completion(None, calls=half, finish="length"))
    agent = openai_vendor.agent(server)

    events: list[StreamEvent] = []
    run = (
        collect_into(agent.stream_events(context()), events) if stream else agent.process(context())
    )
    with pytest.raises(ProviderError, match="token limit in the middle of a call to tool 'save'"):
        await run
    assert not [e for e in events if isinstance(e, ToolCallEvent)]


async def test_stream_that_ends_without_finishing_is_an_error(
    server: FakeServer, vendor: Vendor
) -> None:
    parts = vendor.stream_parts(("cut ", "short"))
    cut = after(parts, "short")
    # A clean end of the body, but before the model said it was done.
    server.add(sse_reply(parts[:cut]))
    agent = vendor.agent(server)

    with pytest.raises(ProviderUnavailableError, match="stopped before the model finished"):
        await drain(agent)


async def test_anthropic_error_event_mid_stream(
    server: FakeServer, anthropic_vendor: Vendor
) -> None:
    from . import fake_anthropic

    parts = anthropic_vendor.stream_parts(("hel",))
    server.add(sse_reply([*parts[:3], fake_anthropic.stream_error_event("overloaded_error")]))
    agent = anthropic_vendor.agent(server)

    with pytest.raises(ProviderUnavailableError, match="Overloaded"):
        await drain(agent)


async def test_cancelling_mid_stream_closes_the_connection(
    server: FakeServer, vendor: Vendor
) -> None:
    server.add(stalls_after_first_text(vendor))
    agent = vendor.agent(server, stream_idle_timeout=30)
    first_text = asyncio.Event()

    async def consume() -> None:
        async for event in agent.stream_events(context()):
            if isinstance(event, TextDelta):
                first_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_text.wait(), 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await wait_for(server.requests[0])


async def test_closing_the_event_stream_closes_the_connection(
    server: FakeServer, vendor: Vendor
) -> None:
    server.add(stalls_after_first_text(vendor), vendor.answer("next"))
    agent = vendor.agent(server, stream_idle_timeout=30)

    events = agent.stream_events(context())
    async for event in events:
        if isinstance(event, TextDelta):
            break
    await events.aclose()  # type: ignore[attr-defined]

    assert await wait_for(server.requests[0])
    # The agent stays usable.
    assert (await agent.process(context())).output == "next"


async def test_interrupted_session_turn_closes_the_connection(
    server: FakeServer, vendor: Vendor
) -> None:
    server.add(stalls_after_first_text(vendor))
    agent = vendor.agent(server, stream_idle_timeout=30)
    manager = SessionManager(agent)

    chunks = manager.stream("s1", "tell me")
    async for _ in chunks:
        break
    await chunks.aclose()

    assert await wait_for(server.requests[0])
    history = await manager.history("s1")
    assert [m.status for m in history] == ["complete", "interrupted"]


# ---------------------------------------------------------------------- errors a user must fix


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_bad_key(server: FakeServer, vendor: Vendor, stream: bool) -> None:
    server.add(vendor.bad_key())
    agent = vendor.agent(server)

    with pytest.raises(AuthenticationError) as caught:
        await (drain(agent) if stream else agent.process(context()))

    assert f"check {vendor.key_variable}" in str(caught.value)
    assert caught.value.status == 401
    assert len(server.requests) == 1  # a bad key is not retried


async def test_missing_key_fails_before_any_request(server: FakeServer, vendor: Vendor) -> None:
    agent = vendor.agent_with_key(server, "")

    with pytest.raises(AuthenticationError, match=f"set {vendor.key_variable}"):
        await agent.process(context())
    assert server.requests == []


async def test_unknown_model(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.model_not_found())
    agent = vendor.agent(server, model="no-such-model")

    with pytest.raises(ModelNotFoundError, match="does not know model 'no-such-model'"):
        await agent.process(context())


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_context_too_long(server: FakeServer, vendor: Vendor, stream: bool) -> None:
    server.add(vendor.context_too_long())
    agent = vendor.agent(server)

    with pytest.raises(ContextLengthError, match="too long"):
        await (drain(agent) if stream else agent.process(context()))
    assert len(server.requests) == 1


async def test_context_too_long_makes_the_session_trim_and_retry_once(
    server: FakeServer, vendor: Vendor
) -> None:
    turns = 6
    for i in range(turns):
        server.add(vendor.stream((f"answer {i}",), prompt=100 + i, output=10))
    server.add(vendor.context_too_long(), vendor.stream(("fits now",), prompt=50, output=5))
    agent = vendor.agent(server)
    manager = SessionManager(agent, context_window_size=100_000)
    for i in range(turns):
        await manager.chat("s1", f"question {i}")

    response = await manager.chat("s1", "one more")

    assert response.output == "fits now"
    too_long, retried = server.requests[-2:]
    assert len(server.requests) == turns + 2  # one retry, by the session
    assert len(vendor.messages(retried)) < len(vendor.messages(too_long))
    assert vendor.user_texts(retried)[-1] == "one more"
    statuses = [m.status for m in await manager.history("s1")]
    assert "failed" not in statuses


async def test_a_failed_tool_turn_leaves_no_partial_call_in_the_session(
    server: FakeServer, vendor: Vendor
) -> None:
    @tool
    async def save(note: str) -> str:
        """Save a note."""
        return "saved"

    parts = vendor.stream_parts((), (CallSpec("call_s", "save", {"note": "x" * 40}),))
    server.add(sse_reply([*parts[:-3], Drop()]))
    agent = vendor.agent(server, tools=[save], max_retries=0)
    manager = SessionManager(agent)

    with pytest.raises(ProviderUnavailableError):
        await manager.chat("s1", "save a note")

    history = await manager.history("s1")
    assert [(m.role, m.status) for m in history] == [("user", "complete"), ("assistant", "failed")]
    assert all(not m.tool_calls for m in history)


# ---------------------------------------------------------------------- the server is down


async def test_server_errors_exhaust_the_sdk_retries(server: FakeServer, vendor: Vendor) -> None:
    server.add(*[vendor.server_error() for _ in range(3)])
    agent = vendor.agent(server, max_retries=2)

    with pytest.raises(ProviderUnavailableError, match="unavailable") as caught:
        await agent.process(context())
    assert caught.value.status == 500
    assert len(server.requests) == 3


async def test_connection_refused(vendor: Vendor) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    agent = vendor.agent(f"http://127.0.0.1:{port}", max_retries=0)

    with pytest.raises(
        ProviderUnavailableError, match=f"cannot reach .* at http://127.0.0.1:{port}"
    ):
        await agent.process(context())


async def test_no_answer_in_time(server: FakeServer, vendor: Vendor) -> None:
    def slow(_: Recorded) -> Reply:
        return Reply(
            headers={"content-type": "text/event-stream"},
            parts=[Pause(2)],
        )

    server.add(slow)
    agent = vendor.agent(server, request_timeout=0.3, max_retries=0, stream_idle_timeout=0.3)

    with pytest.raises((ProviderTimeoutError,)):
        await agent.process(context())


async def test_errors_are_in_the_tree(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.model_not_found())
    agent = vendor.agent(server)

    with pytest.raises(ProviderError) as caught:
        await agent.process(context())
    assert caught.value.provider == vendor.name
