"""Agents the CLI tests load by file, as a user would: ``--agent tests/cli/agents.py:Class``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from agentcli.agent import (
    AgentInterface,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
    TurnComplete,
)
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall

# Everything a hostile model might write to take over a terminal.
HOSTILE = (
    "Here is a safe answer.\n"
    "\x1b]52;c;ZXZpbCBjbGlwYm9hcmQ=\x07"  # OSC 52: write the clipboard
    "\x1b]8;;https://evil.example/phish\x1b\\click me\x1b]8;;\x1b\\ "  # OSC 8 hyperlink
    "\x1b[2J\x1b[H"  # clear the screen, home the cursor
    "\x1b]0;pwned title\x07"  # set the window title
    "\x9b2J \x9d52;c;Yw==\x9c"  # the same in 8-bit C1 form
    "[link=https://evil.example/markup]rich markup[/link] "
    "[bold red]not styled[/]\n"
    "bidi: \u202eevil\u202c and \u2066isolate\u2069\n"
    "bell\x07 backspace\x08 carriage\rreturn\n"
    "[a markdown link](https://evil.example/md)\n"
)


class RepeatAgent(AgentInterface):
    """Answers with exactly what it was sent; reports no usage (tokens are estimated)."""

    name = "repeat"

    async def process(self, context: AgentContext) -> AgentResponse:
        return AgentResponse(output=context.input)


class HostileAgent(AgentInterface):
    """Streams ``HOSTILE`` a few characters at a time, so sequences split across chunks."""

    name = "hostile"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        return AgentResponse(output=HOSTILE)

    async def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        for start in range(0, len(HOSTILE), 3):
            yield HOSTILE[start : start + 3]


class SlowAgent(AgentInterface):
    """Streams ``tick 1 tick 2 ...`` slowly: time enough to press Ctrl-C."""

    name = "slow"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        return AgentResponse(output="tick")

    async def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        if context.input.startswith("quick"):
            yield "done quickly"
            return
        for n in range(1, 200):
            yield f"tick {n} "
            await asyncio.sleep(0.05)


class GaugeAgent(AgentInterface):
    """``fill N`` answers ``ok`` and reports the window as holding exactly N tokens."""

    name = "gauge"

    async def process(self, context: AgentContext) -> AgentResponse:
        words = context.input.split()
        used = int(words[1]) if len(words) == 2 and words[0] == "fill" else 10
        return AgentResponse(
            output="ok", metadata={"context_tokens": used, "tokens": 12, "cost": 0.0012}
        )


class PadAgent(AgentInterface):
    """Answers with about 400 tokens, so a small window fills in a few turns."""

    name = "pad"

    async def process(self, context: AgentContext) -> AgentResponse:
        return AgentResponse(output="word " * 400)


class ToolAgent(AgentInterface):
    """Calls a ``lookup`` tool, then answers with its result."""

    name = "tools"

    async def process(self, context: AgentContext) -> AgentResponse:  # pragma: no cover
        return AgentResponse(output="no tools here")

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        call = ToolCall(id="call-1", name="lookup", arguments=json.dumps({"city": "Oslo"}))
        result = Message(
            role="tool", tool_call_id="call-1", name="lookup", content="Oslo: 3 °C, light rain"
        )
        yield ToolCallEvent(call)
        yield ToolResultEvent(result)
        yield TextDelta("It is 3 °C in Oslo.")
        units = [Message(role="assistant", tool_calls=(call,)), result]
        yield TurnComplete(AgentResponse(output="It is 3 °C in Oslo.", messages=units))


class BrokenAgent(AgentInterface):
    """Raises, as a provider that fell over would."""

    name = "broken"

    async def process(self, context: AgentContext) -> AgentResponse:
        raise RuntimeError("the model fell over")


class ErrorAgent(AgentInterface):
    """Returns an answer marked as an error (the manager stores it as failed)."""

    name = "error"

    async def process(self, context: AgentContext) -> AgentResponse:
        return AgentResponse(output="", metadata={"error": "quota exceeded"})
