"""``Retry-After`` over real HTTP, for both vendors: a server error asking for a long wait is
treated like a rate limit (fail at once past AGENTCLI_MAX_RETRY_AFTER, saying when to retry),
and values that cannot be read or make no sense never crash a turn."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from agentcli.agents._retry_after import retry_after_seconds, retry_hint
from agentcli.errors import ProviderError, ProviderUnavailableError, RateLimitError
from agentcli.messages import AgentContext

from .fake_http import FakeServer
from .vendors import Vendor


def context() -> AgentContext:
    return AgentContext(input="Hello?", session_id="s1")


def http_date(offset: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + offset, usegmt=True)


async def fails_at_once(vendor: Vendor, server: FakeServer, stream: bool) -> ProviderError:
    """Run a turn that must fail on the first response, without a retry or a wait."""
    agent = vendor.agent(server, max_retry_after=20)

    async def streamed() -> None:
        async for _ in agent.stream_events(context()):
            pass

    started = time.perf_counter()
    with pytest.raises(ProviderError) as caught:
        await (streamed() if stream else agent.process(context()))
    assert time.perf_counter() - started < 2
    assert len(server.requests) == 1
    return caught.value


# ---------------------------------------------------------------------- server errors


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
@pytest.mark.parametrize("status", [500, 503])
async def test_a_server_error_asking_for_a_long_wait_fails_at_once(
    server: FakeServer, vendor: Vendor, status: int, stream: bool
) -> None:
    server.add(vendor.server_error(status, {"retry-after": "300"}), vendor.answer("too late"))

    error = await fails_at_once(vendor, server, stream)

    # The same words and checks as a rate limit, with the error of a server that is down.
    assert isinstance(error, ProviderUnavailableError)
    assert error.status == status
    message = str(error)
    assert f"asks to wait 300 s before retrying ({status}" in message
    assert "longer than AGENTCLI_MAX_RETRY_AFTER (20 s)" in message
    assert "retry after" in message


async def test_a_server_error_asking_for_a_long_wait_in_milliseconds(
    server: FakeServer, vendor: Vendor
) -> None:
    server.add(vendor.server_error(503, {"retry-after-ms": "90000"}))

    error = await fails_at_once(vendor, server, stream=False)

    assert isinstance(error, ProviderUnavailableError)
    assert "asks to wait 90 s" in str(error)


async def test_a_server_error_asking_for_a_short_wait_is_retried(
    server: FakeServer, vendor: Vendor
) -> None:
    server.add(vendor.server_error(503, {"retry-after": "0.05"}), vendor.answer("made it"))
    agent = vendor.agent(server, max_retry_after=20)

    assert (await agent.process(context())).output == "made it"
    assert len(server.requests) == 2  # one retry, by the SDK, after the wait asked for


async def test_a_wait_at_the_cap_is_still_honoured(server: FakeServer, vendor: Vendor) -> None:
    server.add(vendor.server_error(503, {"retry-after": "0.2"}), vendor.answer("made it"))
    agent = vendor.agent(server, max_retry_after=0.2)

    started = time.perf_counter()
    assert (await agent.process(context())).output == "made it"
    assert time.perf_counter() - started >= 0.2


# ---------------------------------------------------------------------- values that make no sense


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    "value",
    ["soon", "", "nan", "-5", "Wed, 21 Oct 2015 07:28:00 GMT", "Mon, 99 Foo 2024 99:99:99 GMT"],
    ids=["text", "empty", "nan", "negative", "past-date", "broken-date"],
)
async def test_unreadable_or_past_waits_are_ignored(
    server: FakeServer, vendor: Vendor, status: int, value: str
) -> None:
    # Nothing usable was asked for: the SDK's own short backoff applies, and the retry works.
    server.add(vendor.refusal(status, {"retry-after": value}), vendor.answer("made it"))
    agent = vendor.agent(server, max_retries=1)

    started = time.perf_counter()
    assert (await agent.process(context())).output == "made it"
    assert time.perf_counter() - started < 3
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"retry-after": "1e12"}, 1e12),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "1e400"}, None),  # overflows a float: no number, but surely long
        ({"retry-after-ms": "1e400"}, None),
        ({"retry-after-ms": "soon", "retry-after": "1e12"}, 1e12),
    ],
    ids=["huge", "infinite", "overflowing", "overflowing-ms", "bad-ms-then-seconds"],
)
async def test_absurdly_long_waits_fail_at_once(
    server: FakeServer,
    vendor: Vendor,
    status: int,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    # The anthropic SDK would sleep for up to 50 days on these; we never do.
    server.add(vendor.refusal(status, headers), vendor.answer("too late"))

    error = await fails_at_once(vendor, server, stream=False)

    message = str(error)
    assert "asks to wait more than a year" in message
    assert "retry after more than a year" in message
    if status == 429:
        assert isinstance(error, RateLimitError)
        assert error.retry_after == retry_after  # a finite hint, or none rather than infinity
    else:
        assert isinstance(error, ProviderUnavailableError)


@pytest.mark.parametrize("status", [429, 503])
async def test_a_date_far_ahead_fails_at_once_with_the_date(
    server: FakeServer, vendor: Vendor, status: int
) -> None:
    server.add(vendor.refusal(status, {"retry-after": http_date(timedelta(days=3))}))

    error = await fails_at_once(vendor, server, stream=True)

    when = (datetime.now() + timedelta(days=3)).strftime("%Y-%m-%d")
    assert f"retry after {when}" in str(error)
    if isinstance(error, RateLimitError):
        assert error.retry_after is not None
        assert 3 * 86_400 - 60 < error.retry_after <= 3 * 86_400


async def test_a_date_just_ahead_is_waited_for(server: FakeServer, vendor: Vendor) -> None:
    # HTTP dates have whole seconds: "in 1 s" is a wait of 0 to 1 s.
    server.add(vendor.refusal(429, {"retry-after": http_date(timedelta(seconds=1))}))
    server.add(vendor.answer("made it"))
    agent = vendor.agent(server, max_retries=1)

    assert (await agent.process(context())).output == "made it"
    assert len(server.requests) == 2


# ---------------------------------------------------------------------- reading the header


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, None),
        ({"retry-after": "12"}, 12.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "12"}, 0.25),  # milliseconds first
        ({"retry-after-ms": "x", "retry-after": "12"}, 12.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "-inf"}, 0.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "inf"}, float("inf")),
        ({"retry-after": "9" * 400}, float("inf")),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


@pytest.mark.parametrize(
    ("seconds", "shape"),
    [
        (30, r"retry after \d\d:\d\d:\d\d \(in 30 s\)"),
        (3 * 86_400, r"retry after \d{4}-\d\d-\d\d \d\d:\d\d \(in 259200 s\)"),
        (40 * 365 * 86_400, r"retry after \d{4}-\d\d-\d\d \d\d:\d\d \(in more than a year\)"),
        (1e300, r"retry after more than a year"),
        (float("inf"), r"retry after more than a year"),
    ],
)
def test_retry_hints_never_overflow(seconds: float, shape: str) -> None:
    assert re.fullmatch(shape, retry_hint(seconds))
