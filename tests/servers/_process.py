"""Helpers shared by the server fixtures: free ports, readiness polling, stopping."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable

__all__ = ["free_port", "stop_process", "wait_until"]


def free_port(*, also_free: int | None = None) -> int:
    """A TCP port on 127.0.0.1 nobody listens on (and ``port + also_free`` too, for a Redis
    Cluster node's bus port)."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if also_free is None:
            return port
        if port + also_free < 65536 and _is_free(port + also_free):
            return port
    raise RuntimeError("no free port pair found")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(check: Callable[[], bool], what: str, *, timeout: float = 30.0) -> None:
    """Poll ``check`` (a cheap probe of a server starting) until it is true, or fail saying
    what did not happen. A bound on a start-up, not a timing assertion."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
