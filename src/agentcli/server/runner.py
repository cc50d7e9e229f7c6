"""Running the service on uvicorn, as ``agentcli serve`` does: one process, or N workers.

    sock = bind("127.0.0.1", 8000)
    run_server(create_app(settings), settings, sock)          # returns after a clean shutdown

Workers are stateless: everything durable is in the store, so any worker can continue any
session. With several, this process binds the socket and supervises the workers (``Supervisor``)
instead of uvicorn's own supervisor, because uvicorn's would run its plain ``Server`` in each
worker, and that stops listening and then cuts the open streams, the wrong order for us (see
``shutdown.py``). Each worker gets its options as arguments and reads its settings from the same
environment and ``.env`` as this process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from types import FrameType
from typing import TYPE_CHECKING, Any

from .shutdown import CLOSE_MARGIN, SIGNALS, DrainingServer

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from fastapi import FastAPI

    from ..agent import AgentInterface
    from ..config import Settings

__all__ = [
    "STARTUP_FAILURE",
    "Supervisor",
    "WorkerSpec",
    "bind",
    "listen_url",
    "run_server",
    "run_worker",
    "uvicorn_options",
    "with_store",
]

STARTUP_FAILURE = 3  # what uvicorn exits with when the app's startup fails


def uvicorn_options(log_level: str) -> dict[str, Any]:
    """The uvicorn settings of ``agentcli serve`` (the server benchmark's bare app gets the
    same ones). Request logs and metrics are the app's own middleware's job."""
    return {
        "lifespan": "on",  # a store or agent that cannot start stops the server
        "log_level": log_level.lower(),
        "access_log": False,
        "server_header": False,
        "ws": "none",
        "timeout_graceful_shutdown": CLOSE_MARGIN,
    }


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port`` 0: any free port); ``OSError`` if it cannot be had."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # A restarted server can listen at once, though its old connections are in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listen_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def with_store(settings: Settings, store_url: str | None) -> Settings:
    """``settings`` with another store URL (``None``: unchanged)."""
    if store_url is None:
        return settings
    from pydantic import SecretStr

    return settings.model_copy(update={"store_url": SecretStr(store_url)})


def run_server(
    app: FastAPI,
    settings: Settings,
    sock: socket.socket,
    *,
    on_listen: Callable[[list[socket.socket]], None] | None = None,
) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or SIGINT, then drain and return.

    A failed start (the app's lifespan raised) ends in ``SystemExit(STARTUP_FAILURE)``."""
    import uvicorn

    config = uvicorn.Config(app, **uvicorn_options(settings.log_level))
    server = DrainingServer(config, app=app, grace=settings.shutdown_grace, on_listen=on_listen)
    server.run(sockets=[sock])


# ---------------------------------------------------------------------------- workers


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What each worker serves; sent to the worker process as it starts."""

    agents: tuple[str, ...]
    store_url: str | None = None


def run_worker(spec: WorkerSpec, sock: socket.socket, ready: Connection) -> None:
    """One worker process: its own settings, agents, store connection and server. It says
    ``ready`` once it serves."""
    from ..config import load_settings
    from ..logs import configure_logging
    from .app import create_app

    settings = with_store(load_settings(), spec.store_url)
    configure_logging(settings.log_level, settings.log_format)
    agents: Sequence[str] | Mapping[str, AgentInterface] = list(spec.agents)
    app = create_app(settings, agents=agents)
    run_server(app, settings, sock, on_listen=lambda _: ready.send(True))


@dataclass
class _Worker:
    process: BaseProcess
    ready: Connection
    is_ready: bool = False
    told: bool = False  # its ready pipe said something (or closed): stop waiting on it


class Supervisor:
    """Runs ``count`` workers on one socket. A worker that dies is replaced (one that could
    not start stops everything: the next would fail the same way). On SIGTERM or SIGINT each
    worker gets SIGTERM and drains; ``run`` returns once all have exited."""

    def __init__(self, spec: WorkerSpec, sock: socket.socket, count: int) -> None:
        self.spec = spec
        self.sock = sock
        self.count = count
        self.workers: list[_Worker] = []
        self.failed_to_start = False
        self._context = multiprocessing.get_context("spawn")
        self._stopping = False
        self._wake_reader, self._wake_writer = socket.socketpair()

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Until a signal; 0 if every worker ended cleanly. ``on_ready`` once all serve."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in SIGNALS}
        try:
            self.workers = [self._start() for _ in range(self.count)]
            self._watch(on_ready)
            return self._stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._wake_reader.close()
            self._wake_writer.close()

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def _start(self) -> _Worker:
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_worker, args=(self.spec, self.sock, sender), name="agentcli-worker"
        )
        process.start()
        sender.close()  # the worker holds the other end; its death closes it
        return _Worker(process, receiver)

    def _watch(self, on_ready: Callable[[], None] | None) -> None:
        announced = False
        while not self._stopping:
            waiting: list[Any] = [self._wake_reader]
            for worker in self.workers:
                waiting.append(worker.process.sentinel)
                if not worker.told:
                    waiting.append(worker.ready)
            woke = wait(waiting)
            for index, worker in enumerate(self.workers):
                if worker.ready in woke:
                    self._hear(worker)
                if worker.process.sentinel in woke and not self._replace(index, worker):
                    return
            if not announced and all(w.is_ready for w in self.workers):
                announced = True
                if on_ready is not None:
                    on_ready()

    def _hear(self, worker: _Worker) -> None:
        worker.told = True
        with contextlib.suppress(EOFError, OSError):
            worker.is_ready = bool(worker.ready.recv())

    def _replace(self, index: int, worker: _Worker) -> bool:
        """A worker ended: start another; ``False`` (stop) if it never started serving."""
        worker.process.join()
        worker.ready.close()
        if self._stopping:
            return True
        if not worker.is_ready or worker.process.exitcode == STARTUP_FAILURE:
            self.failed_to_start = True
            self._stopping = True
            return False
        self.workers[index] = self._start()
        return True

    def _stop(self) -> int:
        for worker in self.workers:
            if worker.process.is_alive() and worker.process.pid is not None:
                os.kill(worker.process.pid, signal.SIGTERM)
        clean = not self.failed_to_start
        for worker in self.workers:
            worker.process.join()
            # Killed by our own SIGTERM before it could handle signals: still a clean stop.
            clean = clean and worker.process.exitcode in (0, -signal.SIGTERM)
        return 0 if clean else 1
