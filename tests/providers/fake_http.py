"""A scripted HTTP/1.1 server on 127.0.0.1 for testing provider agents over a real socket.

It runs its own event loop in a thread, so it is as independent of the client as a real server.
Each request takes the next scripted ``Reply`` (or a function of the request that returns one)
and is recorded, with whether the client hung up while the reply was still being sent.
Connections are kept alive, so tests can check that the client pools them.

A streamed reply is sent with chunked transfer encoding, part by part: bytes, a ``Pause``, SSE
keep-alive comments for a while (``KeepAlive``), or ``Drop`` (close the socket mid-body).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = [
    "Drop",
    "FakeServer",
    "KeepAlive",
    "Part",
    "Pause",
    "Recorded",
    "Reply",
    "json_reply",
    "sse_reply",
]


@dataclass(frozen=True)
class Pause:
    """Send nothing for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class KeepAlive:
    """Send an SSE comment every ``every`` seconds for ``seconds`` (or until the client leaves)."""

    seconds: float
    every: float = 0.05


@dataclass(frozen=True)
class Drop:
    """Close the connection without finishing the body."""


Part = bytes | Pause | KeepAlive | Drop


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    parts: list[Part] | None = None  # None: a plain body with Content-Length


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        body=json.dumps(body).encode(),
    )


def sse_reply(parts: list[Part], headers: dict[str, str] | None = None) -> Reply:
    return Reply(
        headers={
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            **(headers or {}),
        },
        parts=parts,
    )


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int
    disconnected: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Script = Reply | Callable[[Recorded], Reply]


class FakeServer:
    """Start with ``start()`` (returns once listening), stop with ``stop()``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.connections = 0
        self._script: deque[Script] = deque()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="fake-http", daemon=True)
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, *replies: Script) -> None:
        """Queue replies for the next requests, in order."""
        self._script.extend(replies)

    def start(self) -> FakeServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # ------------------------------------------------------------------ server side

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        self._ready.set()
        self._loop.run_forever()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        connection = self.connections
        pending = b""
        try:
            while True:
                request = await self._read_request(reader, connection, pending)
                if request is None:
                    return
                self.requests.append(request)
                script = self._script.popleft() if self._script else _unscripted()
                reply = script(request) if callable(script) else script
                keep, pending = await self._respond(reply, request, reader, writer)
                request.finished.set()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Only ``stop()`` cancels; ending quietly keeps asyncio from logging the handler
            # as failed.
            return
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader, connection: int, pending: bytes
    ) -> Recorded | None:
        try:
            head = pending + await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        return Recorded(method, path, headers, body, connection)

    async def _respond(
        self,
        reply: Reply,
        request: Recorded,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> tuple[bool, bytes]:
        """Send ``reply``; return whether the connection may be reused, and any bytes of the
        next request that the hang-up watch read early."""
        reason = (
            HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else ""
        )
        head = [f"HTTP/1.1 {reply.status} {reason}"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        if reply.parts is None:
            head.append(f"content-length: {len(reply.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
            await writer.drain()
            return True, b""
        head.append("transfer-encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        # A client only sends again once this response is done, so a read returning now
        # means it closed the connection.
        watch = asyncio.ensure_future(reader.read(1))
        watch.add_done_callback(lambda w: _note_hangup(w, request))
        try:
            for part in reply.parts:
                if request.disconnected.is_set():
                    return False, b""
                if isinstance(part, Drop):
                    writer.transport.abort()
                    return False, b""
                if isinstance(part, Pause):
                    await _sleep_unless(request, part.seconds)
                elif isinstance(part, KeepAlive):
                    await self._keep_alive(part, request, writer)
                else:
                    await _send_chunk(writer, part)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            request.disconnected.set()
            return False, b""
        finally:
            if not watch.done():
                watch.cancel()
        early = b""
        if watch.done() and not watch.cancelled() and watch.exception() is None:
            early = watch.result()
        return not request.disconnected.is_set(), early

    async def _keep_alive(
        self, part: KeepAlive, request: Recorded, writer: asyncio.StreamWriter
    ) -> None:
        deadline = self._loop.time() + part.seconds
        while self._loop.time() < deadline and not request.disconnected.is_set():
            await _send_chunk(writer, b": keep-alive\n\n")
            await _sleep_unless(request, part.every)


def _note_hangup(watch: asyncio.Future[bytes], request: Recorded) -> None:
    if not watch.cancelled() and (watch.exception() is not None or watch.result() == b""):
        request.disconnected.set()


async def _sleep_unless(request: Recorded, seconds: float) -> None:
    """Sleep, waking early once the client has gone (a thread's flag, so it is polled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not request.disconnected.is_set() and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(min(0.01, max(0.0, deadline - loop.time())))


async def _send_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    await writer.drain()
    if writer.transport.is_closing():
        raise ConnectionResetError("client went away")


def _unscripted() -> Reply:
    return json_reply({"error": {"message": "no scripted reply for this request"}}, status=500)
