"""The tool loop over real HTTP: two rounds, parallel calls, the round limit, for both vendors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentcli.agent import StreamEvent, TextDelta, ToolCallEvent, ToolResultEvent, TurnComplete
from agentcli.agents.provider_agent import ProviderAgent
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall
from agentcli.tools import Tool, tool

from .fake_http import FakeServer, Recorded
from .vendors import CallSpec, Vendor


def context(text: str = "What's the weather in Paris?") -> AgentContext:
    return AgentContext(input=text, session_id="s1")


async def run(agent: ProviderAgent[Any], stream: bool) -> tuple[list[StreamEvent], AgentResponse]:
    if not stream:
        response = await agent.process(context())
        return [], response
    events = [event async for event in agent.stream_events(context())]
    last = events[-1]
    assert isinstance(last, TurnComplete)
    return events, last.response


def weather_tool(calls: list[str]) -> Tool:
    @tool
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    return get_weather


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_two_round_tool_conversation(
    server: FakeServer, vendor: Vendor, stream: bool
) -> None:
    ran: list[str] = []
    call = CallSpec("call_w1", "get_weather", {"city": "Paris"})
    server.add(
        vendor.tool_calls(call, stream=stream, text="Let me check.", prompt=50, output=20),
        vendor.reply("It is sunny in Paris.", stream=stream, prompt=80, output=10),
    )
    agent = vendor.agent(server, tools=[weather_tool(ran)])

    events, response = await run(agent, stream)

    assert ran == ["Paris"]
    assert response.output == "It is sunny in Paris."
    # The tool unit is returned for storage: the call, then its result, with their ids.
    call_message, result = response.messages
    assert call_message.role == "assistant"
    assert call_message.content == "Let me check."
    [made] = call_message.tool_calls
    assert (made.id, made.name) == ("call_w1", "get_weather")
    assert made.arguments.replace(" ", "") == '{"city":"Paris"}'
    assert (result.role, result.tool_call_id, result.content) == (
        "tool",
        "call_w1",
        "sunny in Paris",
    )
    assert call_message.tokens == 20
    assert result.tokens > 0
    # Usage is summed over both requests; the window holds what the last one saw.
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == 130
    assert usage.output_tokens == 30
    assert usage.context_tokens == 90
    assert usage.requests == 2
    assert not result.is_error
    # The second request carries the call and its result.
    first, second = server.requests
    tools_sent = first.json["tools"]
    assert len(tools_sent) == 1
    assert vendor.tool_results(second) == {"call_w1": "sunny in Paris"}
    if stream:
        kinds = [type(e).__name__ for e in events]
        assert kinds == [
            "TextDelta",
            "ToolCallEvent",
            "ToolResultEvent",
            "TextDelta",
            "TurnComplete",
        ]
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == (
            "Let me check.\n\nIt is sunny in Paris."  # two rounds, two paragraphs
        )


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_parallel_tool_calls_run_together(
    server: FakeServer, vendor: Vendor, stream: bool
) -> None:
    both_running = asyncio.Event()
    started: list[str] = []

    @tool
    async def lookup(key: str) -> str:
        """Look a key up."""
        started.append(key)
        if len(started) == 2:
            both_running.set()
        # Each call waits for the other to have started: only concurrent calls finish.
        await asyncio.wait_for(both_running.wait(), timeout=2)
        return f"value of {key}"

    server.add(
        vendor.tool_calls(
            CallSpec("call_a", "lookup", {"key": "a"}),
            CallSpec("call_b", "lookup", {"key": "b"}),
            stream=stream,
        ),
        vendor.reply("a and b found", stream=stream),
    )
    agent = vendor.agent(server, tools=[lookup])

    events, response = await run(agent, stream)

    assert response.output == "a and b found"
    assert [m.tool_call_id for m in response.messages[1:]] == ["call_a", "call_b"]
    assert [m.content for m in response.messages[1:]] == ["value of a", "value of b"]
    assert vendor.tool_results(server.requests[1]) == {
        "call_a": "value of a",
        "call_b": "value of b",
    }
    if stream:
        calls = [e.call.id for e in events if isinstance(e, ToolCallEvent)]
        results = [e.message.tool_call_id for e in events if isinstance(e, ToolResultEvent)]
        assert calls == results == ["call_a", "call_b"]


def tool_result_blocks(vendor: Vendor, request: Recorded) -> dict[str, dict[str, Any]]:
    """Anthropic's ``tool_result`` blocks in a request, by call id."""
    return {
        block["tool_use_id"]: block
        for message in vendor.messages(request)
        if isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_result"
    }


