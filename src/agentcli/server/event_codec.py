"""A turn's events as bytes and back, exactly: what a replica writes to a turn's Redis stream
and another replica reads to replay it.

    dump_event(TextDelta("hi"))          -> b'{"type":"delta","text":"hi"}'
    load_event(dump_event(event)) == event

One discriminated union, one ``TypeAdapter``: ``Started``, ``TextDelta``, ``ToolCallEvent``,
``ToolResultEvent``, ``TurnComplete`` (its whole ``AgentResponse``: output, messages, usage,
context, cleanup, metadata) and ``Failed`` (its ``ApiError``, status and ``retry_after``
included). Every wire format is encoded from the loaded events, so a replay on another
replica tells the story the live stream told. Metadata values that are not JSON (an agent's
own objects) become their ``str``: they could not cross a process boundary anyway.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..agent import TextDelta, ToolCallEvent, ToolResultEvent, TurnComplete
from ..messages import AgentResponse, Message, ToolCall
from .errors import ApiError
from .turns import Failed, Started, TurnEvent

__all__ = ["dump_event", "is_terminal", "load_event"]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Started(_Record):
    type: Literal["start"] = "start"
    turn_id: str
    session_id: str
    model: str


class _Delta(_Record):
    type: Literal["delta"] = "delta"
    text: str


class _ToolCall(_Record):
    type: Literal["tool_call"] = "tool_call"
    call: ToolCall


class _ToolResult(_Record):
    type: Literal["tool_result"] = "tool_result"
    message: Message


class _Complete(_Record):
    type: Literal["done"] = "done"
    response: AgentResponse


class _Failed(_Record):
    type: Literal["error"] = "error"
    status: int
    code: str
    message: str
    error_type: str
    param: str | None = None
    retry_after: float | None = None


_Any = Annotated[
    _Started | _Delta | _ToolCall | _ToolResult | _Complete | _Failed,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[_Any] = TypeAdapter(_Any)


def _record(event: TurnEvent) -> _Any:
    if isinstance(event, TextDelta):
        return _Delta(text=event.text)
    if isinstance(event, ToolCallEvent):
        return _ToolCall(call=event.call)
    if isinstance(event, ToolResultEvent):
        return _ToolResult(message=event.message)
    if isinstance(event, TurnComplete):
        return _Complete(response=event.response)
    if isinstance(event, Started):
        return _Started(turn_id=event.turn_id, session_id=event.session_id, model=event.model)
    error = event.error
    return _Failed(
        status=error.status,
        code=error.code,
        message=error.message,
        error_type=error.type,
        param=error.param,
        retry_after=error.retry_after,
    )


def _event(record: _Any) -> TurnEvent:
    if isinstance(record, _Delta):
        return TextDelta(record.text)
    if isinstance(record, _ToolCall):
        return ToolCallEvent(record.call)
    if isinstance(record, _ToolResult):
        return ToolResultEvent(record.message)
    if isinstance(record, _Complete):
        return TurnComplete(record.response)
    if isinstance(record, _Started):
        return Started(record.turn_id, record.session_id, record.model)
    error = ApiError(
        record.status,
        record.code,
        record.message,
        record.error_type,
        param=record.param,
        retry_after=record.retry_after,
    )
    return Failed(error)


def dump_event(event: TurnEvent) -> bytes:
    """``event`` as one line of JSON."""
    return _ADAPTER.dump_json(_record(event), fallback=str)


def load_event(data: bytes | str) -> TurnEvent:
    """The event ``dump_event`` wrote; ``ValueError`` if ``data`` is not one."""
    return _event(_ADAPTER.validate_json(data))


def is_terminal(event: TurnEvent) -> bool:
    """Whether ``event`` ends a turn (its answer, or why there is none)."""
    return isinstance(event, TurnComplete | Failed)
