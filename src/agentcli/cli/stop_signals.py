"""SIGTERM and SIGHUP stop a turn the way Ctrl-C does: the running task is cancelled, so the
session keeps the partial answer marked interrupted, and the command then exits 128 + the
signal's number (143 for SIGTERM, 129 for SIGHUP, the shell's convention).

Without this, their default action kills the process mid-turn and the words already shown
are lost (only the user's message stays stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

from .exits import CLIExit, print_error

__all__ = ["StopSignals"]

# SIGHUP does not exist on Windows; there the default action stays.
_WATCHED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopSignals:
    """Remembers the first stop signal received while a task was being watched."""

    __slots__ = ("received",)

    def __init__(self) -> None:
        self.received: signal.Signals | None = None

    @contextlib.contextmanager
    def cancelling(self, task: asyncio.Future[Any] | None) -> Iterator[None]:
        """While inside, SIGTERM and SIGHUP cancel ``task`` instead of killing the process."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for signum in _WATCHED:
            try:
                loop.add_signal_handler(signum, self._stop, signum, task)
            except (NotImplementedError, RuntimeError, ValueError):
                break  # not the main thread, or no signal handlers on this platform
            installed.append(signum)
        try:
            yield
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    def _stop(self, signum: signal.Signals, task: asyncio.Future[Any] | None) -> None:
        # Only the first one cancels: a second SIGHUP (the shell and the kernel both send
        # one when a terminal closes) must not cut short the storing of the partial answer.
        if self.received is not None:
            return
        self.received = signum
        if task is not None:
            task.cancel()

    @property
    def exit_code(self) -> int | None:
        return None if self.received is None else 128 + int(self.received)

    def exit(self) -> NoReturn:
        """Say why the command stopped (if anyone still listens) and exit 128 + signal."""
        assert self.received is not None
        with contextlib.suppress(OSError):
            print_error(f"{self.received.name} received", prefix="stopped")
            sys.stdout.flush()
        # A closed terminal (SIGHUP) fails every later write: keep Python quiet at exit.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                with contextlib.suppress(OSError, ValueError):
                    os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        raise CLIExit(128 + int(self.received))
