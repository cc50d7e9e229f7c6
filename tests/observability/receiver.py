"""A loopback HTTP receiver that records every POST (Sentry envelopes, OTLP exports) and
answers 200: the collector or Sentry host the service talks to in these tests."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Posted", "Receiver", "receiver", "wait_for"]


@dataclass(frozen=True)
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes  # decompressed


class Receiver:
    """What was posted to it, by path; ``url`` is its base URL once it listens."""

    def __init__(self) -> None:
        self.port = 0
        self._lock = threading.Lock()
        self._posted: list[Posted] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, posted: Posted) -> None:
        with self._lock:
            self._posted.append(posted)

    def posted(self, path: str) -> list[Posted]:
        with self._lock:
            return [p for p in self._posted if p.path == path]


def _decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    assert encoding in ("", "identity"), f"unexpected Content-Encoding {encoding!r}"
    return body


def _handler(target: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            encoding = (self.headers.get("content-encoding") or "").lower()
            headers = {k.lower(): v for k, v in self.headers.items()}
            target.add(Posted(self.path, headers, _decoded(body, encoding)))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    return Handler


@contextmanager
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(target))
    target.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def wait_for(check: Callable[[], bool], *, poke: Callable[[], object], seconds: float = 15) -> None:
    """Call ``poke`` (a flush) until ``check`` holds, or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        poke()
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("what the test waited for did not arrive")
        time.sleep(0.05)
