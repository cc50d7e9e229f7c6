"""The vocabulary every part shares: messages, the agent's context and its response.

Provider-neutral on purpose: OpenAI and Anthropic formats are translated in the agents that
talk to them and never stored. ``Message`` is a slotted, frozen pydantic dataclass because a
session holds thousands of them: it costs about as much memory as a plain dict (a ``BaseModel``
costs nearly three times as much) and is still validated and serialised by pydantic.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    model_validator,
)
from pydantic.dataclasses import dataclass

from .usage import CleanupReport, ContextReport, Usage

__all__ = [
    "SUMMARY_REQUEST",
    "AgentContext",
    "AgentResponse",
    "Message",
    "MessageStatus",
    "Role",
    "StorableText",
    "ToolCall",
    "check_storable",
    "is_storable",
    "make_storable",
    "messages_adapter",
    "with_seq",
]

Role = Literal["system", "user", "assistant", "tool"]
MessageStatus = Literal["complete", "interrupted", "failed"]

# NUL cannot be stored in PostgreSQL text and is cut by C APIs; lone surrogates cannot be
# encoded as UTF-8. Both would break a later write, so they are refused when the text arrives.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_storable(text: str) -> str:
    """Return ``text`` unchanged, or raise ``ValueError`` naming the first unstorable character."""
    bad = _UNSTORABLE.search(text)
    if bad is not None:
        char = bad.group()
        kind = "a NUL character" if char == "\x00" else "a lone surrogate"
        raise ValueError(
            f"text contains {kind} (U+{ord(char):04X}) at position {bad.start()}, "
            "which cannot be stored faithfully; remove it and try again"
        )
    return text


def is_storable(text: str) -> bool:
    """Whether ``text`` holds no NUL and no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def make_storable(text: str) -> str:
    """Replace unstorable characters with U+FFFD, for text we pass on rather than refuse
    (a tool's output, say)."""
    return _UNSTORABLE.sub("\ufffd", text)


StorableText = Annotated[str, AfterValidator(check_storable)]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """A request from the model to run one tool. ``arguments`` is the JSON text the model sent."""

    id: StorableText
    name: StorableText
    arguments: StorableText = "{}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One entry of a conversation.

    ``seq`` is the message's position in its session, assigned by the store (0 until stored);
    order is by ``seq``, never by ``timestamp``. An assistant message may carry ``tool_calls``;
    each is answered by a ``tool`` message whose ``tool_call_id`` names it. ``status`` marks an
    answer that was interrupted (kept, shown as such) or a turn that failed (kept in the
    transcript, never sent to a model). A ``tool`` message with ``is_error`` carries a tool's
    failure (the text says what went wrong; the flag says that it did, so an output that merely
    starts with "error:" is not taken for one). An answer keeps its ``usage``.
    """

    role: Role
    content: StorableText = ""
    tokens: Annotated[int, Field(ge=0)] = 0
    seq: Annotated[int, Field(ge=0)] = 0
    timestamp: AwareDatetime = Field(default_factory=_now)
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: StorableText | None = None
    name: StorableText | None = None
    status: MessageStatus = "complete"
    is_error: bool = False
    usage: Usage | None = None
    metadata: dict[str, JsonValue] | None = None

    @property
    def in_window(self) -> bool:
        """Whether a model may see this message (failed turns are transcript only)."""
        return self.status != "failed"


_MESSAGE_FIELDS = tuple(Message.__dataclass_fields__)


def with_seq(message: Message, seq: int) -> Message:
    """A copy of ``message`` numbered ``seq``, for stores. The message was validated when it
    was made, so the copy skips validation (``dataclasses.replace`` would run it again)."""
    if seq < 0:
        raise ValueError("seq cannot be negative")
    copy = object.__new__(Message)
    for name in _MESSAGE_FIELDS:
        object.__setattr__(copy, name, getattr(message, name))
    object.__setattr__(copy, "seq", seq)
    return copy


messages_adapter: TypeAdapter[list[Message]] = TypeAdapter(list[Message])
"""Saves and loads lists of messages, every field exactly (``dump_json``/``validate_json``)."""


SUMMARY_REQUEST = "summary_request"
"""Key in ``AgentContext.metadata`` when the session asks for a summary of earlier messages
(summarising compaction): ``{"messages": n, "from": seq, "to": seq}``. The input then holds
those messages as a labelled transcript; an agent may answer a summary request differently
(the echo agent extracts a short one; provider agents offer the model no tools)."""


class AgentContext(BaseModel):
    """What an agent sees for one turn: the new input and the window of history before it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=False)

    input: StorableText
    session_id: str
    conversation_history: list[Message] = Field(default_factory=list)
    system_prompt: StorableText | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class AgentResponse(BaseModel):
    """An agent's answer.

    Agents may report usage the specification's way, in ``metadata`` (``tokens``,
    ``prompt_tokens``, ``completion_tokens``, ``cost``, ``error``); it is read once, here, into
    the typed ``usage``. The session manager fills ``context`` (how full the window is after the
    turn) and ``cleanup`` (what trimming did, if anything).

    ``messages`` lets an agent that ran tools return the intermediate assistant tool calls and
    tool results, so they are stored with their ids (the final ``output`` is stored after them).
    """

    model_config = ConfigDict(frozen=True)

    output: StorableText
    metadata: dict[str, Any] = Field(default_factory=dict)
    messages: list[Message] = Field(default_factory=list)
    usage: Usage | None = None
    context: ContextReport | None = None
    cleanup: CleanupReport | None = None

    @model_validator(mode="before")
    @classmethod
    def _usage_from_metadata(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("usage") is None:
            metadata = data.get("metadata")
            if isinstance(metadata, dict) and metadata:
                usage = Usage.from_metadata(metadata)
                if usage is not None:
                    data = {**data, "usage": usage}
        return data

    @property
    def tokens(self) -> int | None:
        """Total tokens the agent reported for this turn, if it reported any."""
        return self.usage.tokens if self.usage else None

    @property
    def prompt_tokens(self) -> int | None:
        return self.usage.input_tokens if self.usage else None

    @property
    def completion_tokens(self) -> int | None:
        return self.usage.output_tokens if self.usage else None

    @property
    def cost(self) -> float | None:
        return self.usage.cost if self.usage else None

    @property
    def error(self) -> str | None:
        """The error the agent reported in ``metadata["error"]``, as text (``None`` if none)."""
        value = self.metadata.get("error")
        if not value:
            return None
        return value if isinstance(value, str) else "the agent reported an error"

    @property
    def is_error(self) -> bool:
        return self.error is not None
