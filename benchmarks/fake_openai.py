"""A minimal, fast OpenAI-compatible Chat Completions server on 127.0.0.1, for benchmarks.

Raw asyncio HTTP/1.1 with keep-alive; one fixed JSON answer, and one fixed SSE stream (role
chunk, three text chunks, a finish chunk, a usage chunk, ``[DONE]``). Under a ``/gap`` path
prefix the stream pauses ``GAP_S`` between its chunks, so a client that held chunks back
would show it. ``GET /_bench/last?stream=0|1`` returns the last request body of that kind,
so a benchmark can replay exactly what an agent sent.

Run: ``python benchmarks/fake_openai.py`` prints ``PORT <n>`` on stdout once it listens and
serves until its stdin closes (so it ends with the process that started it).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

GAP_S = 0.002
MODEL = "gpt-4o-mini"
TEXTS = ("Hello", " from the", " bench server.")
USAGE = {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}


def _completion() -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(TEXTS), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
        "system_fingerprint": "fp_bench",
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
        "choices": (
            []
            if usage is not None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        ),
    }
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _events() -> list[bytes]:
    return [
        _chunk({"role": "assistant", "content": "", "refusal": None}),
        *(_chunk({"content": text}) for text in TEXTS),
        _chunk({}, finish="stop"),
        _chunk({}, usage=USAGE),
        b"data: [DONE]\n\n",
    ]


COMPLETION = _completion()
EVENTS = _events()
STREAM = b"".join(EVENTS)


def _head(status: str, content_type: str, length: int) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n"
        "x-request-id: req_bench\r\n\r\n"
    ).encode()


class Server:
    def __init__(self) -> None:
        self.last: dict[bool, bytes] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                await self.respond(method, target, body, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def respond(
        self, method: str, target: str, body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        path, _, query = target.partition("?")
        if method == "POST" and path.endswith("/chat/completions"):
            stream = bool(json.loads(body).get("stream")) if body else False
            self.last[stream] = body
            if not stream:
                writer.write(_head("200 OK", "application/json", len(COMPLETION)) + COMPLETION)
            elif path.startswith("/gap/"):
                writer.write(_head("200 OK", "text/event-stream", len(STREAM)))
                for event in EVENTS:
                    writer.write(event)
                    await writer.drain()
                    await asyncio.sleep(GAP_S)
            else:
                writer.write(_head("200 OK", "text/event-stream", len(STREAM)) + STREAM)
        elif method == "GET" and path == "/_bench/last":
            payload = self.last.get(query.endswith("1"), b"{}")
            writer.write(_head("200 OK", "application/json", len(payload)) + payload)
        else:
            error = b'{"error":{"message":"not found","type":"invalid_request_error"}}'
            writer.write(_head("404 Not Found", "application/json", len(error)) + error)
        await writer.drain()


async def main() -> None:
    server = Server()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, backlog=128)
    port = listener.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    loop = asyncio.get_running_loop()
    # Serve until the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    listener.close()


if __name__ == "__main__":
    asyncio.run(main())
