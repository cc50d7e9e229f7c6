"""Agents that stream awkward things, loaded by file as a user would (``--agent FILE:Class``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agentcli.agent import AgentInterface, StreamEvent, TextDelta, TurnComplete
from agentcli.messages import AgentContext, AgentResponse
from agentcli.usage import Usage

FIRST_WORDS = "first words streamed "
UNSTORABLE = "nul\x00 and lone \ud800 surrogate "


class StallAgent(AgentInterface):
    """Streams some words, then waits for something that never comes: only a signal ends it.

    ``unstorable ...`` as input streams ``UNSTORABLE`` first instead.
    """

    name = "stall"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        if context.input.startswith("unstorable"):
            yield TextDelta(UNSTORABLE)
        yield TextDelta(FIRST_WORDS)
        await asyncio.get_running_loop().create_future()  # never set
        yield TurnComplete(AgentResponse(output="never"))  # pragma: no cover


class UnstorableAnswerAgent(AgentInterface):
    """A whole streamed answer holding a NUL and a lone surrogate."""

    name = "unstorable"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise NotImplementedError

    async def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        yield "clean start, "
        yield UNSTORABLE


class AbsurdMetadataUsageAgent(AgentInterface):
    """Reports usage the specification's way, with counts no store can hold."""

    name = "absurd-metadata"

    async def process(self, context: AgentContext) -> AgentResponse:
        counts = {"completion_tokens": 2**70, "prompt_tokens": -5, "tokens": "many"}
        return AgentResponse(output="counted answer", metadata=counts)


class AbsurdTypedUsageAgent(AgentInterface):
    """Reports typed usage with a count far past any real one."""

    name = "absurd-typed"

    async def process(self, context: AgentContext) -> AgentResponse:
        return AgentResponse(
            output="counted answer", usage=Usage(output_tokens=2**70, input_tokens=12)
        )


class UncheckedUsageAgent(AgentInterface):
    """Skips validation (``model_construct``), as a careless agent could."""

    name = "unchecked"

    async def process(self, context: AgentContext) -> AgentResponse:
        usage = Usage.model_construct(output_tokens=2**70, input_tokens=-3, total_tokens=7)
        return AgentResponse(output="counted answer", usage=usage)
