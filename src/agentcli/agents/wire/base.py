"""What every wire format produces and offers: rounds, their usage, the request being built."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from ...messages import Message, ToolCall
    from ...tools import Tool
    from .._faults import Failure
    from .._watchdog import EventStream

__all__ = [
    "Conversation",
    "Round",
    "RoundUsage",
    "StreamState",
    "WireFormat",
    "parsed_arguments",
]

ClientT = TypeVar("ClientT")


@dataclass(frozen=True, slots=True)
class RoundUsage:
    """What one request used. ``input_tokens`` counts every prompt token, cached ones too."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(slots=True)
class Round:
    """The outcome of one complete request: its text, tool calls and usage."""

    text: str
    tool_calls: list[ToolCall]
    usage: RoundUsage | None
    model: str | None = None
    cut_short: bool = False  # the answer hit its token limit


@dataclass(slots=True)
class Conversation:
    """A turn's request in the vendor's wire format, extended round by round."""

    messages: list[dict[str, Any]]
    system: list[str] = field(default_factory=list)
    # The session's request options (``agentcli.request_options``), checked for this wire.
    options: Mapping[str, Any] = field(default_factory=dict)


class StreamState(Protocol):
    """Assembles one streamed answer from its events (one per vendor)."""

    moved: bool  # whether the last event carried content (resets the idle watchdog)

    def take(self, event: Any) -> str:
        """Record ``event``; return the text it carries ("" if none)."""

    def problem(self) -> str | None:
        """Why the answer is incomplete, once the stream ended; ``None`` if it is whole."""

    def result(self) -> Round: ...


class WireFormat(ABC, Generic[ClientT]):
    """One vendor's API for one model: requests out, rounds back.

    A request with ``allow_tools`` false still lists the tools (the conversation mentions
    them) but tells the model not to call any.
    """

    def __init__(self, model: str, max_tokens: int | None) -> None:
        self.model = model
        self.max_tokens = max_tokens

    @abstractmethod
    def start(self, system_prompt: str | None, messages: Sequence[Message]) -> Conversation:
        """Translate the window (and the new input, last) into the wire format."""

    @abstractmethod
    def extend(self, conversation: Conversation, messages: Sequence[Message]) -> None:
        """Append a tool unit (the call and its results) to the conversation."""

    @abstractmethod
    def tool_schema(self, tool: Tool) -> dict[str, Any]: ...

    @abstractmethod
    async def complete(
        self,
        client: ClientT,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> Round:
        """Send one request without streaming."""

    @abstractmethod
    async def open_stream(
        self,
        client: ClientT,
        conversation: Conversation,
        tools: list[dict[str, Any]],
        allow_tools: bool,
    ) -> EventStream:
        """Send one streamed request; return the SDK's event stream."""

    @abstractmethod
    def stream_state(self) -> StreamState:
        """A fresh assembler for the events of one streamed answer."""

    @staticmethod
    @abstractmethod
    def classify(exc: BaseException) -> Failure | None:
        """Read an SDK exception; ``None`` if it is not one of the SDK's."""


def parsed_arguments(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as an object for wire formats that need one ({} if unreadable)."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
