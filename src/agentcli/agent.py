"""The agent contract: what user code implements, and the events a turn streams.

A user writes ``process()``; ``process_stream()`` is optional. The session manager consumes
``stream_events()``, which built-in agents override to report tool calls and usage while
streaming; for user agents its default adapts whichever of the two methods they wrote.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .messages import AgentContext, AgentResponse, Message, ToolCall, make_storable

__all__ = [
    "AgentInterface",
    "StreamEvent",
    "TextDelta",
    "ToolCallEvent",
    "ToolResultEvent",
    "TurnComplete",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """The model asked to run a tool (arguments complete)."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    """A tool finished; ``message`` is the ``tool`` message that carries its result."""

    message: Message


@dataclass(frozen=True, slots=True)
class TurnComplete:
    """The last event of a turn: the whole response, with usage in its metadata."""

    response: AgentResponse


StreamEvent = TextDelta | ToolCallEvent | ToolResultEvent | TurnComplete


class AgentInterface(ABC):
    """Subclass this and implement ``process``.

    ``name`` labels the agent in logs and the CLI; ``context_window`` is the model's window in
    tokens when the agent knows it (the session's tracker uses it unless settings override it).
    """

    name: str = "agent"
    context_window: int | None = None

    @abstractmethod
    async def process(self, context: AgentContext) -> AgentResponse:
        """Answer one turn."""

    async def process_stream(self, context: AgentContext) -> AsyncIterator[str]:
        """Yield the answer in text chunks. The default yields ``process()``'s output once."""
        response = await self.process(context)
        yield response.output

    async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
        """Yield the turn as events, ending with ``TurnComplete``.

        If the subclass wrote only ``process()``, its response (and metadata) is used whole;
        if it wrote ``process_stream()``, the chunks are streamed and joined for the response.
        """
        if type(self).process_stream is AgentInterface.process_stream:
            response = await self.process(context)
            if response.output:
                yield TextDelta(response.output)
            yield TurnComplete(response)
            return
        chunks: list[str] = []
        async for chunk in self.process_stream(context):
            if chunk:
                chunks.append(chunk)
                yield TextDelta(chunk)
        # A model's stream may hold a NUL or a lone surrogate: the answer is kept with U+FFFD
        # in their place (the session says so) rather than lost to a validation error.
        yield TurnComplete(AgentResponse(output=make_storable("".join(chunks))))

    async def aclose(self) -> None:  # noqa: B027 - optional hook, empty on purpose
        """Release connections. The default has nothing to release."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
