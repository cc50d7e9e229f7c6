"""SQLite: the embedded default store, one file in the user's data directory.

The SQL (schema, migrations, one transaction per operation) is in ``_sqlite_ops.py``; this
module runs it. Every call runs on one dedicated worker thread per store (``_thread.py``), which
owns the connection: the event loop never waits for a disk flush or for another process's lock.
The one exception is a lease write, below, which waits for neither.

Durability: WAL with ``synchronous=FULL`` by default, which fsyncs the WAL at every commit, so
a stored message survives a power loss or OS crash, not only a crash of the process. The
alternative, ``synchronous=NORMAL``, writes the WAL without the fsync: still durable against a
crash of any process using the file (Ctrl-C, kill -9), and the file can never be corrupted, but
a power loss may take the last commits with it. Measured on the 2-core reference VM before
leases (two appends per turn, the user's message then the answer): FULL 0.61-0.83 ms per turn
(a whole ``SessionManager`` turn: 0.72-0.82 ms), NORMAL 0.36-0.44 ms. That VM's disk
acknowledges an fsync in ~0.15 ms; on a disk that really flushes, an fsync can take
milliseconds, and ``?synchronous=normal`` in the URL (or ``SQLiteStore(path,
synchronous="NORMAL")``) brings a turn back under half a millisecond.

Leases (one turn at a time per session, ``stores/lease.py``) are rows of the same file, each
taken, renewed or released in its own short transaction. A lease need not survive a power loss
(it only lives for its ttl), so those transactions never fsync, whatever the store's setting:
the next durable commit syncs them along with it. And since such a write cannot wait (no fsync,
no checkpoint, ``timeout=0`` for the lock), it runs at once on the caller's thread, on a second
connection, when the file is free (~50 us), and goes to the worker only when it is busy: two
thread wake-ups per lease write were what made a turn slow (+0.45 ms a turn, measured).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

from pydantic import JsonValue

from .._private_files import PRIVATE_FILE, make_private_dir
from ..errors import ConfigError, StoreError
from ..messages import Message
from . import _sqlite_ops as sql
from . import _sqlite_spend as spend
from ._sqlite_write import WholeSessionWriter
from ._thread import Worker
from ._url_options import seconds_option
from .base import SessionInfo, check_spend, validate_session_id
from .lease import DEFAULT_LEASE_TTL, DEFAULT_LEASE_WAIT, Lease, LeaseGrant, hold_lease

__all__ = ["SQLiteStore"]

_T = TypeVar("_T")
Synchronous = Literal["NORMAL", "FULL"]

# Pauses between attempts while another connection holds the lock: short, so a waiting writer
# gets its turn soon after the lock is free, and jittered, so waiting writers spread out.
_FIRST_PAUSE = 0.0002
_LAST_PAUSE = 0.004


class SQLiteStore(WholeSessionWriter):
    """Sessions in one SQLite file, safe for many coroutines, threads and processes.

    Nothing is opened (no file, no thread) until the first call. A turn (take the lease,
    append the user's message, then the answer, release) makes two durable commits with the
    default ``synchronous="FULL"`` and none with ``"NORMAL"``; the module docstring explains
    the trade-off. ``clock`` (wall-clock seconds, ``time.time`` by default) times lease expiry;
    tests inject their own.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 10.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        mode = str(synchronous).upper()
        if mode not in ("NORMAL", "FULL"):
            raise ConfigError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        if not busy_timeout >= 0:  # NaN too: a writer would wait for the lock forever
            raise ConfigError(f"busy_timeout must be zero or more seconds, not {busy_timeout!r}")
        self.path: Path | None = (
            None if str(path) == ":memory:" else Path(path).expanduser().absolute()
        )
        self.synchronous = mode
        self.busy_timeout = busy_timeout
        # Lease expiry is wall-clock time: every process using the file compares it with its
        # own clock. An injected clock (tests) also times the wait for a busy session.
        self._clock = clock or time.time
        self._wait_clock = clock or time.monotonic
        self._worker: Worker | None = None
        self._conn: sqlite3.Connection | None = None  # used only on the worker thread
        # Opened by the worker with the main one; used for lease writes under the lock.
        self._lease_conn: sqlite3.Connection | None = None
        self._lease_lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """Open ``sqlite:///relative.db``, ``sqlite:////absolute/path.db`` or ``sqlite://``
        (``sqlite://:memory:``), with optional ``?synchronous=normal&timeout=SECONDS``.

        As in SQLAlchemy, the path is what follows the third slash, so an absolute path has
        four (``f"sqlite:///{absolute_path}"`` does the right thing).
        """
        scheme, sep, rest = url.partition("://")
        if scheme.lower() != "sqlite" or not sep:
            raise ConfigError(f"not a SQLite URL: {url!r} (use sqlite:///path/to/file.db)")
        location, _, query = rest.partition("?")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
        except ValueError:
            raise ConfigError(
                f"cannot read the options in {url!r}: write them as ?synchronous=normal&timeout=5"
            ) from None
        options: dict[str, Any] = {}
        for key, value in pairs:
            if key == "synchronous":
                options["synchronous"] = value
            elif key == "timeout":
                options["busy_timeout"] = seconds_option(key, value, url, low=0, high=3600)
            else:
                raise ConfigError(
                    f"unknown option {key!r} in {url!r} (known: synchronous, timeout)"
                )
        if location in ("", ":memory:", "/:memory:"):
            return cls(":memory:", **options)
        if not location.startswith("/") or location == "/":
            raise ConfigError(
                f"SQLite URL {url!r} has no file path: use sqlite:///relative.db or "
                "sqlite:////absolute/path.db"
            )
        return cls(location[1:], **options)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path or ':memory:')!r}, synchronous={self.synchronous!r})"

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ SessionStore

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        expected_last_seq: int | None = None,
    ) -> list[Message]:
        validate_session_id(session_id)
        batch = list(messages)
        return await self._call(lambda conn: sql.append(conn, session_id, batch, expected_last_seq))

    async def read(
        self, session_id: str, *, since_seq: int = 1, last: int | None = None
    ) -> list[Message]:
        if last is not None and last <= 0:
            return []
        return await self._call(lambda conn: sql.read(conn, session_id, since_seq, last))

    async def read_seqs(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        wanted = sorted({int(s) for s in seqs})
        if not wanted:
            return []
        return await self._call(lambda conn: sql.read_seqs(conn, session_id, wanted))

    async def info(self, session_id: str) -> SessionInfo | None:
        return await self._call(lambda conn: sql.info(conn, session_id))

    async def list_sessions(
        self, *, limit: int | None = None, owner: str | None = None
    ) -> list[SessionInfo]:
        return await self._call(lambda conn: sql.list_sessions(conn, limit, owner))

    async def set_state(
        self,
        session_id: str,
        *,
        window_start: int | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> str:
        validate_session_id(session_id)
        return await self._call(
            lambda conn: sql.set_state(conn, session_id, window_start, metadata)
        )

    async def delete(self, session_id: str) -> bool:
        return await self._call(lambda conn: sql.delete(conn, session_id))

    async def expire(self, before: datetime) -> int:
        cutoff = sql.to_us(before)  # refuses a naive datetime before touching the file
        return await self._call(lambda conn: sql.expire(conn, cutoff))

    async def add_spend(self, scope: str, usd: float, *, ttl: float | None = None) -> float:
        check_spend(scope, usd, ttl)
        return await self._call(lambda conn: spend.add_spend(conn, scope, float(usd), ttl))

    async def get_spend(self, scope: str) -> float:
        return await self._call(lambda conn: spend.get_spend(conn, scope))

    # ------------------------------------------------------------------ leases

    def lease(
        self,
        session_id: str,
        *,
        ttl: float = DEFAULT_LEASE_TTL,
        wait: float = DEFAULT_LEASE_WAIT,
    ) -> AbstractAsyncContextManager[Lease]:
        return hold_lease(self, session_id, ttl=ttl, wait=wait, clock=self._wait_clock)

    async def lease_acquire(self, session_id: str, token: str, ttl: float) -> LeaseGrant | float:
        return await self._lease_write(
            lambda conn: sql.lease_acquire(conn, session_id, token, ttl, self._clock)
        )

    async def lease_renew(self, session_id: str, token: str, ttl: float) -> bool:
        return await self._lease_write(
            lambda conn: sql.lease_renew(conn, session_id, token, ttl, self._clock)
        )

    async def lease_release(self, session_id: str, token: str) -> None:
        await self._lease_write(lambda conn: sql.lease_release(conn, session_id, token))

    async def _lease_write(self, op: Callable[[sqlite3.Connection], _T]) -> _T:
        """At once on this thread if the file is free, else on the worker (which waits)."""
        done = self._lease_write_now(op)
        return done[0] if done is not None else await self._call(self._ephemeral(op))

    def _lease_write_now(self, op: Callable[[sqlite3.Connection], _T]) -> tuple[_T] | None:
        """Run ``op`` on the lease connection, on the event loop's thread, if it cannot wait.

        A lease write is ~50 us with no fsync (``synchronous=NORMAL``), no checkpoint
        (``wal_autocheckpoint=0``) and no waiting for a lock (``timeout=0``); handing it to the
        worker costs two thread wake-ups, ~200 us on the 2-core VM, and a turn makes two.
        ``None`` if it did not run: the file is busy, or not open yet, or it failed (the worker
        then retries it, and reports an error as every other call does).
        """
        if not self._lease_lock.acquire(blocking=False):
            return None  # another thread is using the lease connection
        try:
            conn = self._lease_conn
            if conn is None or self._closed:
                return None
            try:
                return (op(conn),)
            except sqlite3.Error:
                return None
        finally:
            self._lease_lock.release()

    def _ephemeral(
        self, op: Callable[[sqlite3.Connection], _T]
    ) -> Callable[[sqlite3.Connection], _T]:
        """``op`` with no fsync at its commit: a lease only lives for its ttl anyway."""
        if self.synchronous == "NORMAL":
            return op

        def without_fsync(conn: sqlite3.Connection) -> _T:
            # Outside the transaction: SQLite refuses to change the level inside one.
            conn.execute("PRAGMA synchronous = NORMAL")
            try:
                return op(conn)
            finally:
                self._restore_durability(conn)

        return without_fsync

    def _restore_durability(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.Error:
            # Never let a later message commit without its fsync: drop the connection; the next
            # call opens a new one with the store's own setting.
            self._disconnect()
            raise

    async def close(self) -> None:
        """Close the connection (after any write already submitted) and stop the worker."""
        if self._closed:
            return
        self._closed = True
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop(self._disconnect)

    # ------------------------------------------------------------------ the worker thread

    async def _call(self, op: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``op`` on the worker thread.

        If the caller is cancelled while ``op`` is running, the cancellation waits for ``op``
        to finish: a write is one transaction, so it is then wholly committed or wholly rolled
        back, and nothing lands later behind the caller's back. A job not yet started is
        dropped, and one still waiting for another writer's lock stops waiting.
        """
        if self._closed:
            raise StoreError(f"{self!r} is closed")
        if self._worker is None:
            self._worker = Worker("agentcli-sqlite")
        return await self._worker.call(functools.partial(self._run, op))

    def _run(self, op: Callable[[sqlite3.Connection], _T], abandoned: threading.Event) -> _T:
        """``op`` on the connection, retried while another connection holds the write lock."""
        deadline = time.monotonic() + self.busy_timeout
        pause = _FIRST_PAUSE
        while True:
            try:
                conn = self._conn if self._conn is not None else self._connect()
                return op(conn)
            except sqlite3.OperationalError as exc:
                # Another connection holds the write lock. Every operation is one transaction
                # (rolled back on error) or a read, so it is safe to run again.
                if not sql.is_busy(exc) or time.monotonic() >= deadline or abandoned.is_set():
                    raise StoreError(f"SQLite store {self.path or ':memory:'}: {exc}") from exc
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self.path or ':memory:'}: {exc}") from exc
            except OSError as exc:
                raise StoreError(f"cannot open the SQLite store {self.path}: {exc}") from exc
            # Waiting on the event, not sleeping: a cancelled caller stops the wait at once.
            abandoned.wait(pause * (0.5 + random.random()))  # noqa: S311 (jitter, not secrets)
            pause = min(pause * 2, _LAST_PAUSE)

    def _connect(self) -> sqlite3.Connection:
        if self.path is not None:
            _create_private(self.path)
        # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE.
        # timeout=0: a busy file fails at once and ``_run`` retries with short pauses. SQLite's
        # own busy handler backs off to 100 ms sleeps, so under contention a writer could
        # lose the lock for seconds to a busier one (measured: 2.8 s with two writers).
        conn = sqlite3.connect(self.path or ":memory:", timeout=0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()  # persistent, in the file
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            sql.migrate(conn)
            lease_conn = self._open_lease_connection()
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        with self._lease_lock:
            self._lease_conn = lease_conn
        return conn

    def _open_lease_connection(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None  # another ":memory:" connection would be another database
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints (which fsync) are left to the main connection, on the worker.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException:
            conn.close()
            raise
        return conn

    def _disconnect(self) -> None:
        with self._lease_lock:  # not while a lease write is running on the loop's thread
            lease_conn, self._lease_conn = self._lease_conn, None
            if lease_conn is not None:
                lease_conn.close()  # first: the last connection to close does the checkpoint
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _create_private(path: Path) -> None:
    """Make a new database file readable by its owner only (its ``-wal`` and ``-shm`` files
    take the same permissions from SQLite), in a new directory only its owner can enter. An
    existing file or directory keeps the permissions it has (the CLI reports looser ones)."""
    make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
        try:
            os.fchmod(fd, PRIVATE_FILE)  # exactly 0600: a umask like 0277 would make it 0400
        finally:
            os.close(fd)
