"""Replies in the Anthropic Messages wire format, for ``FakeServer``.

Shapes follow the API reference: a ``message`` object; a stream of named SSE events
(``message_start``, ``content_block_start``, ``ping``, ``content_block_delta`` with
``text_delta`` or ``input_json_delta``, ``content_block_stop``, ``message_delta`` with the
stop reason and usage, ``message_stop``); errors as
``{"type": "error", "error": {"type", "message"}, "request_id"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .fake_http import Part, Reply, json_reply, sse_reply

MODEL = "claude-sonnet-4-6"


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    input: dict[str, Any]


def _usage(prompt: int, output: int, cache_read: int = 0, cache_write: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "output_tokens": output,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
    }


def message(
    text: str = "Hello!",
    *,
    calls: tuple[Call, ...] = (),
    prompt: int = 20,
    output: int = 6,
    cache_read: int = 0,
    cache_write: int = 0,
    model: str = MODEL,
    stop: str | None = None,
) -> Reply:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.input} for c in calls]
    return json_reply(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop or ("tool_use" if calls else "end_turn"),
            "stop_sequence": None,
            "usage": _usage(prompt, output, cache_read, cache_write),
        },
        headers={"request-id": "req_1"},
    )


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def stream_parts(
    pieces: tuple[str, ...] = ("Hel", "lo", "!"),
    *,
    calls: tuple[Call, ...] = (),
    prompt: int = 20,
    output: int = 6,
    cache_read: int = 0,
    cache_write: int = 0,
    model: str = MODEL,
    json_piece: int = 5,
    stop: str | None = None,
) -> list[Part]:
    """The events of one streamed message (splice in stalls or drops as needed)."""
    start: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(prompt, 1, cache_read, cache_write),
    }
    parts: list[Part] = [_event("message_start", {"type": "message_start", "message": start})]
    index = 0
    if pieces:
        parts.append(
            _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
        )
        parts.append(_event("ping", {"type": "ping"}))
        for piece in pieces:
            delta = {"type": "text_delta", "text": piece}
            parts.append(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                )
            )
        parts.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    for call in calls:
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        parts.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        text = json.dumps(call.input)
        for begin in range(0, len(text), json_piece):
            delta = {"type": "input_json_delta", "partial_json": text[begin : begin + json_piece]}
            parts.append(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        parts.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    parts.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": stop or ("tool_use" if calls else "end_turn"),
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": output},
            },
        )
    )
    parts.append(_event("message_stop", {"type": "message_stop"}))
    return parts


def stream(*args: Any, **kwargs: Any) -> Reply:
    return sse_reply(stream_parts(*args, **kwargs), headers={"request-id": "req_1"})


def error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> Reply:
    body = {"type": "error", "error": {"type": type, "message": message}, "request_id": "req_1"}
    return json_reply(body, status=status, headers=headers)


def stream_error_event(type: str = "overloaded_error", message: str = "Overloaded") -> bytes:
    return _event("error", {"type": "error", "error": {"type": type, "message": message}})


def bad_key() -> Reply:
    return error(401, "invalid x-api-key", type="authentication_error")


def rate_limited(retry_after: str) -> Reply:
    return error(
        429,
        "This request would exceed your organization's rate limit of 50 requests per minute.",
        type="rate_limit_error",
        headers={"retry-after": retry_after},
    )


def context_too_long() -> Reply:
    return error(400, "prompt is too long: 210000 tokens > 200000 maximum")


def model_not_found(model: str = "claude-nope") -> Reply:
    return error(404, f"model: {model}", type="not_found_error")
