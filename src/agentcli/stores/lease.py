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
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple, Protocol

from ..errors import ConfigError, SessionBusyError

__all__ = [
    "DEFAULT_LEASE_TTL",
    "DEFAULT_LEASE_WAIT",
    "HeldLease",
    "Lease",
    "LeaseGrant",
    "LeasePrimitives",
    "hold_lease",
    "new_lease_token",
    "new_revision",
]

logger = logging.getLogger("agentcli.stores")

DEFAULT_LEASE_TTL = 30.0
"""Seconds a lease lives without renewal: how long a crashed holder can block its session."""
DEFAULT_LEASE_WAIT = 30.0
"""Seconds a turn waits for a busy session before it fails with ``SessionBusyError``."""

_FIRST_PAUSE = 0.002
_LAST_PAUSE = 0.25


class LeaseGrant(NamedTuple):
    """What a granted lease reports about its session, read in the same atomic step: its last
    ``seq`` (0 if it does not exist) and its ``revision`` ("" if it does not exist), which
    changes whenever the session is created or its state (window, metadata) is set. A holder
    whose cached window has both is current; otherwise another process moved the session."""

    last_seq: int
    revision: str


@dataclass(slots=True, eq=False)  # compared by identity: held leases live in a set
class Lease:
    """A held lease. ``last_seq`` and ``revision`` are the session's when it was taken (see
    :class:`LeaseGrant`): the holder compares them with what it cached. ``lost`` turns true if
    a renewal found the lease taken over (the holder stalled longer than ``ttl``)."""

    session_id: str
    token: str
    last_seq: int
    ttl: float
    revision: str = ""
    lost: bool = field(default=False)


class LeasePrimitives(Protocol):
    """What a backend implements for :func:`hold_lease`. All three are atomic on the server."""

    async def lease_acquire(self, session_id: str, token: str, ttl: float) -> LeaseGrant | float:
        """Take the lease if it is free, expired, or already ``token``'s.

        Returns a :class:`LeaseGrant` (read atomically with the grant) when taken; otherwise
        the seconds until the current holder's lease expires (a ``float``, at least 0.0).
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


def new_revision() -> str:
    """A session state's revision: random, so a deleted and re-created session never reuses
    one a cache still holds."""
    return secrets.token_hex(8)


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

    __slots__ = ("_backend", "_clock", "_lease", "session_id", "ttl", "wait")

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
            if isinstance(got, LeaseGrant):
                break
            waited = self._clock() - started
            left = self.wait - waited
            if left <= 0:
                raise SessionBusyError(session_id, waited=waited, retry_after=max(float(got), 1.0))
            # Jittered, so waiters spread out; never past the holder's expiry or our wait.
            delay = min(pause * (0.5 + random.random()), left, max(float(got), _FIRST_PAUSE))  # noqa: S311
            await asyncio.sleep(delay)
            pause = min(pause * 2, _LAST_PAUSE)
        lease = self._lease = Lease(session_id, token, got.last_seq, ttl, got.revision)
        _Renewer.of(backend).hold(lease)
        return lease

    async def __aexit__(self, *exc: object) -> None:
        lease = self._lease
        if lease is not None:
            _Renewer.of(self._backend).drop(lease)
            await _release_surely(self._backend, lease)


class _Renewer:
    """Renews every lease a backend holds in this process, from one task per backend.

    A timer or a task per lease would cost every turn: a cancelled asyncio timer stays in the
    loop's heap until it would have fired (measured: about 200 bytes and a heap push a turn).
    The task wakes every third of the shortest time to live held, renews all, and ends when
    nothing is held; a lease taken just after a wake is renewed by the second wake at the
    latest, before two thirds of its time to live have passed.
    """

    _by_backend: ClassVar[weakref.WeakKeyDictionary[LeasePrimitives, _Renewer]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, backend: LeasePrimitives) -> None:
        self._backend = weakref.ref(backend)
        self._held: set[Lease] = set()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, backend: LeasePrimitives) -> _Renewer:
        renewer = cls._by_backend.get(backend)
        if renewer is None:
            renewer = cls._by_backend[backend] = cls(backend)
        return renewer

    def hold(self, lease: Lease) -> None:
        self._held.add(lease)
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def drop(self, lease: Lease) -> None:
        self._held.discard(lease)

    async def _run(self) -> None:
        while self._held:
            await asyncio.sleep(min(lease.ttl for lease in self._held) / 3)
            backend = self._backend()
            if backend is None:
                return
            for lease in list(self._held):
                if lease in self._held and not lease.lost:
                    await _renew_once(backend, lease)


async def _renew_once(backend: LeasePrimitives, lease: Lease) -> None:
    try:
        if not await backend.lease_renew(lease.session_id, lease.token, lease.ttl):
            lease.lost = True
            logger.warning(
                "lost the lease on a session (the turn ran past its time to live without "
                "renewing); its writes will be refused if another turn ran meanwhile",
                extra={"session_id": lease.session_id},
            )
    except asyncio.CancelledError:
        raise
    except Exception:
        # A store hiccup: try again at the next wake; the lease has time left.
        logger.warning("could not renew a session lease", extra={"session_id": lease.session_id})


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
