"""Replies in the OpenAI Chat Completions wire format, for ``FakeServer``.

Shapes follow the API reference: a ``chat.completion`` object; a stream of
``chat.completion.chunk`` objects as ``data:`` lines, tool calls split into argument deltas,
a final chunk with ``usage`` and no choices (``stream_options.include_usage``), then
``data: [DONE]``; errors as ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .fake_http import Part, Recorded, Reply, json_reply, sse_reply

MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    arguments: str


def usage(
    prompt: int = 12, completion: int = 5, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0},
    }


def completion(
    text: str | None = "Hello!",
    *,
    calls: tuple[Call, ...] = (),
    prompt: int = 12,
    output: int = 5,
    cached: int = 0,
    reasoning: int = 0,
    model: str = MODEL,
    finish: str | None = None,
) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ]
    return json_reply(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "system_fingerprint": "fp_test",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": finish or ("tool_calls" if calls else "stop"),
                }
            ],
            "usage": usage(prompt, output, cached, reasoning),
        },
        headers={"x-request-id": "req_1"},
    )


def _chunk(
    choices: list[dict[str, Any]], *, model: str, extra: dict[str, Any] | None = None
) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": choices,
        **(extra or {}),
    }
    return f"data: {json.dumps(body)}\n\n".encode()


def _delta(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}


def stream_parts(
    pieces: tuple[str, ...] = ("Hel", "lo", "!"),
    *,
    calls: tuple[Call, ...] = (),
    prompt: int = 12,
    output: int = 5,
    cached: int = 0,
    reasoning: int = 0,
    model: str = MODEL,
    argument_piece: int = 4,
    with_usage: bool = True,
    finish: str | None = None,
) -> list[Part]:
    """The events of one streamed answer (splice in stalls or drops as needed)."""
    parts: list[Part] = [_chunk([_delta({"role": "assistant", "content": ""})], model=model)]
    parts += [_chunk([_delta({"content": piece})], model=model) for piece in pieces]
    for index, call in enumerate(calls):
        head = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        parts.append(_chunk([_delta({"tool_calls": [head]})], model=model))
        args = call.arguments
        for start in range(0, len(args), argument_piece):
            fragment = {
                "index": index,
                "function": {"arguments": args[start : start + argument_piece]},
            }
            parts.append(_chunk([_delta({"tool_calls": [fragment]})], model=model))
    end = finish or ("tool_calls" if calls else "stop")
    parts.append(_chunk([_delta({}, end)], model=model))
    if with_usage:
        parts.append(
            _chunk([], model=model, extra={"usage": usage(prompt, output, cached, reasoning)})
        )
    parts.append(b"data: [DONE]\n\n")
    return parts


def stream(*args: Any, **kwargs: Any) -> Reply:
    return sse_reply(stream_parts(*args, **kwargs))


def error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    body = {"error": {"message": message, "type": type, "param": None, "code": code}}
    return json_reply(body, status=status, headers=headers)


def bad_key(request: Recorded) -> Reply:
    """OpenAI's 401, which echoes the key it was sent, masked."""
    key = request.headers.get("authorization", "").removeprefix("Bearer ")
    masked = f"{key[:8]}{'*' * 20}{key[-4:]}"
    return error(
        401,
        f"Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def rate_limited(retry_after: str | None = None, retry_after_ms: str | None = None) -> Reply:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return error(
        429,
        "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3.",
        type="requests",
        code="rate_limit_exceeded",
        headers=headers,
    )


def context_too_long() -> Reply:
    return error(
        400,
        "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 130000 tokens. Please reduce the length of the messages.",
        code="context_length_exceeded",
    )


def model_not_found(model: str = "gpt-nope") -> Reply:
    return error(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )
