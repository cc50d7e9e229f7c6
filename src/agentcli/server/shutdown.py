"""Stopping without dropping a turn: what SIGTERM and SIGINT do to ``agentcli serve``.

1. At once: the state says ``draining``, so health and readiness answer 503 (a load balancer
   stops sending traffic) and new turns are refused with 503 and ``Retry-After``.
2. The server keeps serving meanwhile (open streams, probes, other requests); the turns that
   are running get ``shutdown_grace`` seconds to finish. The drain ends as soon as none is left.
3. Turns still running then are cancelled with ``SHUTTING_DOWN``: each stream ends with an
   ``error`` event telling the client to retry, and each partial answer is stored, marked
   interrupted.
4. Then uvicorn's own shutdown: it stops listening, closes idle connections, waits at most
   ``CLOSE_MARGIN`` seconds for responses still being written, and ends the app's lifespan.

A second SIGINT (Ctrl-C twice) ends the grace at once; partial answers are still stored. The
process then exits normally (0): unlike uvicorn's default, the signal is not raised again
after the shutdown, which would kill the process with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Generator
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    import socket

    from fastapi import FastAPI

    from .state import ServerState
    from .turns import TurnRegistry

__all__ = ["CLOSE_MARGIN", "DrainingServer"]

# After the drain, how long uvicorn waits for responses still being written (a client that
# reads slowly) before it cuts them: the process ends within the grace plus this.
CLOSE_MARGIN = 3.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose SIGTERM drains the turns first (see the module docstring).

    ``app`` is the service ``create_app`` made (its state is read once it has started);
    ``on_listen`` is called once it serves, with its listening sockets.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        app: FastAPI,
        grace: float,
        on_listen: Callable[[list[socket.socket]], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.app = app
        self.grace = grace
        self._on_listen = on_listen
        self._drain: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_listen is not None:
            listening = [s for server in self.servers for s in server.sockets]
            self._on_listen(listening)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # On the loop (not ``signal.signal``), so the handler may start a task; and nothing
        # is re-raised afterwards, so a drained server exits 0 instead of dying of SIGTERM.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        try:
            for sig in SIGNALS:
                loop.add_signal_handler(sig, self.handle_exit, sig, None)
        except NotImplementedError:  # Windows' loops: uvicorn's own way, then
            with super().capture_signals():
                yield
            return
        try:
            yield
        finally:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is not None:
            if sig == signal.SIGINT:
                self._hurry.set()  # Ctrl-C again: no more waiting
            return
        state: ServerState | None = getattr(self.app.state, "agentcli", None)
        if state is None or not self.started:
            self.should_exit = True  # not serving yet: nothing to drain
            return
        state.draining = True  # before anything else: probes and new turns see it now
        self._drain = asyncio.get_running_loop().create_task(
            self._drain_then_exit(state), name="agentcli drain"
        )

    async def _drain_then_exit(self, state: ServerState) -> None:
        from .turns import SHUTTING_DOWN

        try:
            await self._wait_for_turns(state.turns)
            await state.turns.cancel_all(SHUTTING_DOWN)
        finally:
            self.should_exit = True  # uvicorn's own shutdown starts at its next tick

    async def _wait_for_turns(self, turns: TurnRegistry) -> None:
        """Until no turn runs, the grace is over, or Ctrl-C came again."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        hurry = loop.create_task(self._hurry.wait())
        try:
            while not self._hurry.is_set():
                # Read again each time: a request that passed the draining check just before
                # the signal may have started its turn since.
                running = {t.task for t in turns.running() if t.task and not t.task.done()}
                remaining = deadline - loop.time()
                if not running or remaining <= 0:
                    return
                await asyncio.wait(
                    {*running, hurry}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            hurry.cancel()
