"""What settings put into requests, over real HTTP: the answer cap (``max_output_tokens``) for
both vendors, and Anthropic's prompt-cache breakpoints with their cached tokens priced."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from agentcli.agent import AgentInterface, TurnComplete
from agentcli.agents.anthropic import DEFAULT_MAX_TOKENS, AnthropicAgent
from agentcli.agents.factory import create_agent
from agentcli.agents.provider_agent import ProviderAgent
from agentcli.config import Settings
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall
from agentcli.tools import Tool, tool

from . import fake_anthropic
from .fake_http import FakeServer, Recorded
from .vendors import CallSpec, Vendor

EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture
async def made() -> AsyncIterator[list[AgentInterface]]:
    """Agents a test builds through the factory, closed when it ends."""
    agents: list[AgentInterface] = []
    yield agents
    for agent in agents:
        await agent.aclose()


def from_factory(vendor: Vendor, settings: Settings, made: list[AgentInterface]) -> AgentInterface:
    agent = create_agent(f"{vendor.name}:{vendor.model}", settings)
    made.append(agent)
    return agent


def history() -> list[Message]:
    """An earlier exchange with a tool call: the stable start of the next request."""
    call = ToolCall(id="call_0", name="get_weather", arguments='{"city": "Oslo"}')
    return [
        Message(role="user", content="Weather in Oslo?"),
        Message(role="assistant", content="", tool_calls=(call,)),
        Message(role="tool", content="rain in Oslo", tool_call_id="call_0"),
        Message(role="assistant", content="It rains in Oslo."),
    ]


def context(text: str = "And in Paris?", **fields: Any) -> AgentContext:
    return AgentContext(input=text, session_id="s1", **fields)


def weather_tools() -> list[Tool]:
    @tool
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    @tool
    async def get_time(city: str) -> str:
        """The time in a city."""
        return f"noon in {city}"

    return [get_weather, get_time]


def breakpoints(request: Recorded) -> list[str]:
    """Where the request marks cache breakpoints, as readable positions."""
    body = request.json
    found = [f"tools[{i}]" for i, t in enumerate(body.get("tools", [])) if "cache_control" in t]
    system = body.get("system")
    if isinstance(system, list):
        found += [f"system[{i}]" for i, b in enumerate(system) if "cache_control" in b]
    for m, message in enumerate(body["messages"]):
        for b, block in enumerate(message["content"]):
            if "cache_control" in block:
                assert block["cache_control"] == EPHEMERAL
                found.append(f"messages[{m}][{b}]:{block['type']}")
    return found


# ---------------------------------------------------------------------- max_output_tokens


async def test_max_output_tokens_caps_each_answer(
    server: FakeServer, vendor: Vendor, made: list[AgentInterface]
) -> None:
    server.add(vendor.answer("capped"))
    agent = from_factory(vendor, vendor.settings(server, max_output_tokens=321), made)

    await agent.process(context())

    body = server.requests[0].json
    key = "max_completion_tokens" if vendor.name == "openai" else "max_tokens"
    assert body[key] == 321
    assert "max_tokens" not in body or key == "max_tokens"  # OpenAI: only the current name


async def test_without_a_cap_openai_sends_none_and_anthropic_its_default(
    server: FakeServer, vendor: Vendor, made: list[AgentInterface]
) -> None:
    server.add(vendor.answer("uncapped"))
    agent = from_factory(vendor, vendor.settings(server), made)

    await agent.process(context())

    body = server.requests[0].json
    if vendor.name == "openai":
        assert "max_completion_tokens" not in body
        assert "max_tokens" not in body
    else:
        assert body["max_tokens"] == DEFAULT_MAX_TOKENS  # the Messages API requires one


def test_an_explicit_max_tokens_wins_over_the_setting(
    vendor: Vendor, made: list[AgentInterface]
) -> None:
    settings = vendor.settings("http://127.0.0.1:9", max_output_tokens=321)
    agent = create_agent(f"{vendor.name}:{vendor.model}", settings, max_tokens=77)
    made.append(agent)
    assert isinstance(agent, ProviderAgent)
    assert agent.max_tokens == 77


# ---------------------------------------------------------------------- prompt caching


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_breakpoints_on_tools_system_window_and_last_block(
    server: FakeServer, anthropic_vendor: Vendor, stream: bool
) -> None:
    call = CallSpec("call_1", "get_weather", {"city": "Paris"})
    server.add(
        anthropic_vendor.tool_calls(call, stream=stream),
        anthropic_vendor.reply("Sunny in Paris.", stream=stream),
    )
    agent = anthropic_vendor.agent(server, tools=weather_tools())
    ctx = context(system_prompt="You are a weather bot.", conversation_history=history())

    if stream:
        events = [event async for event in agent.stream_events(ctx)]
        assert isinstance(events[-1], TurnComplete)
    else:
        await agent.process(ctx)

    first, second = server.requests
    assert first.json["system"] == [
        {"type": "text", "text": "You are a weather bot.", "cache_control": EPHEMERAL}
    ]
    # messages: [user, assistant tool_use, user tool_result, assistant answer, user new input]
    assert breakpoints(first) == [
        "tools[1]",  # the last tool: tools come first in the cached prefix
        "system[0]",
        "messages[3][0]:text",  # the window before the new input: fixed for the whole turn
        "messages[4][0]:text",  # the request's end: the next round or turn reads it back
    ]
    # The second round adds the call and its result; the window's breakpoint stays put and the
    # moving one is on the tool result now (never more than Anthropic's four).
    assert breakpoints(second) == [
        "tools[1]",
        "system[0]",
        "messages[3][0]:text",
        "messages[6][0]:tool_result",
    ]
    # The prefix up to the window's breakpoint is byte-identical in both requests.
    assert first.json["messages"][:4] == second.json["messages"][:4]


async def test_a_first_turn_marks_system_and_input_only(
    server: FakeServer, anthropic_vendor: Vendor
) -> None:
    server.add(anthropic_vendor.answer())
    agent = anthropic_vendor.agent(server)

    await agent.process(context("Hi", system_prompt="Be brief."))

    [request] = server.requests
    assert breakpoints(request) == ["system[0]", "messages[0][0]:text"]
    assert "tools" not in request.json


async def test_a_window_of_several_system_messages_marks_the_last(
    server: FakeServer, anthropic_vendor: Vendor
) -> None:
    server.add(anthropic_vendor.answer())
    agent = anthropic_vendor.agent(server)
    earlier = [Message(role="system", content="Answer in French."), *history()]

    await agent.process(context(system_prompt="Be brief.", conversation_history=earlier))

    [request] = server.requests
    assert [b["text"] for b in request.json["system"]] == ["Be brief.", "Answer in French."]
    assert breakpoints(request) == ["system[1]", "messages[3][0]:text", "messages[4][0]:text"]


@pytest.mark.parametrize("how", ["setting", "argument"])
async def test_caching_off_sends_no_cache_control(
    server: FakeServer, anthropic_vendor: Vendor, how: str
) -> None:
    call = CallSpec("call_1", "get_weather", {"city": "Paris"})
    server.add(
        anthropic_vendor.tool_calls(call, stream=False),
        anthropic_vendor.answer("Sunny in Paris."),
    )
    if how == "setting":
        agent = anthropic_vendor.agent(server, tools=weather_tools(), anthropic_prompt_cache=False)
    else:
        settings = anthropic_vendor.settings(server)
        agent = AnthropicAgent(
            anthropic_vendor.model, settings, tools=weather_tools(), prompt_cache=False
        )
        anthropic_vendor.agents.append(agent)
    ctx = context(system_prompt="You are a weather bot.", conversation_history=history())

    await agent.process(ctx)

    assert len(server.requests) == 2
    for request in server.requests:
        assert b"cache_control" not in request.body
        assert request.json["system"] == "You are a weather bot."


def test_the_setting_reaches_agents_from_the_factory(
    anthropic_vendor: Vendor, made: list[AgentInterface]
) -> None:
    for value in (True, False):
        settings = anthropic_vendor.settings("http://127.0.0.1:9", anthropic_prompt_cache=value)
        agent = create_agent(f"anthropic:{anthropic_vendor.model}", settings)
        made.append(agent)
        assert isinstance(agent, AnthropicAgent)
        assert agent.prompt_cache is value


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_cached_tokens_are_counted_and_priced_at_cache_rates(
    server: FakeServer, anthropic_vendor: Vendor, stream: bool
) -> None:
    # Anthropic's input_tokens leaves out what was read from or written to the cache.
    if stream:
        reply = fake_anthropic.stream(
            ("Sunny.",), prompt=300, output=40, cache_read=12_000, cache_write=1_500
        )
    else:
        reply = fake_anthropic.message(
            "Sunny.", prompt=300, output=40, cache_read=12_000, cache_write=1_500
        )
    server.add(reply)
    agent = anthropic_vendor.agent(server)

    if stream:
        events = [event async for event in agent.stream_events(context())]
        last = events[-1]
        assert isinstance(last, TurnComplete)
        response: AgentResponse = last.response
    else:
        response = await agent.process(context())

    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == 300 + 12_000 + 1_500  # the whole prompt
    assert usage.cached_tokens == 12_000
    assert usage.cache_write_tokens == 1_500
    assert usage.output_tokens == 40
    model = anthropic_vendor.model
    expected = calc_price(
        Usage(
            input_tokens=13_800,
            output_tokens=40,
            cache_read_tokens=12_000,
            cache_write_tokens=1_500,
        ),
        model,
        provider_id="anthropic",
    ).total_price
    uncached = calc_price(
        Usage(input_tokens=13_800, output_tokens=40), model, provider_id="anthropic"
    ).total_price
    assert usage.cost == float(expected)
    assert Decimal(str(usage.cost)) < uncached  # reads cost a tenth; writes a quarter more


def test_requests_leave_the_conversation_and_tools_as_they_were(anthropic_vendor: Vendor) -> None:
    # Each request copies what it marks: the moving breakpoint never stays behind.
    from agentcli.agents.wire.anthropic import AnthropicWire

    wire = AnthropicWire(anthropic_vendor.model, None)
    conversation = wire.start("sys", [*history(), Message(role="user", content="Paris?")])
    before = json.dumps(conversation.messages)
    schemas = [t.anthropic_schema() for t in weather_tools()]
    first = wire.request(conversation, schemas, True)
    second = wire.request(conversation, schemas, True)
    assert first == second
    assert json.dumps(conversation.messages) == before
    assert all("cache_control" not in schema for schema in schemas)
