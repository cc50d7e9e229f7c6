"""The test process reaches loopback and Unix sockets only (the guard is in conftest.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

BLOCKED = "tests may not reach the network"
# Documentation addresses (RFC 5737, RFC 3849): never routed, so even a broken guard cannot
# send a packet anywhere; the timeout keeps it from hanging.
OUTSIDE = [("192.0.2.1", 80), ("2001:db8::1", 80), ("::ffff:192.0.2.1", 80)]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


@pytest.mark.parametrize("address", OUTSIDE)
def test_connect_outside_is_refused(address: tuple[str, int]) -> None:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        with pytest.raises(RuntimeError, match=BLOCKED):
            sock.connect(address)
        with pytest.raises(RuntimeError, match=BLOCKED):
            sock.connect_ex(address)


@pytest.mark.parametrize("host", ["example.com", b"api.openai.com", "192.0.2.1"])
def test_looking_up_an_outside_name_is_refused(host: str | bytes) -> None:
    with pytest.raises(RuntimeError, match=BLOCKED):
        socket.getaddrinfo(host, 443)


def test_create_connection_outside_is_refused() -> None:
    with pytest.raises(RuntimeError, match=BLOCKED):
        socket.create_connection(("example.com", 443), timeout=0.5)


async def test_asyncio_connections_outside_are_refused() -> None:
    with pytest.raises(RuntimeError, match=BLOCKED):
        await asyncio.wait_for(asyncio.open_connection("192.0.2.1", 80), timeout=2)
    with pytest.raises(RuntimeError, match=BLOCKED):
        await asyncio.wait_for(asyncio.open_connection("example.com", 80), timeout=2)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_still_works(listener: socket.socket, host: str) -> None:
    port = listener.getsockname()[1]
    with socket.create_connection((host, port), timeout=5) as client:
        accepted, _ = listener.accept()
        with accepted:
            client.sendall(b"ping")
            assert accepted.recv(4) == b"ping"


async def test_asyncio_loopback_still_works(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()


def test_unix_sockets_still_work(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"ok")
                assert accepted.recv(2) == b"ok"
