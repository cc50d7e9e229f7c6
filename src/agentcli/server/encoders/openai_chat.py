"""Chat Completions (``POST /v1/chat/completions``) from a turn's events.

    stream:  data: {"object": "chat.completion.chunk", "choices": [{"delta": {...}}], ...}
             ... data: {"choices": [], "usage": {...}}   (with stream_options.include_usage)
             data: [DONE]
    else:    {"object": "chat.completion", "choices": [{"message": {...}}], "usage": {...}}

A failure after the stream began is one ``data: {"error": {...}}`` chunk (our error shape,
which the OpenAI SDK raises as ``APIError``), then ``[DONE]``.

Tool activity: our agents run their tools themselves, on the server, and their final answer
is text; the client has nothing to run. So tool calls are never sent as ``tool_calls`` nor
with ``finish_reason: "tool_calls"`` (an OpenAI client would try to run them and send their
results back). They go in an extension field, ``tool_activity``, that standard clients
ignore, as our own SSE's ``tool_call`` and ``tool_result`` payloads with a ``type``:

    {"type": "tool_call", "id", "name", "arguments"}
    {"type": "tool_result", "tool_call_id", "name", "content", "is_error"}

Streamed, each is a chunk whose ``delta`` holds ``tool_activity: [entry]``; otherwise the
message has them all, in order. ``finish_reason`` is ``stop``, or ``length`` when the agent
says its answer was cut short.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ...agent import TextDelta, ToolCallEvent, ToolResultEvent, TurnComplete
from ...messages import AgentResponse
from ...usage import Usage
from ..turns import Failed, Started, TurnEvent

__all__ = [
    "DONE",
    "ChatEncoder",
    "completion_body",
    "data_frame",
    "finish_reason",
    "tool_entry",
    "usage_body",
]

DONE = b"data: [DONE]\n\n"


def data_frame(payload: Any) -> bytes:
    """One SSE frame with only a ``data`` line, as OpenAI's chat streams have."""
    return (
        b"data: "
        + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        + b"\n\n"
    )


def usage_body(usage: Usage | None) -> dict[str, Any] | None:
    """OpenAI's ``usage`` from the turn's typed usage; ``None`` when the agent reported none
    (never a made-up zero)."""
    if usage is None or not usage.reported:
        return None
    prompt = usage.input_tokens or 0
    completion = usage.output_tokens or 0
    body: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": usage.tokens if usage.tokens is not None else prompt + completion,
    }
    if usage.cached_tokens is not None:
        body["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if usage.reasoning_tokens is not None:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return body


def tool_entry(event: ToolCallEvent | ToolResultEvent) -> dict[str, Any]:
    """One ``tool_activity`` entry: a call the agent made, or the result it got."""
    if isinstance(event, ToolCallEvent):
        call = event.call
        return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments}
    message = event.message
    return {
        "type": "tool_result",
        "tool_call_id": message.tool_call_id,
        "name": message.name,
        "content": message.content,
        "is_error": message.is_error,
    }


def finish_reason(response: AgentResponse) -> str:
    return "length" if response.metadata.get("truncated") else "stop"


class ChatEncoder:
    """Chunks of one completion's stream, event by event."""

    def __init__(
        self, *, completion_id: str, model: str, created: int, include_usage: bool = False
    ) -> None:
        self.completion_id = completion_id
        self.model = model
        self.created = created
        self.include_usage = include_usage

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = None  # as OpenAI does: only the last chunk carries it
        return chunk

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return self._chunk(
            [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        )

    def feed(self, event: TurnEvent) -> list[dict[str, Any]]:
        """The chunks ``event`` becomes (none, one, or two at the end)."""
        if isinstance(event, Started):
            return [self._delta({"role": "assistant", "content": ""})]
        if isinstance(event, TextDelta):
            return [self._delta({"content": event.text})] if event.text else []
        if isinstance(event, ToolCallEvent | ToolResultEvent):
            return [self._delta({"tool_activity": [tool_entry(event)]})]
        if isinstance(event, TurnComplete):
            chunks = [self._delta({}, finish_reason(event.response))]
            if self.include_usage:
                last = self._chunk([])
                last["usage"] = usage_body(event.response.usage)
                chunks.append(last)
            return chunks
        assert isinstance(event, Failed)
        return [event.error.body()]


def completion_body(
    events: Iterable[TurnEvent], *, completion_id: str, model: str, created: int
) -> dict[str, Any]:
    """The non-streamed completion of a finished turn: the same events, folded."""
    texts: list[str] = []
    activity: list[dict[str, Any]] = []
    response: AgentResponse | None = None
    for event in events:
        if isinstance(event, TextDelta):
            texts.append(event.text)
        elif isinstance(event, ToolCallEvent | ToolResultEvent):
            activity.append(tool_entry(event))
        elif isinstance(event, TurnComplete):
            response = event.response
    if response is None:
        raise ValueError("the turn did not complete")
    message: dict[str, Any] = {
        "role": "assistant",
        # An agent that streamed nothing still answered: its output is the text.
        "content": "".join(texts) if texts else response.output,
        "refusal": None,
    }
    if activity:
        message["tool_activity"] = activity
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(response),
                "logprobs": None,
            }
        ],
        "usage": usage_body(response.usage),
    }
