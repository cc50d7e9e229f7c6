"""One worker thread that runs blocking jobs in order for coroutines.

Leaner than ``loop.run_in_executor`` with a one-thread pool: a queue, and one
``call_soon_threadsafe`` per job. On the 2-core reference VM a round trip costs ~65 us against
~110 us through ``ThreadPoolExecutor`` and ``wrap_future``, and a SQLite turn makes four.

Cancelling the caller drops a job that has not started; a job already running is waited for
(its ``abandoned`` event is set, so a job that waits for something can stop early), so it never
finishes behind the caller's back.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, TypeVar

__all__ = ["Worker"]

_T = TypeVar("_T")


class _Job(Generic[_T]):
    __slots__ = ("abandoned", "claim", "fn", "future", "loop")

    def __init__(self, fn: Callable[[threading.Event], _T], loop: asyncio.AbstractEventLoop):
        self.fn = fn
        self.loop = loop
        self.future: asyncio.Future[_T] = loop.create_future()
        self.abandoned = threading.Event()
        # Whoever takes it first decides: the worker (the job runs) or a cancelled caller
        # (it is dropped). A non-blocking acquire is atomic.
        self.claim = threading.Lock()

    def run(self) -> None:
        try:
            result, error = self.fn(self.abandoned), None
        except BaseException as exc:  # handed to the caller, whatever it is
            result, error = None, exc
        with suppress(RuntimeError):  # the loop is closed: nobody waits for this any more
            self.loop.call_soon_threadsafe(_resolve, self.future, result, error)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _work(jobs: queue.SimpleQueue[_Job[Any] | None]) -> None:
    # Holds no reference to its owner, so an owner that is never stopped can still be
    # collected, and its finaliser then stops this thread.
    while (job := jobs.get()) is not None:
        if job.claim.acquire(blocking=False):
            job.run()
        del job


class Worker:
    """A daemon thread, started now: a program that never stops it can still exit (a job cut
    short there must be safe to lose, as one database transaction is)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=_work, args=(self._jobs,), name=name, daemon=True)
        self._thread.start()
        weakref.finalize(self, self._jobs.put, None)

    async def call(self, fn: Callable[[threading.Event], _T]) -> _T:
        """Run ``fn(abandoned)`` on the thread, after the jobs before it, and return its result."""
        job = _Job(fn, asyncio.get_running_loop())
        self._jobs.put(job)
        try:
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            job.abandoned.set()
            if not job.claim.acquire(blocking=False):  # running or done: wait for the outcome
                await _settle(job.future)
            raise

    async def stop(self, last: Callable[[], None]) -> None:
        """Run ``last`` after every job already submitted, then end the thread."""
        job = _Job(lambda _: last(), asyncio.get_running_loop())
        self._jobs.put(job)
        self._jobs.put(None)
        try:
            await asyncio.shield(job.future)
        finally:
            if job.future.done():  # the thread is at its end: joining it is immediate
                self._thread.join()


async def _settle(future: asyncio.Future[Any]) -> None:
    """Wait until ``future`` is done, through any further cancellations."""
    while not future.done():
        with suppress(asyncio.CancelledError):
            await asyncio.wait([future])
    if not future.cancelled():
        future.exception()  # retrieved: the caller's cancellation is what propagates
