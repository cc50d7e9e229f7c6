"""An agent whose turn is cancelled, as Ctrl-C cancels one, without a signal or a wait: loaded
by file, as a user would (``--agent tests/cli/cancel_agents.py:CancelledAgent``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from agentcli.agent import AgentInterface, StreamEvent, TextDelta
from agentcli.messages import AgentContext, AgentResponse

FIRST_WORDS = "the start of an answer "


class CancelledAgent(AgentInterface):
    """Streams a few words, then its turn is cancelled (the task ends cancelled)."""

    name = "cancelled"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        raise asyncio.CancelledError

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        yield TextDelta(FIRST_WORDS)
        raise asyncio.CancelledError
