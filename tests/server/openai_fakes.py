"""What the OpenAI API tests share: SDK clients for a running server, and an agent that runs
a tool on the server side and reports usage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai

from agentcli.agent import (
    AgentInterface,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    TurnComplete,
)
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall
from agentcli.usage import Usage

from .running import RunningServer

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-0123456789abcdef"
USAGE = Usage(input_tokens=40, output_tokens=6, total_tokens=46, cached_tokens=10)


def client(server: RunningServer, key: str = "unused-without-keys") -> openai.OpenAI:
    # No retries: a 409 or a 502 is what the test is about, not something to hide.
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


def async_client(server: RunningServer, key: str = "unused-without-keys") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)


class ToolingAgent(AgentInterface):
    """Runs one tool (server side), then answers in two pieces, reporting usage; remembers
    every context it was given."""

    name = "tooling"

    def __init__(self, *, tool_fails: bool = False) -> None:
        self.tool_fails = tool_fails
        self.contexts: list[AgentContext] = []

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        self.contexts.append(context)
        call = ToolCall(id="call-1", name="lookup", arguments='{"q": "x"}')
        yield ToolCallEvent(call)
        result = "no such thing" if self.tool_fails else "42"
        yield ToolResultEvent(
            Message(
                role="tool",
                tool_call_id="call-1",
                name="lookup",
                content=result,
                is_error=self.tool_fails,
            )
        )
        yield TextDelta("The answer ")
        yield TextDelta("is 42.")
        yield TurnComplete(AgentResponse(output="The answer is 42.", usage=USAGE))


def extra(model: Any) -> dict[str, Any]:
    """The fields an SDK object carries beyond its declared ones (our extensions)."""
    found: dict[str, Any] | None = model.model_extra
    return found or {}
