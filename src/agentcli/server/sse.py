"""Our SSE events, encoded from a turn's buffered events.

    event: start        {"turn_id", "session_id", "model"}
    event: delta        {"text"}
    event: tool_call    {"id", "name", "arguments"}
    event: tool_result  {"tool_call_id", "name", "content", "is_error"}
    event: done         {"session_id", "turn_id", "output", "usage", "context", "cleanup"}
    event: error        {"error": {"message", "type", "code", "param"}, "retry_after"}

Every event has an ``id`` (its number in the turn), so a client that lost the connection sends
``Last-Event-ID`` to ``GET /chat/stream/{turn_id}`` and gets only what it missed.
"""

from __future__ import annotations

import json
from typing import Any

from ..agent import TextDelta, ToolCallEvent, ToolResultEvent, TurnComplete
from .turns import Failed, Started, TurnEvent, TurnView

__all__ = ["KEEPALIVE", "done_payload", "encode", "frame", "header_safe"]

KEEPALIVE = b": keep-alive\n\n"
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx and friends: do not buffer the stream
}


def header_safe(value: str) -> str:
    """``value`` as an HTTP header value: session ids may hold any printable character, and
    headers carry only latin-1, so anything else is percent-encoded (ASCII ids are unchanged)."""
    from urllib.parse import quote

    return value if value.isascii() else quote(value, safe="")


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    """One SSE frame; ``data`` is JSON on one line (JSON escapes newlines)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


def done_payload(turn: TurnView, complete: TurnComplete) -> dict[str, Any]:
    response = complete.response
    return {
        "session_id": turn.session_id,
        "turn_id": turn.id,
        "model": turn.model,
        "output": response.output,
        "usage": response.usage.model_dump(mode="json") if response.usage else None,
        "context": response.context.model_dump(mode="json") if response.context else None,
        "cleanup": response.cleanup.model_dump(mode="json") if response.cleanup else None,
    }


def encode(turn: TurnView, number: int, event: TurnEvent) -> bytes:
    """The SSE frame of one buffered event."""
    if isinstance(event, TextDelta):
        return frame("delta", {"text": event.text}, number)
    if isinstance(event, ToolCallEvent):
        call = event.call
        return frame(
            "tool_call", {"id": call.id, "name": call.name, "arguments": call.arguments}, number
        )
    if isinstance(event, ToolResultEvent):
        message = event.message
        data = {
            "tool_call_id": message.tool_call_id,
            "name": message.name,
            "content": message.content,
            "is_error": message.is_error,
        }
        return frame("tool_result", data, number)
    if isinstance(event, TurnComplete):
        return frame("done", done_payload(turn, event), number)
    if isinstance(event, Started):
        data = {"turn_id": event.turn_id, "session_id": event.session_id, "model": event.model}
        return frame("start", data, number)
    assert isinstance(event, Failed)
    error = event.error
    return frame("error", {**error.body(), "retry_after": error.retry_after}, number)
