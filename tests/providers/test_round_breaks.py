"""Text from two rounds of one answer (before and after a tool call) is two paragraphs, never
glued into one word: in the stream, and so in whatever is kept of an interrupted answer."""

from __future__ import annotations

import pytest

from agentcli import MemoryStore, SessionManager
from agentcli.agent import TextDelta, TurnComplete
from agentcli.agents.loop import paragraph_break
from agentcli.messages import AgentContext
from agentcli.tools import tool

from .fake_http import FakeServer
from .vendors import CallSpec, Vendor


@tool
async def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


async def test_a_new_round_starts_a_new_paragraph(server: FakeServer, vendor: Vendor) -> None:
    call = CallSpec("call_w1", "get_weather", {"city": "Paris"})
    server.add(
        vendor.tool_calls(call, stream=True, text="Let me check."),
        vendor.reply("It is sunny in Paris.", stream=True),
    )
    agent = vendor.agent(server, tools=[get_weather])
    events = [e async for e in agent.stream_events(AgentContext(input="weather?", session_id="s"))]

    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert streamed == "Let me check.\n\nIt is sunny in Paris."
    final = events[-1]
    assert isinstance(final, TurnComplete)
    assert final.response.output == "It is sunny in Paris."  # the answer's own round
    assert final.response.messages[0].content == "Let me check."  # kept with its tool call


async def test_the_session_stores_both_rounds_apart(server: FakeServer, vendor: Vendor) -> None:
    call = CallSpec("call_w1", "get_weather", {"city": "Paris"})
    server.add(
        vendor.tool_calls(call, stream=True, text="Let me check."),
        vendor.reply("It is sunny in Paris.", stream=True),
    )
    manager = SessionManager(vendor.agent(server, tools=[get_weather]), store=MemoryStore())
    await manager.chat("s", "weather?")
    history = await manager.history("s")
    assert [(m.role, m.content) for m in history] == [
        ("user", "weather?"),
        ("assistant", "Let me check."),
        ("tool", "sunny in Paris"),
        ("assistant", "It is sunny in Paris."),
    ]


@pytest.mark.parametrize(
    ("before", "after", "gap"),
    [
        ("Let me check.", "It is sunny.", "\n\n"),
        ("Let me check.\n", "It is sunny.", "\n"),
        ("Let me check.", "\n\nIt is sunny.", ""),
        ("Let me check.\n\n\n", "It is sunny.", ""),
    ],
)
def test_paragraph_break_counts_the_breaks_already_there(before: str, after: str, gap: str) -> None:
    assert paragraph_break(before, after) == gap
