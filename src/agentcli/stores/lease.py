"""The session lease: one turn at a time per session, across coroutines, processes and machines.

A lease is a claim on a session with an owner token and an expiry. The holder renews it while
its turn runs, so a turn may last longer than the lease's time to live; a holder that crashed
stops renewing, and its lease lapses after at most ``ttl`` seconds. Each backend supplies three
small primitives (:class:`LeasePrimitives`); :func:`hold_lease` does the waiting, the renewing
and the release, the same way for every backend.

Leases fence the turn, and appends fence the data: a writer names the ``seq`` it expects to
follow (``expected_last_seq``), so a holder that lost its lease (it stalled past the TTL and
someone else's turn ran) can never append after that turn.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import ConfigError, SessionBusyError

__all__ = [
    "DEFAULT_LEASE_TTL",
    "DEFAULT_LEASE_WAIT",
    "HeldLease",
    "Lease",
    "LeasePrimitives",
    "hold_lease",
    "new_lease_token",
]

logger = logging.getLogger("agentcli.stores")

DEFAULT_LEASE_TTL = 30.0
"""Seconds a lease lives without renewal: how long a crashed holder can block its session."""
DEFAULT_LEASE_WAIT = 30.0
"""Seconds a turn waits for a busy session before it fails with ``SessionBusyError``."""

_FIRST_PAUSE = 0.002
_LAST_PAUSE = 0.25


@dataclass(slots=True)
class Lease:
    """A held lease. ``last_seq`` is the session's last ``seq`` when it was taken (0 for a new
    session): the holder compares it with what it cached. ``lost`` turns true if a renewal
    found the lease taken over (the holder stalled longer than ``ttl``)."""

    session_id: str
    token: str
    last_seq: int
    ttl: float
    lost: bool = field(default=False)


class LeasePrimitives(Protocol):
    """What a backend implements for :func:`hold_lease`. All three are atomic on the server."""

    async def lease_acquire(self, session_id: str, token: str, ttl: float) -> int | float:
        """Take the lease if it is free, expired, or already ``token``'s.

        Returns the session's ``last_seq`` (an ``int``) when taken; otherwise the seconds
        until the current holder's lease expires (a ``float``, at least 0.0).
        """
        ...

    async def lease_renew(self, session_id: str, token: str, ttl: float) -> bool:
        """Extend ``token``'s lease by ``ttl`` from now; ``False`` if it is no longer held."""
        ...

    async def lease_release(self, session_id: str, token: str) -> None:
        """Release the lease if ``token`` still holds it (never someone else's)."""
        ...


def new_lease_token() -> str:
    return secrets.token_hex(16)


def check_lease_times(ttl: float, wait: float) -> None:
    if not ttl > 0 or ttl == float("inf"):
        raise ConfigError(f"the lease time to live must be a positive number of seconds: {ttl!r}")
    if not wait >= 0 or wait == float("inf"):
        raise ConfigError(f"the lease wait must be zero or more seconds: {wait!r}")


def hold_lease(
    backend: LeasePrimitives,
    session_id: str,
    *,
    ttl: float = DEFAULT_LEASE_TTL,
    wait: float = DEFAULT_LEASE_WAIT,
    clock: Callable[[], float] = time.monotonic,
) -> HeldLease:
    """Hold ``session_id``'s lease for the body of an ``async with``.

    Waits up to ``wait`` seconds for a busy session (with short, growing, jittered pauses),
    then raises :class:`SessionBusyError`. While held, the lease is renewed every third of its
    ``ttl``; it is released on exit, on error and on cancellation.
    """
    check_lease_times(ttl, wait)
    return HeldLease(backend, session_id, ttl, wait, clock)


class HeldLease:
    """The ``async with`` of :func:`hold_lease` (a class, not a generator: it runs every turn)."""

    __slots__ = ("_backend", "_clock", "_lease", "_renewal", "_timer", "session_id", "ttl", "wait")

    def __init__(
        self,
        backend: LeasePrimitives,
        session_id: str,
        ttl: float,
        wait: float,
        clock: Callable[[], float],
    ) -> None:
        self._backend = backend
        self.session_id = session_id
        self.ttl = ttl
        self.wait = wait
        self._clock = clock
        self._lease: Lease | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._renewal: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lease:
        backend, session_id, ttl = self._backend, self.session_id, self.ttl
        token = new_lease_token()
        started = self._clock()
        pause = _FIRST_PAUSE
        while True:
            try:
                got = await backend.lease_acquire(session_id, token, ttl)
            except BaseException:
                # Cancelled (or failed) after the server may have granted it: release by
                # token, which frees nothing if it was not granted, so nothing stays held.
                await _release_surely(backend, Lease(session_id, token, 0, ttl))
                raise
            if isinstance(got, int):
                break
            waited = self._clock() - started
            left = self.wait - waited
            if left <= 0:
                raise SessionBusyError(session_id, waited=waited, retry_after=max(float(got), 1.0))
            # Jittered, so waiters spread out; never past the holder's expiry or our wait.
            delay = min(pause * (0.5 + random.random()), left, max(float(got), _FIRST_PAUSE))  # noqa: S311
            await asyncio.sleep(delay)
            pause = min(pause * 2, _LAST_PAUSE)
        lease = self._lease = Lease(session_id, token, got, ttl)
        # A timer, not a task: most turns end before the first renewal is due, and a timer
        # costs next to nothing to set and cancel.
        self._timer = asyncio.get_running_loop().call_later(ttl / 3, self._start_renewing)
        return lease

    def _start_renewing(self) -> None:
        assert self._lease is not None
        self._renewal = asyncio.get_running_loop().create_task(
            _renew_forever(self._backend, self._lease)
        )

    async def __aexit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._renewal is not None:
            self._renewal.cancel()
        if self._lease is not None:
            await _release_surely(self._backend, self._lease)


async def _renew_forever(backend: LeasePrimitives, lease: Lease) -> None:
    while True:
        try:
            if not await backend.lease_renew(lease.session_id, lease.token, lease.ttl):
                lease.lost = True
                logger.warning(
                    "lost the lease on a session (the turn ran past its time to live without "
                    "renewing); its writes will be refused if another turn ran meanwhile",
                    extra={"session_id": lease.session_id},
                )
                return
        except asyncio.CancelledError:
            raise
        except Exception:
            # A store hiccup: try again at the next tick; the lease has two more thirds to live.
            logger.warning(
                "could not renew a session lease", extra={"session_id": lease.session_id}
            )
        await asyncio.sleep(lease.ttl / 3)


async def _release_surely(backend: LeasePrimitives, lease: Lease) -> None:
    """Release, even if the caller is cancelled meanwhile. A plain await first: shielding every
    release (a task and a loop iteration, ~27 us) cost a tenth of a whole SQLite turn."""
    try:
        await _release(backend, lease)
    except asyncio.CancelledError:
        # Cut short: again, out of the canceller's reach (releasing twice frees nothing more).
        await asyncio.shield(_release(backend, lease))
        raise


async def _release(backend: LeasePrimitives, lease: Lease) -> None:
    try:
        await backend.lease_release(lease.session_id, lease.token)
    except Exception:
        # The lease lapses by itself after its ttl; the turn's own outcome matters more.
        logger.warning("could not release a session lease", extra={"session_id": lease.session_id})
