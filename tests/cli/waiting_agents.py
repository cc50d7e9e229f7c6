"""Agents for the waiting indicator: one that says nothing until a file appears, one that
never answers. Loaded by file, as a user would: ``--agent tests/cli/waiting_agents.py:Class``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from agentcli.agent import AgentInterface
from agentcli.messages import AgentContext, AgentResponse

GATE = "open-the-gate"  # a FIFO in the working directory: GatedAgent answers once it is written
GATED_ANSWER = "the answer came after the wait"


class GatedAgent(AgentInterface):
    """Streams ``GATED_ANSWER`` once something is written to ``GATE``: the test decides when."""

    name = "gated"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        return AgentResponse(output=GATED_ANSWER)

    async def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        # A FIFO the test made: reading it blocks until the test writes to it.
        await asyncio.to_thread(Path(GATE).read_text)
        yield GATED_ANSWER


class SilentAgent(AgentInterface):
    """Never says a word: only an interrupt ends its turn."""

    name = "silent"

    async def process(self, context: AgentContext) -> AgentResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")  # pragma: no cover

    async def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        await asyncio.Event().wait()
        yield ""  # pragma: no cover