async def test_tool_failure_is_a_result_the_model_reads(server: FakeServer, vendor: Vendor) -> None:
    @tool
    def divide(a: float, b: float) -> float:
        """Divide a by b."""
        return a / b

    server.add(
        vendor.tool_calls(CallSpec("call_d", "divide", {"a": 1, "b": 0}), stream=True),
        vendor.reply("Cannot divide by zero.", stream=True),
    )
    agent = vendor.agent(server, tools=[divide])

    _, response = await run(agent, stream=True)

    assert response.output == "Cannot divide by zero."
    # Stored with the flag, and the text says what went wrong (no prefix in storage).
    stored = response.messages[1]
    assert stored.is_error is True
    assert stored.content == "ZeroDivisionError: float division by zero"
    sent = vendor.tool_results(server.requests[1])["call_d"]
    if vendor.name == "anthropic":
        assert sent == stored.content
        assert tool_result_blocks(vendor, server.requests[1])["call_d"]["is_error"] is True
    else:
        # Chat Completions has no failure flag: the model is told in the text, on the wire only.
        assert sent == "error: ZeroDivisionError: float division by zero"


async def test_an_output_that_starts_with_error_is_not_a_failure(
    server: FakeServer, vendor: Vendor
) -> None:
    @tool
    def grep_log() -> str:
        """The last line of the log."""
        return "error: disk full (logged at 03:12)"

    server.add(
        vendor.tool_calls(CallSpec("call_g", "grep_log", {}), stream=False),
        vendor.reply("The log reports a full disk.", stream=False),
    )
    agent = vendor.agent(server, tools=[grep_log])

    response = await agent.process(context())

    stored = response.messages[1]
    assert stored.is_error is False
    assert stored.content == "error: disk full (logged at 03:12)"
    sent = vendor.tool_results(server.requests[1])["call_g"]
    assert sent == "error: disk full (logged at 03:12)"  # as the tool wrote it, nothing added
    if vendor.name == "anthropic":
        assert "is_error" not in tool_result_blocks(vendor, server.requests[1])["call_g"]


async def test_a_failed_result_in_the_history_keeps_its_flag(
    server: FakeServer, vendor: Vendor
) -> None:
    call = ToolCall(id="call_h", name="lookup", arguments="{}")
    history = [
        Message(role="user", content="look it up"),
        Message(role="assistant", tool_calls=(call,)),
        Message(
            role="tool", tool_call_id="call_h", name="lookup", content="no such key", is_error=True
        ),
        Message(role="assistant", content="It failed."),
    ]
    server.add(vendor.answer("ok"))
    agent = vendor.agent(server)

    await agent.process(AgentContext(input="again?", session_id="s1", conversation_history=history))

    sent = vendor.tool_results(server.requests[0])["call_h"]
    if vendor.name == "anthropic":
        assert sent == "no such key"
        assert tool_result_blocks(vendor, server.requests[0])["call_h"]["is_error"] is True
    else:
        assert sent == "error: no such key"


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
async def test_tool_rounds_stop_at_the_limit_with_a_note(
    server: FakeServer, vendor: Vendor, stream: bool
) -> None:
    ran: list[str] = []
    server.add(
        vendor.tool_calls(CallSpec("call_1", "get_weather", {"city": "Rome"}), stream=stream),
        vendor.tool_calls(CallSpec("call_2", "get_weather", {"city": "Oslo"}), stream=stream),
        # Asked with tools switched off, this server still calls one: it is dropped.
        vendor.tool_calls(
            CallSpec("call_3", "get_weather", {"city": "Lima"}), stream=stream, text="Partial."
        ),
    )
    agent = vendor.agent(server, tools=[weather_tool(ran)], max_tool_rounds=2)

    events, response = await run(agent, stream)

    assert ran == ["Rome", "Oslo"]
    assert len(server.requests) == 3
    assert response.output.startswith("Partial.\n\n[stopped calling tools after 2 rounds")
    assert "AGENTCLI_MAX_TOOL_ROUNDS" in response.output
    assert [m.tool_call_id for m in response.messages if m.role == "tool"] == ["call_1", "call_2"]
    last = server.requests[2].json
    expected_choice = "none" if vendor.name == "openai" else {"type": "none"}
    assert last["tool_choice"] == expected_choice
    assert "tool_choice" not in server.requests[0].json
    if stream:
        streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert streamed == response.output


async def test_unknown_tool_name_is_answered_not_raised(server: FakeServer, vendor: Vendor) -> None:
    server.add(
        vendor.tool_calls(CallSpec("call_x", "no_such_tool", {}), stream=False),
        vendor.reply("sorry", stream=False),
    )
    agent = vendor.agent(server, tools=[weather_tool([])])

    response = await agent.process(context())

    assert response.output == "sorry"
    assert "unknown tool 'no_such_tool'" in vendor.tool_results(server.requests[1])["call_x"]
    assert response.messages[1].is_error is True
