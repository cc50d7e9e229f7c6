"""The floor for the stores benchmark: each database driver doing a store's work by hand.

Each raw backend stores one message the way the cheapest correct code would: in one atomic
step, bump the session's counter and write the message numbered by it.

- SQLite (``sqlite3`` on one worker thread, a queue and ``call_soon_threadsafe``, the leanest
  hand-off): ``BEGIN IMMEDIATE``, the counter's upsert ``RETURNING`` it, the message's
  ``INSERT``, ``COMMIT``; the same WAL mode and ``synchronous`` level as the store.
- Redis and Redis Cluster (``redis.asyncio``): one ``EVALSHA`` of a script doing ``HINCRBY``
  (the counter), ``RPUSH`` (the message) and ``PEXPIRE`` on both keys, which share a hash tag.
- PostgreSQL (``psycopg`` 3, one async connection in autocommit, statements prepared after
  their fifth use): one statement, a counter upsert ``RETURNING`` the number feeding the
  message's ``INSERT``, so one transaction and one round trip.

Reads fetch the last N rows/items, as bytes or strings: decoding them into messages is part of
what a store adds. ``RoundTrips`` is a loopback TCP relay that can delay the server's answers:
how much an operation slows down tells how many round trips it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

__all__ = ["PostgresRaw", "Raw", "RedisRaw", "RoundTrips", "SQLiteRaw"]

_T = TypeVar("_T")


class Raw(Protocol):
    name: str

    async def append(self, session_id: str, payload: str) -> int: ...

    async def fill(self, session_id: str, payloads: list[str]) -> None: ...

    async def read_last(self, session_id: str, count: int) -> list[Any]: ...

    async def close(self) -> None: ...


# ----------------------------------------------------------------------------- SQLite


class _Thread:
    """One worker thread running jobs in order; results come back by ``call_soon_threadsafe``."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="bench-raw-sqlite", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, loop, future = job
            try:
                result = fn()
            except BaseException as exc:  # handed to the caller
                loop.call_soon_threadsafe(_fail, future, exc)
            else:
                loop.call_soon_threadsafe(_succeed, future, result)

    async def call(self, fn: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._jobs.put((fn, loop, future))
        return await future

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join()


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


class SQLiteRaw:
    """``sqlite3`` on its own file, on one worker thread."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.name = f"sqlite3 ({synchronous})"
        self._thread = _Thread()
        self._path = path
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, last_seq INTEGER NOT "
                "NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS messages (session_id TEXT NOT NULL, seq INTEGER NOT "
                "NULL, message TEXT NOT NULL, UNIQUE (session_id, seq))"
            )
            self._conn = conn
        return self._conn

    def _append(self, session_id: str, payload: str) -> int:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            seq = int(
                conn.execute(
                    "INSERT INTO sessions (id, last_seq) VALUES (?, 1) ON CONFLICT (id) DO "
                    "UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
                    (session_id,),
                ).fetchone()[0]
            )
            conn.execute(
                "INSERT INTO messages (session_id, seq, message) VALUES (?, ?, ?)",
                (session_id, seq, payload),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return seq

    def _fill(self, session_id: str, payloads: list[str]) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT last_seq FROM sessions WHERE id = ?", (session_id,)).fetchone()
        last = int(row[0]) if row else 0
        conn.executemany(
            "INSERT INTO messages (session_id, seq, message) VALUES (?, ?, ?)",
            ((session_id, last + i, p) for i, p in enumerate(payloads, 1)),
        )
        conn.execute(
            "INSERT INTO sessions (id, last_seq) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET "
            "last_seq = excluded.last_seq",
            (session_id, last + len(payloads)),
        )
        conn.execute("COMMIT")

    def _read_last(self, session_id: str, count: int) -> list[Any]:
        return (
            self._connection()
            .execute(
                "SELECT message FROM (SELECT seq, message FROM messages WHERE session_id = ? "
                "ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                (session_id, count),
            )
            .fetchall()
        )

    async def append(self, session_id: str, payload: str) -> int:
        return await self._thread.call(lambda: self._append(session_id, payload))

    async def fill(self, session_id: str, payloads: list[str]) -> None:
        await self._thread.call(lambda: self._fill(session_id, payloads))

    async def read_last(self, session_id: str, count: int) -> list[Any]:
        return await self._thread.call(lambda: self._read_last(session_id, count))

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()

        await self._thread.call(close)
        self._thread.stop()


# ----------------------------------------------------------------------------- Redis

_APPEND_SCRIPT = """
local seq = redis.call('HINCRBY', KEYS[1], 'last_seq', 1)
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return seq
"""
_TTL_MS = "3600000"


class RedisRaw:
    """``redis.asyncio`` (one node, or a Redis Cluster client): one ``EVALSHA`` per append."""

    def __init__(self, url: str, *, cluster: bool) -> None:
        import redis.asyncio as aioredis

        self.name = "redis-py asyncio" + (" cluster" if cluster else "")
        self._client: Any = (
            aioredis.RedisCluster.from_url(url) if cluster else aioredis.Redis.from_url(url)
        )
        self._sha = ""

    @staticmethod
    def _keys(session_id: str) -> tuple[str, str]:
        return f"bench-raw:{{{session_id}}}:meta", f"bench-raw:{{{session_id}}}:messages"

    async def append(self, session_id: str, payload: str) -> int:
        import redis.exceptions

        meta, messages = self._keys(session_id)
        if not self._sha:
            self._sha = str(await self._client.script_load(_APPEND_SCRIPT))
        try:
            seq = await self._client.evalsha(self._sha, 2, meta, messages, payload, _TTL_MS)
        except redis.exceptions.NoScriptError:  # a cluster node that has not seen it yet
            seq = await self._client.eval(_APPEND_SCRIPT, 2, meta, messages, payload, _TTL_MS)
        return int(seq)

    async def fill(self, session_id: str, payloads: list[str]) -> None:
        meta, messages = self._keys(session_id)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.rpush(messages, *payloads)
            pipe.hincrby(meta, "last_seq", len(payloads))
            await pipe.execute()

    async def read_last(self, session_id: str, count: int) -> list[Any]:
        return list(await self._client.lrange(self._keys(session_id)[1], -count, -1))

    async def close(self) -> None:
        await self._client.aclose()


# ----------------------------------------------------------------------------- PostgreSQL

_PG_SCHEMA = (
    "CREATE SCHEMA IF NOT EXISTS bench_raw",
    "CREATE TABLE IF NOT EXISTS bench_raw.sessions (id text PRIMARY KEY, last_seq bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS bench_raw.messages (session_id text NOT NULL, seq bigint NOT "
    "NULL, message {kind} NOT NULL, PRIMARY KEY (session_id, seq))",
)
_PG_APPEND = (
    "WITH s AS (INSERT INTO bench_raw.sessions AS s (id, last_seq) VALUES (%(id)s, 1) "
    "ON CONFLICT (id) DO UPDATE SET last_seq = s.last_seq + 1 RETURNING last_seq) "
    "INSERT INTO bench_raw.messages (session_id, seq, message) "
    "SELECT %(id)s, last_seq, %(message)s FROM s RETURNING seq"
)


class PostgresRaw:
    """``psycopg`` 3: one async connection, autocommit, one statement per append.

    ``column`` is the message column's type: the store's own (``jsonb`` or ``text``), so the
    server parses the same. Messages are read back as text in both cases (``::text``), left
    for the caller to decode.
    """

    def __init__(self, url: str, column: str = "jsonb") -> None:
        self.name = "psycopg 3 async"
        self._url = url
        self._column = column
        self._conn: Any = None

    async def _connection(self) -> Any:
        if self._conn is None:
            import psycopg

            conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            for statement in _PG_SCHEMA:
                await conn.execute(statement.format(kind=self._column))
            self._conn = conn
        return self._conn

    async def append(self, session_id: str, payload: str) -> int:
        conn = await self._connection()
        cursor = await conn.execute(_PG_APPEND, {"id": session_id, "message": payload})
        row = await cursor.fetchone()
        return int(row[0])

    async def fill(self, session_id: str, payloads: list[str]) -> None:
        conn = await self._connection()
        async with conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO bench_raw.sessions AS s (id, last_seq) VALUES (%s, 0) ON CONFLICT "
                "(id) DO UPDATE SET last_seq = s.last_seq RETURNING last_seq",
                (session_id,),
            )
            row = await cursor.fetchone()
            last = int(row[0])
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO bench_raw.messages (session_id, seq, message) VALUES (%s, %s, %s)",
                    [(session_id, last + i, p) for i, p in enumerate(payloads, 1)],
                )
            await conn.execute(
                "UPDATE bench_raw.sessions SET last_seq = %s WHERE id = %s",
                (last + len(payloads), session_id),
            )

    async def read_last(self, session_id: str, count: int) -> list[Any]:
        conn = await self._connection()
        cursor = await conn.execute(
            "SELECT message::text FROM (SELECT seq, message FROM bench_raw.messages WHERE "
            "session_id = %s ORDER BY seq DESC LIMIT %s) t ORDER BY seq",
            (session_id, count),
        )
        return list(await cursor.fetchall())

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()


# ----------------------------------------------------------------------------- round trips


class RoundTrips:
    """A loopback TCP relay to a server that can hold back the server's answers.

    With ``delay`` seconds set, every byte from the server reaches the client that much later
    (order kept), so an operation takes ``delay`` longer for each time its client waited for
    the server: (time with the delay - time without) / delay is its number of round trips,
    however the client splits or pipelines what it sends.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.delay = 0.0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        loop = asyncio.get_running_loop()
        answers: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def upstream() -> None:
            while data := await reader.read(1 << 16):
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def downstream() -> None:
            while data := await up_reader.read(1 << 16):
                answers.put_nowait((loop.time() + self.delay, data))
            answers.put_nowait((0.0, b""))

        async def deliver() -> None:
            while True:
                due, data = await answers.get()
                if not data:
                    break
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.gather(upstream(), downstream(), deliver())

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
