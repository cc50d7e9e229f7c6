"""A provider agent as the summariser, over real HTTP to the loopback fake vendors: the request
is valid for the vendor (a system prompt and one user turn, no tool blocks, no tools offered),
and the summary's usage is kept on the summary message."""

from __future__ import annotations

from typing import Any

from agentcli.agents import FunctionAgent
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall
from agentcli.session import SessionManager
from agentcli.session.summarize import SUMMARY_SYSTEM_PROMPT
from agentcli.session.window_cache import summary_range
from agentcli.tools import tool

from .fake_http import FakeServer, Recorded
from .vendors import Vendor

PLANS = "I plan a long walk and want to know about the rain, the wind and the sun at noon. " * 3


def tool_turns(context: AgentContext) -> AgentResponse:
    """Every answer runs one tool first: the history the summariser gets holds tool units."""
    call = ToolCall(id=f"call_{len(context.conversation_history)}", name="read_file")
    unit = [
        Message(role="assistant", tool_calls=(call,), tokens=5),
        Message(role="tool", tool_call_id=call.id, name="read_file", content="x = 42", tokens=5),
    ]
    return AgentResponse(output=f"read it for {context.input}", messages=unit)


def check_summary_request(vendor: Vendor, request: Recorded) -> str:
    """The request is one the vendor accepts; returns the text of its one user turn."""
    body: dict[str, Any] = request.json
    assert "tools" not in body
    assert "tool_choice" not in body
    messages = vendor.messages(request)
    if vendor.name == "openai":
        assert [m["role"] for m in messages] == ["system", "user"]
    else:
        assert [m["role"] for m in messages] == ["user"]  # one turn: nothing to alternate
        assert all(block["type"] == "text" for block in messages[0]["content"])
    assert vendor.system(request) == [SUMMARY_SYSTEM_PROMPT]
    [text] = vendor.user_texts(request)
    return text


async def test_a_provider_summariser_gets_a_valid_request_and_its_usage_is_counted(
    server: FakeServer, vendor: Vendor
) -> None:
    server.add(vendor.answer("The user had a.py read: x = 42.", prompt=321, output=9))
    m = SessionManager(
        FunctionAgent(tool_turns),
        context_window_size=300,
        cleanup_strategy="summarize",
        summary_agent=vendor.agent(server),
    )
    for turn in range(100):
        response = await m.chat("s", f"please read file number {turn} for me now")
        if response.cleanup is not None and response.cleanup.trimmed:
            break
    assert response.cleanup is not None
    assert response.cleanup.strategy == "summarize"
    [request] = server.requests  # one summariser call for the cleanup
    text = check_summary_request(vendor, request)
    assert "[called tool read_file with {}]" in text
    assert "[result of tool read_file]" in text
    [summary] = [x for x in await m.history("s") if summary_range(x) is not None]
    assert summary.content.endswith("The user had a.py read: x = 42.")
    assert summary.usage is not None
    assert (summary.usage.input_tokens, summary.usage.output_tokens) == (321, 9)
    assert summary.usage.cost is not None
    assert summary.usage.cost > 0


async def test_the_session_agent_summarises_without_its_tools_and_with_instructions(
    server: FakeServer, vendor: Vendor
) -> None:
    @tool
    async def get_weather(city: str) -> str:
        """The weather in a city."""
        raise AssertionError("no tool runs while summarising")

    cities = ("Paris", "Oslo", "Rome", "Lima")  # the last 5 messages stay: Paris goes
    server.add(*(vendor.stream((f"Sunny in {city}.",)) for city in cities))  # turns stream
    server.add(vendor.answer("Asked about the weather in Paris."))
    m = SessionManager(vendor.agent(server, tools=[get_weather]), context_window_size=100_000)
    for city in cities:
        await m.chat("s", f"What is the weather like in {city} today? {PLANS}")
    report = await m.compact("s", "keep the city names")
    assert report.strategy == "summarize"
    assert report.summarized == 2
    assert "tools" in server.requests[0].json  # the turns offered the tool
    text = check_summary_request(vendor, server.requests[-1])
    assert text.endswith("The user asks that the summary: keep the city names")
