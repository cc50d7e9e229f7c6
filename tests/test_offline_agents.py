"""The offline agents: the echo default and the function wrapper for users' tests."""

from __future__ import annotations

from typing import Any

import pytest

from agentcli import AgentContext, AgentResponse, EchoAgent, FunctionAgent, SessionManager
from agentcli.agent import TextDelta, TurnComplete
from agentcli.agents.offline import AgentFunction


async def test_echo_streams_word_by_word_and_reports_usage() -> None:
    manager = SessionManager(EchoAgent())
    events = [e async for e in manager.stream_events("s", "hello there")]
    words = [e.text for e in events if isinstance(e, TextDelta)]
    assert words[:3] == ["You ", "said: ", "hello "]
    final = events[-1]
    assert isinstance(final, TurnComplete)
    usage = final.response.usage
    assert usage is not None
    assert usage.input_tokens is not None
    assert usage.output_tokens is not None
    assert usage.tokens == usage.input_tokens + usage.output_tokens > 0
    assert (usage.cost, usage.model) == (0.0, "echo")
    assert "offline echo agent" in final.response.output
    assert "OPENAI_API_KEY" in final.response.output


async def test_echo_is_deterministic_and_says_what_it_is_once() -> None:
    first = SessionManager(EchoAgent())
    second = SessionManager(EchoAgent())
    a = await first.chat("s", "same")
    b = await second.chat("s", "same")
    assert a.output == b.output
    again = await first.chat("s", "more")
    assert again.output == "You said: more"


@pytest.mark.parametrize("kind", ["sync", "async", "response"])
async def test_function_agent_wraps_user_functions(kind: str) -> None:
    def sync(context: AgentContext) -> str:
        return f"sync {context.input}"

    async def asynchronous(context: AgentContext) -> str:
        return f"async {context.input}"

    def full(context: AgentContext) -> AgentResponse:
        return AgentResponse(output="full", metadata={"tokens": 3})

    functions: dict[str, AgentFunction] = {"sync": sync, "async": asynchronous, "response": full}
    function = functions[kind]
    response = await SessionManager(FunctionAgent(function)).chat("s", "x")
    assert response.output in {"sync x", "async x", "full"}


async def test_function_agent_rejects_other_return_types() -> None:
    from agentcli.errors import AgentError

    def wrong(context: AgentContext) -> Any:
        return 42  # what a careless user function might return

    agent = FunctionAgent(wrong)
    with pytest.raises(AgentError, match="return a str or an AgentResponse"):
        await SessionManager(agent).chat("s", "x")
