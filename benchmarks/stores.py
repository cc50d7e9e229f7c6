"""The session stores on loopback: SQLite (FULL and NORMAL), Redis, a Redis Cluster, PostgreSQL.

For each backend, in one process: appends per second and their latency beside the raw driver
doing the same work (``_raw_stores.py``), reading the last 50 of 1,000 messages beside the raw
driver, a ``SessionManager`` turn beside the bare store operations it makes (lease, two appends,
release), and a cold turn (a new manager, nothing cached) on a 20,000-message session whose
window holds 2,000. Then ``POST /chat`` requests per second from one and from two
``agentcli serve`` replicas sharing one Redis. A backend whose server, driver or store module
is missing is skipped with the reason (and the command that installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from ._common import (
    Section,
    Table,
    filesystem,
    fmt_ms,
    fmt_ratio,
    fmt_us,
    has_module,
    median,
    ok,
    progress,
)
from ._raw_stores import PostgresRaw, Raw, RedisRaw, RoundTrips, SQLiteRaw

if TYPE_CHECKING:
    from agentcli.messages import Message
    from agentcli.stores.base import SessionInfo, SessionStore
    from agentcli.stores.lease import Lease

TARGET_RATIO = 0.8  # a store append at least this share of the raw driver's appends/s
TARGET_P99_MS = {"redis": 5.0, "cluster": 5.0, "postgres": 15.0}
TARGET_COLD_MS = 30.0
TEXT = "a user's message of ordinary length: a sentence or two about the task in hand, no more."
TOKENS = 20  # each stored message's token count
INPUT = "hello there"
ANSWER = "ok"
READ_LAST = 50
INSTALL_REDIS_EXTRA = "pip install -e '.[redis]'"
INSTALL_POSTGRES_EXTRA = "pip install -e '.[postgres]'"


@dataclass
class Options:
    appends: int = 1000  # per side (store, raw)
    reads: int = 400  # per side
    read_session: int = 1000
    turns: int = 400  # per side (manager, bare ops)
    turn_sessions: int = 20
    cold_messages: int = 20_000
    cold_window: int = 2_000
    cold_turns: int = 10
    rps_seconds: float = 3.0
    rps_clients: int = 16
    rps_rounds: int = 2
    block: int = 50  # store and raw alternate in blocks of this many operations

    @classmethod
    def make(cls, quick: bool) -> Options:
        if quick:
            return cls(appends=200, reads=100, turns=100, cold_turns=3, rps_seconds=1.0)
        return cls(rps_rounds=2)


# ----------------------------------------------------------------------------- results


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Latencies:
    """Seconds per operation."""

    values: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.values) / sum(self.values) if self.values else float("nan")

    def ms(self, fraction: float) -> float:
        return percentile(self.values, fraction) * 1000

    def us(self, fraction: float) -> float:
        return percentile(self.values, fraction) * 1e6


@dataclass
class Result:
    name: str
    kind: str  # sqlite, redis, cluster, postgres
    skipped: str = ""
    driver: str = ""
    append: Latencies = field(default_factory=Latencies)
    raw_append: Latencies = field(default_factory=Latencies)
    read: Latencies = field(default_factory=Latencies)
    raw_read: Latencies = field(default_factory=Latencies)
    turn: Latencies = field(default_factory=Latencies)
    bare_turn: Latencies = field(default_factory=Latencies)
    cold: Latencies = field(default_factory=Latencies)
    raw_cold: Latencies = field(default_factory=Latencies)  # the raw driver reading the window
    scripts_per_append: float | None = None  # Redis: EVAL/EVALSHA calls the server counted
    cold_window: int = 0
    cold_read: int | None = None  # messages a cold load read
    cold_calls: str = ""
    bytes_per_message: float | None = None
    round_trips: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- helpers

Op = Callable[[], Awaitable[object]]


async def alternate(first: Op, second: Op, count: int, block: int) -> tuple[list[float], ...]:
    """Seconds per call of ``first`` and of ``second``, ``count`` calls each, in alternating
    blocks (who goes first alternates too), so both see the same moments of the machine."""
    out: tuple[list[float], list[float]] = ([], [])
    done = 0
    while done < count:
        n = min(block, count - done)
        order = (0, 1) if (done // block) % 2 == 0 else (1, 0)
        for side in order:
            op = first if side == 0 else second
            for _ in range(n):
                started = time.perf_counter()
                await op()
                out[side].append(time.perf_counter() - started)
        done += n
    return out


def _message(role: str, text: str = TEXT) -> Message:
    from agentcli.messages import Message

    return Message(role=role, content=text, tokens=TOKENS)  # type: ignore[arg-type]


def _payload(message: Message) -> str:
    """The message as a store keeps it (pydantic's JSON), for the raw drivers to send."""
    from agentcli.messages import messages_adapter, with_seq

    return messages_adapter.dump_json([with_seq(message, 1)]).decode()[1:-1]


def _agent() -> Any:
    from agentcli.agents.offline import FunctionAgent

    return FunctionAgent(lambda _ctx: ANSWER, name="instant")


def _cold_window_size(options: Options) -> int:
    """A context window whose cleanup target (60 %) holds ``cold_window`` messages."""
    from agentcli.context import DEFAULT_CLEANUP_TARGET

    tokens = options.cold_window * TOKENS
    size = int(tokens / DEFAULT_CLEANUP_TARGET)
    while int(size * DEFAULT_CLEANUP_TARGET) < tokens:
        size += 1
    return size


class CountingStore:
    """A store that counts the calls made to it and the messages it read (benchmark only)."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.messages_read = 0

    async def append(
        self, session_id: str, messages: Sequence[Message], *, expected_last_seq: int | None = None
    ) -> list[Message]:
        self.calls["append"] += 1
        return await self.inner.append(session_id, messages, expected_last_seq=expected_last_seq)

    def lease(
        self, session_id: str, *, ttl: float = 30.0, wait: float = 30.0
    ) -> AbstractAsyncContextManager[Lease]:
        self.calls["lease"] += 1
        return self.inner.lease(session_id, ttl=ttl, wait=wait)

    async def read(
        self, session_id: str, *, since_seq: int = 1, last: int | None = None
    ) -> list[Message]:
        self.calls["read"] += 1
        found = await self.inner.read(session_id, since_seq=since_seq, last=last)
        self.messages_read += len(found)
        return found

    async def read_seqs(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        self.calls["read_seqs"] += 1
        found = await self.inner.read_seqs(session_id, seqs)
        self.messages_read += len(found)
        return found

    async def info(self, session_id: str) -> SessionInfo | None:
        self.calls["info"] += 1
        return await self.inner.info(session_id)

    async def list_sessions(
        self, *, limit: int | None = None, owner: str | None = None
    ) -> list[SessionInfo]:
        self.calls["list_sessions"] += 1
        return await self.inner.list_sessions(limit=limit, owner=owner)

    async def set_state(
        self,
        session_id: str,
        *,
        window_start: int | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> str:
        self.calls["set_state"] += 1
        return await self.inner.set_state(session_id, window_start=window_start, metadata=metadata)

    async def delete(self, session_id: str) -> bool:
        return await self.inner.delete(session_id)

    async def expire(self, before: datetime) -> int:
        return await self.inner.expire(before)

    async def close(self) -> None:
        """Not closed here: the store belongs to the benchmark."""


# ----------------------------------------------------------------------------- backends


@dataclass
class Backend:
    """One store to measure, with its raw driver and server-specific extras."""

    name: str
    kind: str
    make_store: Callable[[], SessionStore]
    make_raw: Callable[[], Raw]
    # Round trips: the server's port, and a store opened through a relay's port.
    upstream_port: int | None = None
    make_relayed_store: Callable[[int], SessionStore] | None = None
    make_relayed_raw: Callable[[int], Raw] | None = None
    bytes_used: Callable[[], int | None] | None = None
    scripts_run: Callable[[], int] | None = None  # Redis: scripts run so far, all nodes
    notes: list[str] = field(default_factory=list)


async def _appends(store: SessionStore, raw: Raw, result: Result, options: Options) -> None:
    message = _message("user")
    payload = _payload(message)
    last = [0]

    async def store_append() -> None:
        stored = await store.append("append-store", [message], expected_last_seq=last[0])
        last[0] = stored[-1].seq

    async def raw_append() -> None:
        await raw.append("append-raw", payload)

    for _ in range(20):  # warm-up: connections, prepared statements, scripts
        await store_append()
        await raw_append()
    ours, theirs = await alternate(store_append, raw_append, options.appends, options.block)
    result.append.values, result.raw_append.values = ours, theirs


async def _fill(store: SessionStore, session_id: str, count: int, batch: int = 500) -> None:
    messages = [_message("user" if i % 2 == 0 else "assistant") for i in range(count)]
    for start in range(0, count, batch):
        await store.append(session_id, messages[start : start + batch])


async def _reads(store: SessionStore, raw: Raw, result: Result, options: Options) -> None:
    await _fill(store, "read-store", options.read_session)
    payload = _payload(_message("user"))
    for start in range(0, options.read_session, 500):
        await raw.fill("read-raw", [payload] * min(500, options.read_session - start))

    async def store_read() -> None:
        await store.read("read-store", last=READ_LAST)

    async def raw_read() -> None:
        await raw.read_last("read-raw", READ_LAST)

    for _ in range(10):
        await store_read()
        await raw_read()
    ours, theirs = await alternate(store_read, raw_read, options.reads, options.block)
    result.read.values, result.raw_read.values = ours, theirs


async def _turns(store: SessionStore, result: Result, options: Options) -> None:
    from agentcli.session import SessionManager

    manager = SessionManager(_agent(), store=store)
    turn_ids = [f"turn-{k}" for k in range(options.turn_sessions)]
    bare_ids = [f"bare-{k}" for k in range(options.turn_sessions)]
    user, answer = _message("user", INPUT), _message("assistant", ANSWER)
    count = [0, 0]

    async def turn() -> None:
        await manager.chat(turn_ids[count[0] % len(turn_ids)], INPUT)
        count[0] += 1

    async def bare() -> None:
        session_id = bare_ids[count[1] % len(bare_ids)]
        count[1] += 1
        async with store.lease(session_id) as lease:
            stored = await store.append(session_id, [user], expected_last_seq=lease.last_seq)
            await store.append(session_id, [answer], expected_last_seq=stored[-1].seq)

    for _ in range(len(turn_ids)):  # each session's window into the manager's cache
        await turn()
        await bare()
    ours, theirs = await alternate(turn, bare, options.turns, options.block)
    result.turn.values, result.bare_turn.values = ours, theirs


async def _cold(store: SessionStore, raw: Raw, result: Result, options: Options) -> None:
    """A 20,000-message session trimmed by a real ``compact`` to a 2,000-message window, then
    turns each run by a new manager (nothing cached: a replica that never saw the session).
    The baseline: the raw driver reading as many messages as the window holds."""
    from agentcli.session import SessionManager

    session_id = "cold"
    await _fill(store, session_id, options.cold_messages)
    size = _cold_window_size(options)
    await SessionManager(_agent(), store=store, context_window_size=size).compact(session_id)

    counted = CountingStore(store)
    await SessionManager(_agent(), store=counted, context_window_size=size).chat(session_id, INPUT)
    result.cold_read = counted.messages_read
    result.cold_calls = ", ".join(f"{name} {n}" for name, n in sorted(counted.calls.items()))
    result.cold_window = len(
        await SessionManager(_agent(), store=store, context_window_size=size).window(session_id)
    )
    payload = _payload(_message("user"))
    for start in range(0, result.cold_window, 500):
        await raw.fill("cold-raw", [payload] * min(500, result.cold_window - start))
    for _ in range(options.cold_turns):
        manager = SessionManager(_agent(), store=store, context_window_size=size)
        started = time.perf_counter()
        await manager.chat(session_id, INPUT)
        result.cold.values.append(time.perf_counter() - started)
        started = time.perf_counter()
        await raw.read_last("cold-raw", result.cold_window)
        result.raw_cold.values.append(time.perf_counter() - started)


RELAY_DELAY = 0.01  # seconds the relay holds back each answer when counting round trips


async def count_round_trips(relay: RoundTrips, op: Op, times: int) -> float:
    """How many times ``op`` waits for the server: the shortest time it takes with each answer
    held back ``RELAY_DELAY`` seconds, minus the shortest without, over the delay. (The
    shortest, not the median: a busy machine only ever adds time.)"""
    spent: dict[float, list[float]] = {0.0: [], RELAY_DELAY: []}
    for _ in range(times):
        for delay, out in spent.items():
            relay.delay = delay
            started = time.perf_counter()
            await op()
            out.append(time.perf_counter() - started)
    relay.delay = 0.0
    return (min(spent[RELAY_DELAY]) - min(spent[0.0])) / RELAY_DELAY


async def _round_trips(backend: Backend, result: Result, options: Options) -> None:
    """Round trips per operation, the store's and the raw driver's, through a relay."""
    from agentcli.session import SessionManager

    assert backend.upstream_port is not None
    assert backend.make_relayed_store is not None
    assert backend.make_relayed_raw is not None
    relay = RoundTrips(backend.upstream_port)
    port = await relay.start()
    store = backend.make_relayed_store(port)
    raw = backend.make_relayed_raw(port)
    message = _message("user")
    payload = _payload(message)
    size = _cold_window_size(options)
    try:
        manager = SessionManager(_agent(), store=store)
        for _ in range(3):  # connections opened, scripts loaded, statements prepared
            await manager.chat("rt-turn", INPUT)
            await store.read("read-store", last=READ_LAST)
            await raw.append("rt-raw", payload)
            await raw.read_last("read-raw", READ_LAST)
        last = [(await store.append("rt-append", [message]))[-1].seq]

        async def append() -> None:
            last[0] = (await store.append("rt-append", [message], expected_last_seq=last[0]))[
                -1
            ].seq

        async def cold() -> None:
            await SessionManager(_agent(), store=store, context_window_size=size).chat(
                "cold", INPUT
            )

        ops: dict[str, tuple[Op, int]] = {
            "append": (append, 6),
            "read": (lambda: store.read("read-store", last=READ_LAST), 6),
            "turn": (lambda: manager.chat("rt-turn", INPUT), 5),
            "cold turn": (cold, 4),
            "raw append": (lambda: raw.append("rt-raw", payload), 6),
            "raw read": (lambda: raw.read_last("read-raw", READ_LAST), 6),
        }
        for name, (op, times) in ops.items():
            result.round_trips[name] = await count_round_trips(relay, op, times)
    finally:
        await store.close()
        await raw.close()
        await relay.close()


async def _scripts_per_append(
    store: SessionStore, scripts_run: Callable[[], int], result: Result
) -> None:
    """Lua scripts the server ran per append (``INFO commandstats``, every node): one is one
    round trip; a Cluster's index update, in another slot, is a second."""
    last = (await store.append("scripts", [_message("user")]))[-1].seq
    before = await asyncio.to_thread(scripts_run)
    for _ in range(10):
        stored = await store.append("scripts", [_message("user")], expected_last_seq=last)
        last = stored[-1].seq
    result.scripts_per_append = (await asyncio.to_thread(scripts_run) - before) / 10


def _redis_scripts_run(ports: list[int]) -> int:
    from tests.servers.redis import redis_client

    total = 0
    for port in ports:
        with redis_client(port) as client:
            stats = client.info("commandstats")
            for name in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_fcall"):
                total += int(stats.get(name, {}).get("calls", 0))
    return total


async def _total_messages(store: SessionStore) -> int:
    return sum(info.message_count for info in await store.list_sessions())


async def measure(backend: Backend, options: Options) -> Result:
    result = Result(backend.name, backend.kind, notes=list(backend.notes))
    store = backend.make_store()
    raw = backend.make_raw()
    result.driver = raw.name
    try:
        progress(f"stores: {backend.name}: appends")
        await _appends(store, raw, result, options)
        progress(f"stores: {backend.name}: reads")
        await _reads(store, raw, result, options)
        progress(f"stores: {backend.name}: turns")
        await _turns(store, result, options)
        progress(f"stores: {backend.name}: cold turns")
        await _cold(store, raw, result, options)
        if backend.make_relayed_store is not None:
            await _round_trips(backend, result, options)
        if backend.scripts_run is not None:
            await _scripts_per_append(store, backend.scripts_run, result)
        if backend.bytes_used is not None:
            used = await asyncio.to_thread(backend.bytes_used)
            total = await _total_messages(store)
            if used is not None and total:
                result.bytes_per_message = used / total
    finally:
        await store.close()
        await raw.close()
    return result


# ----------------------------------------------------------------------------- the backends


def _sqlite_backend(directory: Path, mode: str) -> Backend:
    from agentcli.stores.sqlite import SQLiteStore

    path = directory / f"store-{mode.lower()}.db"

    def used() -> int:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
            free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        return (pages - free) * size

    return Backend(
        f"SQLite {mode}",
        "sqlite",
        lambda: SQLiteStore(path, synchronous=mode),  # type: ignore[arg-type]
        lambda: SQLiteRaw(directory / f"raw-{mode.lower()}.db", mode),
        bytes_used=used,
        notes=[f"file on {filesystem(str(directory))}"],
    )


def _redis_used(ports: list[int]) -> int:
    """Bytes the store's keys take (``MEMORY USAGE``, all nodes; the raw driver's excluded)."""
    from tests.servers.redis import redis_client

    total = 0
    for port in ports:
        with redis_client(port) as client:
            for key in client.scan_iter(count=1000):
                if not bytes(key).startswith(b"bench-raw:"):
                    total += int(client.memory_usage(key, samples=0) or 0)
    return total


def _redis_backend(url: str, port: int) -> Backend:
    from agentcli.stores import open_store

    return Backend(
        "Redis",
        "redis",
        lambda: open_store(url),
        lambda: RedisRaw(url, cluster=False),
        upstream_port=port,
        make_relayed_store=lambda relay: open_store(f"redis://127.0.0.1:{relay}/0"),
        make_relayed_raw=lambda relay: RedisRaw(f"redis://127.0.0.1:{relay}/0", cluster=False),
        bytes_used=lambda: _redis_used([port]),
        scripts_run=lambda: _redis_scripts_run([port]),
        notes=["no persistence (as the tests run it)"],
    )


def _cluster_backend(url: str, ports: list[int]) -> Backend:
    from agentcli.stores import open_store

    return Backend(
        "Redis Cluster (3)",
        "cluster",
        lambda: open_store(url),
        lambda: RedisRaw(url, cluster=True),
        bytes_used=lambda: _redis_used(ports),
        scripts_run=lambda: _redis_scripts_run(ports),
        notes=["3 primaries, no replicas, no persistence"],
    )


def _postgres_used(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN "
            "pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND "
            "n.nspname NOT IN ('pg_catalog', 'information_schema', 'bench_raw') AND "
            "n.nspname NOT LIKE 'pg_toast%'"
        ).fetchone()
    return int(row[0]) if row else 0


def _postgres_column(url: str) -> str:
    """The type of the column the store keeps a message in (the raw driver uses the same)."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema NOT IN "
            "('pg_catalog', 'information_schema', 'bench_raw') AND column_name IN ('message', "
            "'data', 'body', 'payload') ORDER BY ordinal_position"
        ).fetchall()
    kinds = {str(r[0]) for r in rows}
    return "jsonb" if "jsonb" in kinds else "text" if kinds else "jsonb"


def upgrade_postgres(url: str) -> None:
    """Create the store's schema: the stores package's ``upgrade_schema`` (what ``agentcli db
    upgrade`` runs), else the command itself."""
    import importlib

    for module in ("agentcli.stores.postgres", "agentcli.stores._postgres_schema"):
        upgrade = getattr(importlib.import_module(module), "upgrade_schema", None)
        if upgrade is not None:
            asyncio.run(upgrade(url))
            return
    env = {**os.environ, "AGENTCLI_STORE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "agentcli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"agentcli db upgrade failed: {(done.stderr or done.stdout)[-600:]}")


def _postgres_backend(url: str, port: int) -> Backend:
    from agentcli.stores import open_store

    column = _postgres_column(url)
    relayed = url.replace(f"127.0.0.1:{port}/", "127.0.0.1:{relay}/")
    return Backend(
        "PostgreSQL",
        "postgres",
        lambda: open_store(url),
        lambda: PostgresRaw(url, column),
        upstream_port=port,
        make_relayed_store=lambda relay: open_store(relayed.format(relay=relay)),
        make_relayed_raw=lambda relay: PostgresRaw(relayed.format(relay=relay), column),
        bytes_used=lambda: _postgres_used(url),
        notes=[f"fsync and synchronous_commit on; message column {column}"],
    )


def _store_missing(module: str, extra: str) -> str | None:
    if not has_module(f"agentcli.stores.{module}"):
        return f"agentcli.stores.{module} is not there yet (the store is being written)"
    try:
        __import__(f"agentcli.stores.{module}")
    except ImportError as exc:
        return f"agentcli.stores.{module} does not import ({exc}): {extra}"
    return None


# ----------------------------------------------------------------------------- replicas


@dataclass
class Drive:
    replicas: int
    mode: str
    rps: float
    cpu: dict[str, float]  # process -> share of one core
    busy: float  # the whole machine: share of all cores


@dataclass
class ReplicaResult:
    clients: int
    seconds: float
    drives: list[Drive] = field(default_factory=list)
    skipped: str = ""
    round_trips: dict[str, float] = field(default_factory=dict)  # to Redis, per request
    commands: dict[str, float] = field(default_factory=dict)  # Redis commands run, per request


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


@contextlib.contextmanager
def _cpu_use(pids: dict[str, int], into: dict[str, float]) -> Iterator[list[float]]:
    """Share of one core each process used during the block; the machine's busy share."""
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    busy0, total0 = _machine_ticks()
    started = time.perf_counter()
    machine = [0.0]
    yield machine
    elapsed = time.perf_counter() - started
    for name, pid in pids.items():
        into[name] = (_cpu_seconds(pid) - before[name]) / elapsed
    busy1, total1 = _machine_ticks()
    machine[0] = (busy1 - busy0) / max(1, total1 - total0)


async def _drive(
    ports: list[int], options: Options, *, per_client: bool, pids: dict[str, int]
) -> Drive:
    """``rps_clients`` clients for ``rps_seconds``; request k of client c goes to replica
    (c + k) mod R, over one keep-alive connection per client and replica."""
    from .server import Connection, request

    clients = options.rps_clients
    sessions = [uuid.uuid4().hex for _ in range(clients)]
    raws = [
        [
            request(p, "/chat", {"message": INPUT, "session_id": sessions[c]})
            if per_client
            else request(p, "/chat", {"message": INPUT})
            for p in ports
        ]
        for c in range(clients)
    ]
    connections = [[await Connection.open(p) for p in ports] for _ in range(clients)]
    loop = asyncio.get_running_loop()
    done = [0]

    async def client(c: int, until: float, count: bool) -> None:
        k = 0
        while loop.time() < until:
            r = (c + k) % len(ports)
            status = await connections[c][r].call(raws[c][r])
            if status != 200:
                raise RuntimeError(f"POST /chat answered {status}")
            k += 1
            done[0] += count

    try:
        await asyncio.gather(*(client(c, loop.time() + 0.3, False) for c in range(clients)))
        cpu: dict[str, float] = {}
        with _cpu_use(pids, cpu) as machine:
            started = time.perf_counter()
            until = loop.time() + options.rps_seconds
            await asyncio.gather(*(client(c, until, True) for c in range(clients)))
            rps = done[0] / (time.perf_counter() - started)
    finally:
        for row in connections:
            for connection in row:
                await connection.close()
    mode = "one session per client" if per_client else "a new session per request"
    return Drive(len(ports), mode, rps, cpu, machine[0])


def _redis_commands(port: int) -> int:
    """Commands the server ran so far (those inside scripts included)."""
    from tests.servers.redis import redis_client

    with redis_client(port) as client:
        stats = client.info("commandstats")
    return sum(int(v.get("calls", 0)) for k, v in stats.items() if k != "cmdstat_info")


async def _request_round_trips(
    redis_port: int, command: list[str], env: dict[str, str], tmp: str, result: ReplicaResult
) -> None:
    """One more replica, talking to Redis through a relay: round trips to Redis and commands
    Redis ran per ``POST /chat``, one request at a time (the session's window cached)."""
    from .server import Connection, Server, request

    relay = RoundTrips(redis_port)
    relayed = {**env, "AGENTCLI_STORE_URL": f"redis://127.0.0.1:{await relay.start()}/0"}
    server = await asyncio.to_thread(Server, "counted replica", command, relayed, tmp)
    try:
        connection = await Connection.open(server.port)
        own = uuid.uuid4().hex
        for mode, body in (
            ("a new session per request", {"message": INPUT}),
            ("one session per client", {"message": INPUT, "session_id": own}),
        ):
            raw = request(server.port, "/chat", body)

            async def chat(raw: bytes = raw) -> None:
                if await connection.call(raw) != 200:
                    raise RuntimeError("POST /chat failed on the counted replica")

            for _ in range(5):
                await chat()
            before = await asyncio.to_thread(_redis_commands, redis_port)
            for _ in range(10):
                await chat()
            after = await asyncio.to_thread(_redis_commands, redis_port)
            result.commands[mode] = (after - before) / 10
            result.round_trips[mode] = await count_round_trips(relay, chat, 6)
        await connection.close()
    finally:
        server.stop()
        await relay.close()


async def _replicas(
    url: str, redis_port: int, redis_pid: int, tmp: str, options: Options
) -> ReplicaResult:
    from .server import INSTANT, Server, _env

    env = _env(tmp)
    env["AGENTCLI_STORE_URL"] = url
    command = [sys.executable, "-m", "agentcli", "serve", "--port", "0", "--agent", INSTANT]
    result = ReplicaResult(options.rps_clients, options.rps_seconds)
    await _request_round_trips(redis_port, command, env, tmp, result)
    servers = await asyncio.gather(
        asyncio.to_thread(Server, "replica 1", command, env, tmp),
        asyncio.to_thread(Server, "replica 2", command, env, tmp),
        return_exceptions=True,
    )
    started = [s for s in servers if isinstance(s, Server)]
    try:
        failed = [s for s in servers if not isinstance(s, Server)]
        if failed:
            result.skipped = f"agentcli serve did not start: {str(failed[0])[:300]}"
            return result
        pids = {
            "load generator": os.getpid(),
            "replica 1": started[0].process.pid,
            "replica 2": started[1].process.pid,
            "redis": redis_pid,
        }
        ports = [s.port for s in started]
        for per_client in (False, True):
            for number in range(options.rps_rounds):
                for count in (1, 2) if number % 2 == 0 else (2, 1):
                    progress(f"stores: replicas: {count}, round {number + 1}")
                    drive = await _drive(ports[:count], options, per_client=per_client, pids=pids)
                    result.drives.append(drive)
    finally:
        for server in started:
            server.stop()
    return result


# ----------------------------------------------------------------------------- the tables


def _pair(a: float, b: float, fmt: Callable[[float | None], str] = fmt_ms) -> str:
    return f"{fmt(a)} / {fmt(b)}"


def _signed(value: float, fmt: Callable[[float | None], str]) -> str:
    return ("-" if value < 0 else "+") + fmt(abs(value))


def _trips(value: float) -> str:
    """A measured round-trip count: whole when it is close to whole."""
    return f"{round(value)}" if abs(value - round(value)) < 0.2 else f"{value:.1f}"


def _rows(table: Table, result: Result) -> None:
    name = result.name
    if result.skipped:
        table.add([name, "skipped", "", "", "", "", "-"], backend=name, skipped=result.skipped)
        table.notes.append(f"{name} skipped: {result.skipped}")
        return
    ratio = result.append.per_second / result.raw_append.per_second
    target_p99 = TARGET_P99_MS.get(result.kind)
    p99 = result.append.ms(0.99)
    rows: list[tuple[str, str, str, str, str, bool | None]] = [
        (
            "appends/s, 1 writer, 1 message each",
            f"{result.append.per_second:,.0f}",
            f"{result.raw_append.per_second:,.0f}",
            fmt_ratio(ratio),
            f">= {TARGET_RATIO}x raw",
            ratio >= TARGET_RATIO,
        ),
        (
            "append p50 / p99, ms",
            _pair(result.append.ms(0.5), p99),
            _pair(result.raw_append.ms(0.5), result.raw_append.ms(0.99)),
            f"{_signed(result.append.ms(0.5) - result.raw_append.ms(0.5), fmt_ms)} ms p50",
            f"p99 <= {target_p99:g} ms" if target_p99 else "",
            p99 <= target_p99 if target_p99 else None,
        ),
        (
            f"read last {READ_LAST} of 1,000: p50 / p99, ms",
            _pair(result.read.ms(0.5), result.read.ms(0.99)),
            _pair(result.raw_read.ms(0.5), result.raw_read.ms(0.99)),
            fmt_ratio(result.read.ms(0.5) / result.raw_read.ms(0.5)),
            "",
            None,
        ),
        (
            "turn (manager) vs lease+2 appends+release: p50, us",
            fmt_us(result.turn.us(0.5)),
            fmt_us(result.bare_turn.us(0.5)),
            f"{_signed(result.turn.us(0.5) - result.bare_turn.us(0.5), fmt_us)} us",
            "",
            None,
        ),
        (
            f"cold turn, {len(result.cold.values)}x, window {result.cold_window:,}: p50 / max, ms",
            _pair(result.cold.ms(0.5), result.cold.ms(1.0)),
            _pair(result.raw_cold.ms(0.5), result.raw_cold.ms(1.0)),
            f"read {result.cold_read:,} msgs" if result.cold_read is not None else "",
            f"<= {TARGET_COLD_MS:g} ms",
            result.cold.ms(1.0) <= TARGET_COLD_MS,
        ),
    ]
    if result.bytes_per_message is not None:
        rows.append(
            ("bytes per stored message", f"{result.bytes_per_message:,.0f}", "", "", "", None)
        )
    if result.round_trips:
        rt = result.round_trips
        rows.append(
            (
                "round trips: append / read / turn / cold turn",
                " / ".join(_trips(rt[k]) for k in ("append", "read", "turn", "cold turn")),
                " / ".join(_trips(rt[k]) for k in ("raw append", "raw read")) + " / - / -",
                "",
                "",
                None,
            )
        )
    for index, (what, ours, theirs, compare, target, passed) in enumerate(rows):
        table.add(
            [name if index == 0 else "", what, ours, theirs, compare, target, ok(passed)],
            backend=name,
            measure=what,
            agentcli=ours,
            baseline=theirs,
            target=target,
            ok=passed,
        )
    details = [
        f"baseline {result.driver}",
        *result.notes,
        f"cold turn's store calls: {result.cold_calls}",
    ]
    if result.scripts_per_append is not None:
        details.append(f"Lua scripts run per append: {result.scripts_per_append:g}")
    table.notes.append(f"{name}: " + "; ".join(details))


def decode_note() -> str:
    """What decoding the last 50 messages costs in this process: the store's pydantic
    validation against plain ``json.loads`` (the raw drivers return undecoded rows)."""
    import json

    from agentcli.messages import messages_adapter

    payloads = [_payload(_message("user")) for _ in range(READ_LAST)]
    joined = "[" + ",".join(payloads) + "]"
    times: dict[str, list[float]] = {"pydantic": [], "json": []}
    for _ in range(200):
        started = time.perf_counter()
        messages_adapter.validate_json(joined)
        times["pydantic"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for payload in payloads:
            json.loads(payload)
        times["json"].append(time.perf_counter() - started)
    return (
        f"decoding {READ_LAST} messages in this process: {median(times['pydantic']) * 1000:.3f} "
        f"ms as Message objects (pydantic, what a store read returns), "
        f"{median(times['json']) * 1000:.3f} ms with json.loads: the raw baselines do neither"
    )


def stores_table(results: list[Result], options: Options) -> Table:
    table = Table(
        "Session stores on loopback: agentcli's store vs the raw driver doing the same work",
        ["backend", "measure", "agentcli", "baseline", "vs baseline", "target", "ok?"],
        align="llrrrll",
    )
    for result in results:
        _rows(table, result)
    table.notes[:0] = [
        f"appends and reads: {options.appends:,} / {options.reads:,} per side after warm-up, "
        f"store and raw alternating in blocks of {options.block}; appends/s = 1 / mean latency",
        f"turn: SessionManager.chat with an instant agent on {options.turn_sessions} warm "
        "sessions; baseline: the same store's lease, two appends and release, no manager",
        f"cold turn: a {options.cold_messages:,}-message session trimmed by compact() to a "
        f"~{options.cold_window:,}-message window; each turn by a new SessionManager; "
        "baseline: the raw driver reading as many rows as the window holds",
        f"round trips: through a loopback relay, (shortest time with every answer held back "
        f"{RELAY_DELAY * 1000:g} ms - shortest without) / {RELAY_DELAY * 1000:g} ms",
        decode_note(),
    ]
    return table


def _cpu_text(drive: Drive, cpus: int) -> str:
    names = [*["load generator", "replica 1", "replica 2"][: drive.replicas + 1], "redis"]
    short = {"load generator": "loadgen", "replica 1": "r1", "replica 2": "r2", "redis": "redis"}
    parts = [f"{short[name]} {drive.cpu[name] * 100:.0f}" for name in names]
    other = drive.busy * cpus - sum(drive.cpu.values())
    return " + ".join(parts) + f" (+ other {max(0.0, other) * 100:.0f})"


def replicas_table(result: ReplicaResult, cpus: int) -> Table:
    table = Table(
        f"POST /chat on one Redis: 1 vs 2 agentcli serve replicas, {result.clients} clients",
        ["sessions", "replicas", "requests/s", "vs 1 replica", "CPU, % of one core", "machine"],
        align="lrrrll",
    )
    if result.skipped:
        table.add(["skipped", "", "", "", result.skipped, ""])
        table.notes.append(f"skipped: {result.skipped}")
        return table
    for mode in dict.fromkeys(d.mode for d in result.drives):
        drives = [d for d in result.drives if d.mode == mode]
        trips = result.round_trips.get(mode)
        base = median([d.rps for d in drives if d.replicas == 1])
        for count in (1, 2):
            mine = [d for d in drives if d.replicas == count]
            rps = median([d.rps for d in mine])
            last = mine[-1]
            table.add(
                [
                    mode
                    if count == 1
                    else f"({_trips(trips)} round trips to Redis)"
                    if trips
                    else "",
                    str(count),
                    f"{rps:,.0f}",
                    fmt_ratio(rps / base),
                    _cpu_text(last, cpus),
                    f"{last.busy * 100:.0f}% busy",
                ],
                mode=mode,
                replicas=count,
                rps=rps,
                cpu=last.cpu,
                busy=last.busy,
            )
    table.notes += [
        f"requests/s: median of the rounds ({result.seconds:g} s each); request k of client c "
        "goes to replica (c + k) mod R over keep-alive connections (raw HTTP/1.1, as the "
        "server benchmark); the instant agent; an API key checked",
        "a new session per request: claim (info, set_state, info) + a turn; one session per "
        "client: every other request lands on the other replica, whose cached window is "
        "stale, so it reloads it from Redis",
        _limit_line(result, cpus),
    ]
    if result.round_trips:
        table.notes.append(
            "per POST /chat, one at a time, on a third replica talking to Redis through a "
            "relay (its cache warm): "
            + "; ".join(
                f"{mode}: {_trips(result.round_trips[mode])} round trips, "
                f"{result.commands[mode]:.0f} commands run by Redis (inside scripts included)"
                for mode in result.round_trips
            )
        )
    return table


def _limit_line(result: ReplicaResult, cpus: int) -> str:
    """What bounds requests/s, from the CPU each process used (the first mode's last drives)."""
    mode = result.drives[0].mode if result.drives else ""
    one = [d for d in result.drives if d.replicas == 1 and d.mode == mode]
    two = [d for d in result.drives if d.replicas == 2 and d.mode == mode]
    if not one or not two:
        return ""
    single, double = one[-1], two[-1]
    first = single.cpu["replica 1"] * 100
    gen = double.cpu["load generator"] * 100
    replicas = (double.cpu["replica 1"] + double.cpu["replica 2"]) * 100
    redis_cpu = double.cpu["redis"] * 100
    other = max(0.0, double.busy * cpus - sum(double.cpu.values())) * 100
    one_line = (
        f"what limits it ({mode}): 1 replica is bound by its own core (one uvicorn worker is "
        f"one Python thread; it used {first:.0f}% of a core)"
        if first >= 85
        else f"what limits it ({mode}): 1 replica used {first:.0f}% of a core"
    )
    split = (
        f"with 2, the {cpus} cores are shared: load generator {gen:.0f}%, the replicas "
        f"{replicas:.0f}% together, Redis {redis_cpu:.0f}%, other processes {other:.0f}% of "
        f"one core, {double.busy * 100:.0f}% of the machine"
    )
    if double.busy >= 0.85:
        verdict = (
            "the machine is CPU-bound, so the second replica only takes CPU from the first, "
            "the load generator and Redis: the ratio cannot approach 2x here; on machines of "
            "their own each replica brings its own core"
        )
    else:
        verdict = (
            "neither the machine nor a replica is saturated: the requests in flight wait on "
            "round trips to Redis (latency-bound); more clients would raise requests/s"
        )
    return f"{one_line}; {split}: {verdict}"


# ----------------------------------------------------------------------------- the run


def _run_backend(backend: Backend | str, name: str, kind: str, options: Options) -> Result:
    if isinstance(backend, str):
        progress(f"stores: {name}: skipped ({backend})")
        return Result(name, kind, skipped=backend)
    try:
        return asyncio.run(measure(backend, options))
    except Exception as exc:  # one backend failing must not lose the others' rows
        progress(f"stores: {name}: failed: {exc!r}")
        return Result(name, kind, skipped=f"failed: {type(exc).__name__}: {str(exc)[:300]}")


def _redis_part(tmp: Path, options: Options, results: list[Result]) -> ReplicaResult | None:
    from ._servers import redis_missing, running_redis

    why = redis_missing() or _store_missing("redis", INSTALL_REDIS_EXTRA)
    if why:
        results.append(_run_backend(why, "Redis", "redis", options))
        return ReplicaResult(options.rps_clients, options.rps_seconds, skipped=why)
    (tmp / "redis").mkdir()
    with running_redis(tmp / "redis") as server:
        results.append(
            _run_backend(_redis_backend(server.url, server.port), "Redis", "redis", options)
        )
        if not (has_module("fastapi") and has_module("uvicorn")):
            why = "needs the server extra: pip install -e '.[server]'"
            return ReplicaResult(options.rps_clients, options.rps_seconds, skipped=why)
        server.flush()
        assert server.process is not None
        progress("stores: replicas on one Redis")
        try:
            return asyncio.run(
                _replicas(server.url, server.port, server.process.pid, str(tmp), options)
            )
        except Exception as exc:
            why = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
            return ReplicaResult(options.rps_clients, options.rps_seconds, skipped=why)


def _cluster_part(tmp: Path, options: Options, results: list[Result]) -> None:
    from ._servers import redis_missing, running_cluster

    name = "Redis Cluster (3)"
    why = redis_missing(cluster=True) or _store_missing("redis", INSTALL_REDIS_EXTRA)
    if why:
        results.append(_run_backend(why, name, "cluster", options))
        return
    (tmp / "cluster").mkdir()
    progress("stores: starting a 3-node Redis Cluster")
    with running_cluster(tmp / "cluster") as cluster:
        ports = [node.port for node in cluster.nodes]
        results.append(_run_backend(_cluster_backend(cluster.url, ports), name, "cluster", options))


def _postgres_part(options: Options, results: list[Result]) -> None:
    from ._servers import postgres_missing, running_postgres

    why = postgres_missing() or _store_missing("postgres", INSTALL_POSTGRES_EXTRA)
    if why:
        results.append(_run_backend(why, "PostgreSQL", "postgres", options))
        return
    progress("stores: starting PostgreSQL")
    with running_postgres() as server:
        url = server.new_database()
        try:
            upgrade_postgres(url)
            backend: Backend | str = _postgres_backend(url, server.port)
        except Exception as exc:
            backend = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
        results.append(_run_backend(backend, "PostgreSQL", "postgres", options))


def run(*, quick: bool = False) -> Section:
    started = time.perf_counter()
    section = Section("stores")
    options = Options.make(quick)
    results: list[Result] = []
    replicas: ReplicaResult | None = None
    with tempfile.TemporaryDirectory(prefix="agentcli-bench-stores-") as name:
        tmp = Path(name)
        for mode in ("FULL", "NORMAL"):
            directory = tmp / f"sqlite-{mode.lower()}"
            directory.mkdir()
            results.append(
                _run_backend(_sqlite_backend(directory, mode), f"SQLite {mode}", "sqlite", options)
            )
        replicas = _redis_part(tmp, options, results)
        _cluster_part(tmp, options, results)
    _postgres_part(options, results)
    section.tables.append(stores_table(results, options))
    if replicas is not None:
        section.tables.append(replicas_table(replicas, os.cpu_count() or 1))
    section.seconds = time.perf_counter() - started
    return section


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).render())
