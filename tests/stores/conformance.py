"""The ``SessionStore`` conformance suite: what every backend must do, tested the same way.

The suite is the class ``StoreConformance``; ``test_conformance.py`` runs it once per entry of
``BACKENDS`` through the parametrised ``backend`` fixture in ``conftest.py``.

Adding a backend is one entry in ``BACKENDS`` (Redis, the Redis Cluster and PostgreSQL are in
``redis_backend.py`` and ``postgres_backend.py``):

1. Write an async context manager ``my_backend(request) -> Backend``. ``request`` is pytest's
   fixture request, so it can ask for ``tmp_path`` or a server fixture with
   ``request.getfixturevalue(...)``, or call ``pytest.skip(...)`` when the server is missing.
   ``Backend.open()`` must return a *new client* on the same storage each call (tests use
   several clients at once and reopen after ``close()``); ``Backend.url`` is the URL that
   ``agentcli.stores.open_store`` accepts in another process, or ``None`` if the data lives
   only in this process. ``Backend.clock`` is a ``SkewedClock`` when every client times lease
   expiry with it (the lease tests then move time on instead of waiting), or ``None`` when the
   server keeps the time (Redis, PostgreSQL: the tests then use short ttls and bounded waits).
   Close every client you opened, and remove the data, when the context exits. Clients also
   implement ``stores.lease.LeasePrimitives`` (the lease tests play a crashed holder with it).
2. Add ``"name": my_backend`` to ``BACKENDS``. Every test below then runs on it; the
   cross-process tests run on every backend not listed in ``PROCESS_LOCAL``.

Tests use fixed messages (no randomness) covering every field of ``Message``: tool calls,
metadata, unicode, non-UTC timestamps, all statuses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import JsonValue

from agentcli.errors import InvalidInputError, SessionBusyError, SessionConflictError
from agentcli.messages import Message, ToolCall, messages_adapter
from agentcli.stores import MemoryStore, SessionStore, SQLiteStore
from agentcli.stores.base import key_day_scope, session_scope
from agentcli.stores.lease import LeasePrimitives

__all__ = [
    "BACKENDS",
    "PROCESS_LOCAL",
    "Backend",
    "SkewedClock",
    "StoreConformance",
    "append_from_processes",
    "assert_same_messages",
    "assert_turns_in_order",
    "finish_child",
    "run_children",
    "sample_messages",
    "start_child",
]


class SkewedClock:
    """Wall-clock seconds plus an offset a test moves on: a lease expires without sleeping,
    while real time still passes for the renewals."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Backend:
    """One storage under test. ``open()`` gives a new client on the same data; ``clock`` is
    the clock its clients time leases with, when the test can move it (else ``None``)."""

    name: str
    open: Callable[[], Awaitable[SessionStore]]
    url: str | None = None
    clock: SkewedClock | None = None


BackendFactory = Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[Backend]]


@asynccontextmanager
async def memory_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    # One process, one dict: every "client" is the same object.
    clock = SkewedClock()
    store = MemoryStore(clock=clock)

    async def open_store() -> SessionStore:
        return store

    yield Backend("memory", open_store, clock=clock)


@asynccontextmanager
async def sqlite_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    path = tmp_path / "not" / "yet" / "there" / "sessions.db"  # parents are created on open
    clients: list[SQLiteStore] = []
    # NORMAL, not the default FULL: an fsync per commit changes nothing the suite checks and,
    # on a disk shared with other jobs, makes its 5,000 appends several times slower.
    url = f"sqlite:///{path}?synchronous=normal"
    # Other processes open ``url`` on the real clock: the tests that start them never skew it.
    clock = SkewedClock()

    async def open_store() -> SessionStore:
        clients.append(SQLiteStore(path, synchronous="NORMAL", clock=clock))
        return clients[-1]

    try:
        yield Backend("sqlite", open_store, url=url, clock=clock)
    finally:
        for client in clients:
            await client.close()


# The extension point: one entry per backend (see the module docstring).
# Backends whose data other processes cannot reach: the cross-process tests leave them out.
PROCESS_LOCAL = frozenset({"memory"})

# The server backends, in their own modules (they import ``Backend`` from here, defined above).
from .postgres_backend import postgres_backend  # noqa: E402
from .redis_backend import redis_backend, redis_cluster_backend  # noqa: E402

BACKENDS: dict[str, BackendFactory] = {
    "memory": memory_backend,
    "sqlite": sqlite_backend,
    "redis": redis_backend,
    "redis-cluster": redis_cluster_backend,
    "postgres": postgres_backend,
}


# ---------------------------------------------------------------------- fixed test data

_PLUS_5_30 = timezone(timedelta(hours=5, minutes=30))
_UNICODE = 'héllo wörld ✓ 你好 مرحبا 🧑‍💻 e\u0301 \u2028 tab\t"quotes" \\back\\slash\n'


def sample_messages() -> list[Message]:
    """A conversation that uses every field of ``Message``, in an order a session can hold."""
    base = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    return [
        Message(role="system", content="You are terse.", tokens=4, timestamp=base),
        Message(
            role="user",
            content="Weather in Paris and 東京? " + _UNICODE * 2,  # > 80 characters
            tokens=17,
            timestamp=base.astimezone(_PLUS_5_30),  # an offset that is not UTC
        ),
        Message(
            role="assistant",
            content="",
            tokens=30,
            timestamp=base + timedelta(seconds=1),
            tool_calls=(
                ToolCall(id="call_1", name="weather", arguments='{"city": "Paris"}'),
                ToolCall(id="call_2", name="weather", arguments='{"city": "東京", "n": 1.5}'),
            ),
            metadata={"model": "m-1", "prompt_tokens": 40, "cost": 0.000125},
        ),
        Message(
            role="tool",
            content='{"temp": 21.5, "sky": "☀"}',
            tokens=9,
            tool_call_id="call_1",
            name="weather",
            timestamp=base + timedelta(seconds=2),
        ),
        Message(
            role="tool",
            content="error: city not found",
            tokens=5,
            tool_call_id="call_2",
            name="weather",
            timestamp=base + timedelta(seconds=2, microseconds=1),
        ),
        Message(
            role="assistant",
            content="Paris: 21.5 °C. Partial answer for 東",
            tokens=12,
            status="interrupted",
            timestamp=base + timedelta(seconds=3),
        ),
        Message(role="user", content="", tokens=0, timestamp=base + timedelta(seconds=4)),
        Message(
            role="assistant",
            status="failed",
            timestamp=base + timedelta(seconds=5),
            metadata={
                "error": "RateLimitError: slow down ✋",
                "nested": {"list": [1, -2, 3.25, None, True, "x"], "empty": {}},
                "big": 2**53 + 1,
                "tiny": 1e-300,
                "none": None,
            },
        ),
    ]


def assert_same_messages(
    stored: Sequence[Message], expected: Sequence[Message], *, first_seq: int | None = 1
) -> None:
    """Every field equal, timestamps equal *and* at the same UTC offset; ``seq`` counts up from
    ``first_seq`` (or is compared as given when ``first_seq`` is ``None``)."""
    assert len(stored) == len(expected)
    for index, (got, want) in enumerate(zip(stored, expected, strict=True)):
        for field in dataclasses.fields(Message):
            if field.name == "seq" and first_seq is not None:
                assert got.seq == first_seq + index, f"message {index}: seq"
                continue
            got_value, want_value = getattr(got, field.name), getattr(want, field.name)
            assert got_value == want_value, f"message {index}: {field.name}"
            assert type(got_value) is type(want_value) or field.name == "timestamp"
        assert got.timestamp.utcoffset() == want.timestamp.utcoffset(), f"message {index}: offset"


def _user(text: str, tokens: int = 1) -> Message:
    return Message(role="user", content=text, tokens=tokens)


async def _tick() -> None:
    """Let the clock move: "last active" is a time, and a store may read a coarse clock."""
    await asyncio.sleep(0.002)


def _primitives(store: SessionStore) -> LeasePrimitives:
    """The backend's lease primitives, to play a holder that crashed (it never renews)."""
    for name in ("lease_acquire", "lease_renew", "lease_release"):
        assert callable(getattr(store, name, None)), f"{type(store).__name__} has no {name}()"
    return cast(LeasePrimitives, store)


async def _is_busy(store: SessionStore, session_id: str) -> bool:
    """Whether another turn holds ``session_id`` now (asking does not wait)."""
    try:
        async with store.lease(session_id, wait=0):
            return False
    except SessionBusyError:
        return True


async def _hold_until_cancelled(store: SessionStore, session_id: str) -> None:
    async with store.lease(session_id):
        await asyncio.Event().wait()


# ---------------------------------------------------------------------- a child process

# Runs in a fresh interpreter as ``url command session_id count tag``:
# - ``read`` prints the session as JSON;
# - ``append``, ``turns`` and ``chat`` say "ready", wait for a line on stdin (so all children
#   start together), then write ``count`` times and print what they stored as JSON: ``append``
#   one message at a time, ``turns`` a question and its answer under the session's lease,
#   ``chat`` a turn through ``SessionManager`` (the answer echoes the question);
# - ``hold`` takes the lease with a ttl of ``count`` seconds, stores one message, says "held"
#   and keeps the lease (renewing it) until it is killed;
# - ``writers`` and ``writers-many`` run 25 concurrent writers that each append ``count``
#   messages, to the one session or each writer to its own (``{session_id}-w{n}``, the same
#   sessions in every child), and print ``[session, content, seq]`` for each.
_CHILD = """
import asyncio, json, sys
from agentcli.messages import Message, messages_adapter
from agentcli.stores import open_store

async def read(store, session_id, count, tag):
    info = await store.info(session_id)
    messages = await store.read(session_id)
    return {
        "messages": json.loads(messages_adapter.dump_json(messages)),
        "info": None if info is None else {
            "message_count": info.message_count, "last_seq": info.last_seq,
            "window_start": info.window_start, "title": info.title,
            "tokens": info.tokens, "metadata": info.metadata,
        },
    }

async def append(store, session_id, count, tag):
    seqs = []
    for i in range(count):
        message = Message(role="user", content=f"{tag}-{i}")
        seqs.append((await store.append(session_id, [message]))[0].seq)
    return seqs

async def turns(store, session_id, count, tag):
    seqs = []
    for i in range(count):
        async with store.lease(session_id) as lease:
            question = Message(role="user", content=f"{tag}-{i}")
            stored = await store.append(session_id, [question], expected_last_seq=lease.last_seq)
            await asyncio.sleep(0)  # what an agent does: let others run in between
            answer = Message(role="assistant", content=f"answer to {tag}-{i}")
            stored += await store.append(session_id, [answer], expected_last_seq=stored[0].seq)
        seqs.append([m.seq for m in stored])
    return seqs

async def chat(store, session_id, count, tag):
    from agentcli import SessionManager
    from agentcli.agents import EchoAgent

    manager = SessionManager(agent=EchoAgent(notice=False), store=store)
    return [(await manager.chat(session_id, f"{tag}-{i}")).output for i in range(count)]

async def writers(store, session_id, count, tag, many=False):
    async def writer(w):
        sid = f"{session_id}-w{w}" if many else session_id
        out = []
        for i in range(count):
            content = f"{tag}-w{w}-{i}"
            stored = await store.append(sid, [Message(role="user", content=content)])
            out.append([sid, content, stored[0].seq])
        return out
    done = await asyncio.gather(*(writer(w) for w in range(25)))
    return [row for rows in done for row in rows]

async def writers_many(store, session_id, count, tag):
    return await writers(store, session_id, count, tag, many=True)

async def hold(store, session_id, count, tag):
    async with store.lease(session_id, ttl=float(count)) as lease:
        message = Message(role="user", content="from the holder")
        await store.append(session_id, [message], expected_last_seq=lease.last_seq)
        print("held", flush=True)
        await asyncio.Event().wait()

async def main(url, command, session_id, count, tag):
    store = open_store(url)
    try:
        if command not in ("read", "hold"):
            print("ready", flush=True)
            sys.stdin.readline()
        job = {"read": read, "append": append, "turns": turns, "chat": chat, "hold": hold,
               "writers": writers, "writers-many": writers_many}
        print(json.dumps(await job[command](store, session_id, int(count), tag)))
    finally:
        await store.close()

asyncio.run(main(*sys.argv[1:]))
"""


async def start_child(*args: str) -> asyncio.subprocess.Process:
    """Start ``_CHILD`` with ``url command session_id count tag``."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish_child(process: asyncio.subprocess.Process) -> Any:
    """Wait for a child, check it succeeded, and return the JSON it printed."""
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def run_children(
    url: str, command: str, session_id: str, processes: int, count: int
) -> list[Any]:
    """Start ``processes`` children running ``command`` ``count`` times on one session (child
    ``n`` tags its messages ``p{n}-{i}``), release them all at once, and return what each
    printed."""
    children = [
        await start_child(url, command, session_id, str(count), f"p{p}") for p in range(processes)
    ]
    try:
        for child in children:  # wait until every child is ready, then start them together
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
            assert line == b"ready\n", line
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            await child.stdin.drain()
        return [await finish_child(child) for child in children]
    finally:
        for child in children:
            if child.returncode is None:  # only after a failure above
                child.kill()
                await child.communicate()


async def append_from_processes(
    url: str, session_id: str, processes: int, appends: int
) -> list[list[int]]:
    """Start ``processes`` children that each append ``appends`` messages (``p{n}-{i}``) to one
    session, all released at once; return each child's stored sequence numbers."""
    return await run_children(url, "append", session_id, processes, appends)


def assert_turns_in_order(stored: Sequence[Message], questions: set[str]) -> None:
    """``stored`` is whole turns: each question is followed at once by its answer (which
    contains it), every question in ``questions`` is there exactly once, nothing else is."""
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    pairs = [stored[i : i + 2] for i in range(0, len(stored), 2)]
    misplaced = [
        (question.seq, question.content, answer.content)
        for question, answer in pairs
        if question.role != "user"
        or answer.role != "assistant"
        or not answer.content.endswith(" " + question.content)
    ]
    assert not misplaced, (
        f"{len(misplaced)} answers not right after their question: {misplaced[:5]}"
    )
    asked = [question.content for question, _ in pairs]
    assert len(asked) == len(set(asked)), "a question was stored twice"
    assert set(asked) == questions, "questions were lost or invented"


# ---------------------------------------------------------------------- the suite


class StoreConformance:
    """Every test takes ``store`` (a client of a fresh, empty storage) and/or ``backend``."""

    # -- round trip and order

    async def test_round_trip_keeps_every_field(self, store: SessionStore) -> None:
        sent = sample_messages()
        returned = await store.append("s1", sent)
        assert_same_messages(returned, sent)
        assert_same_messages(await store.read("s1"), sent)

    async def test_batches_continue_the_sequence(self, store: SessionStore) -> None:
        sent = sample_messages()
        first = await store.append("s1", sent[:3])
        second = await store.append("s1", sent[3:4])
        third = await store.append("s1", sent[4:])
        assert [m.seq for m in first + second + third] == list(range(1, len(sent) + 1))
        assert_same_messages(await store.read("s1"), sent)

    async def test_order_is_by_sequence_never_by_clock(self, store: SessionStore) -> None:
        now = datetime.now(UTC)
        # Timestamps go backwards (clock steps, other machines): order must not follow them.
        late_first = [
            Message(role="user", content=str(i), timestamp=now - timedelta(hours=i))
            for i in range(5)
        ]
        for message in late_first:
            await store.append("s1", [message])
        assert [m.content for m in await store.read("s1")] == ["0", "1", "2", "3", "4"]

    async def test_stored_seq_ignores_the_callers_seq(self, store: SessionStore) -> None:
        stale = dataclasses.replace(_user("x"), seq=42)
        stored = await store.append("s1", [stale, stale])
        assert [m.seq for m in stored] == [1, 2]
        assert [m.seq for m in await store.read("s1")] == [1, 2]

    async def test_sessions_are_independent(self, store: SessionStore) -> None:
        for i in range(3):
            await store.append("a", [_user(f"a{i}")])
            await store.append("b", [_user(f"b{i}")])
        assert [(m.seq, m.content) for m in await store.read("a")] == [
            (1, "a0"),
            (2, "a1"),
            (3, "a2"),
        ]
        assert [m.content for m in await store.read("b")] == ["b0", "b1", "b2"]

    async def test_read_since_and_last(self, store: SessionStore) -> None:
        await store.append("s1", [_user(str(i)) for i in range(1, 11)])

        async def contents(**kwargs: Any) -> list[str]:
            return [m.content for m in await store.read("s1", **kwargs)]

        assert await contents(since_seq=8) == ["8", "9", "10"]
        assert await contents(last=2) == ["9", "10"]
        assert await contents(since_seq=3, last=2) == ["9", "10"]
        assert await contents(since_seq=9, last=5) == ["9", "10"]
        assert await contents(last=100) == [str(i) for i in range(1, 11)]
        assert await contents(last=0) == []
        assert await contents(since_seq=11) == []
        assert await store.read("no-such-session") == []
        assert await store.read("no-such-session", last=3) == []

    # -- session state

    async def test_info(self, store: SessionStore) -> None:
        assert await store.info("s1") is None
        before = datetime.now(UTC) - timedelta(seconds=1)
        sent = sample_messages()
        await store.append("s1", sent[:1])  # only a system message: no title yet
        info = await store.info("s1")
        assert info is not None
        assert info.title == ""
        await store.append("s1", sent[1:])
        info = await store.info("s1")
        assert info is not None
        assert info.id == "s1"
        assert info.title == sent[1].content[:80]
        assert len(info.title) == 80
        assert info.message_count == info.last_seq == len(sent)
        assert info.tokens == sum(m.tokens for m in sent)
        assert info.window_start == 1
        assert info.metadata == {}
        assert info.created_at.tzinfo is not None
        assert before <= info.created_at <= info.updated_at <= datetime.now(UTC)

        # The title stays the first user message's, whatever comes later.
        await store.append("s1", [_user("a later question")])
        later = await store.info("s1")
        assert later is not None
        assert later.title == info.title
        assert later.updated_at >= info.updated_at
        assert later.created_at == info.created_at

    async def test_set_state(self, store: SessionStore) -> None:
        await store.set_state("new", window_start=1, metadata={"k": "v"})
        info = await store.info("new")  # set_state creates the session
        assert info is not None
        assert (info.message_count, info.last_seq, info.metadata) == (0, 0, {"k": "v"})
        assert [m.seq for m in await store.append("new", [_user("x")])] == [1]

        await store.append("s1", [_user(str(i)) for i in range(6)])
        await store.set_state("s1", window_start=4)
        await store.set_state("s1", metadata={"a": 1, "nested": {"x": [1, 2.5, "✓"]}})
        await store.set_state("s1", metadata={"a": 2, "b": None, "c": True})
        await store.set_state("s1", metadata={})  # merging nothing changes nothing
        info = await store.info("s1")
        assert info is not None
        assert info.window_start == 4  # kept when only metadata changes
        assert info.metadata == {"a": 2, "nested": {"x": [1, 2.5, "✓"]}, "b": None, "c": True}
        assert info.message_count == 6
        assert len(await store.read("s1")) == 6  # the transcript is never trimmed

    async def test_list_sessions_most_recent_first(self, store: SessionStore) -> None:
        assert await store.list_sessions() == []
        for sid in ("a", "b", "c"):
            await store.append(sid, [_user(sid)])
            await _tick()
        assert [i.id for i in await store.list_sessions()] == ["c", "b", "a"]
        await store.append("a", [_user("again")])
        await _tick()
        assert [i.id for i in await store.list_sessions()] == ["a", "c", "b"]
        await store.set_state("b", metadata={"touched": True})
        listed = await store.list_sessions()
        assert [i.id for i in listed] == ["b", "a", "c"]
        assert [i.id for i in await store.list_sessions(limit=2)] == ["b", "a"]
        assert listed[1].message_count == 2
        assert listed[1].title == "a"

    async def test_list_sessions_of_one_owner(self, store: SessionStore) -> None:
        for sid, owner in (("a1", "alice"), ("b1", "bob"), ("a2", "alice"), ("n1", None)):
            await store.append(sid, [_user(sid)])
            if owner is not None:
                await store.set_state(sid, metadata={"owner": owner})
            await _tick()
        assert [i.id for i in await store.list_sessions(owner="alice")] == ["a2", "a1"]
        assert [i.id for i in await store.list_sessions(owner="alice", limit=1)] == ["a2"]
        assert [i.id for i in await store.list_sessions(owner="bob")] == ["b1"]
        assert await store.list_sessions(owner="nobody") == []
        await store.set_state("a1", metadata={"owner": "bob"})  # handed over
        assert [i.id for i in await store.list_sessions(owner="bob")] == ["a1", "b1"]
        assert [i.id for i in await store.list_sessions(owner="alice")] == ["a2"]
        await store.delete("a2")
        assert await store.list_sessions(owner="alice") == []
        assert len(await store.list_sessions()) == 3

    async def test_read_seqs(self, store: SessionStore) -> None:
        sent = sample_messages()
        await store.append("s1", sent)
        got = await store.read_seqs("s1", [6, 1, 3, 99, 3])  # unordered, repeated, missing
        assert [m.seq for m in got] == [1, 3, 6]
        want = [dataclasses.replace(sent[i - 1], seq=i) for i in (1, 3, 6)]
        assert_same_messages(got, want, first_seq=None)
        assert await store.read_seqs("s1", []) == []
        assert await store.read_seqs("unknown", [1]) == []

    async def test_the_revision_changes_with_the_state_only(self, store: SessionStore) -> None:
        assert await _primitives(store).lease_acquire("s1", "t", 30.0) == (0, "")
        await _primitives(store).lease_release("s1", "t")
        await store.append("s1", [_user("a")])
        created = await store.info("s1")
        assert created is not None
        assert created.revision
        await store.append("s1", [_user("b")])  # appends move last_seq, not the revision
        info = await store.info("s1")
        assert info is not None
        assert info.revision == created.revision
        async with store.lease("s1") as lease:
            assert (lease.last_seq, lease.revision) == (2, created.revision)
        revision = await store.set_state("s1", window_start=2)
        assert revision not in ("", created.revision)
        again = await store.set_state("s1", metadata={"k": 1})
        assert again != revision
        info = await store.info("s1")
        assert info is not None
        assert info.revision == again
        async with store.lease("s1") as lease:
            assert (lease.last_seq, lease.revision) == (2, again)
        # Deleted and made again with as many messages: a new revision all the same.
        await store.delete("s1")
        await store.append("s1", [_user("a"), _user("b")])
        info = await store.info("s1")
        assert info is not None
        assert info.revision not in ("", created.revision, again)

    async def test_delete(self, store: SessionStore) -> None:
        await store.append("gone", sample_messages())
        await store.set_state("gone", window_start=3, metadata={"x": 1})
        await store.append("kept", [_user("stay")])
        assert await store.delete("gone") is True
        assert await store.delete("gone") is False
        assert await store.delete("never") is False
        assert await store.info("gone") is None
        assert await store.read("gone") == []
        assert [i.id for i in await store.list_sessions()] == ["kept"]
        assert [m.content for m in await store.read("kept")] == ["stay"]
        # A new session under the same id starts afresh.
        assert [m.seq for m in await store.append("gone", [_user("new")])] == [1]
        info = await store.info("gone")
        assert info is not None
        assert (info.window_start, info.metadata, info.title) == (1, {}, "new")

    # -- whole sessions (imports)

    async def test_write_session_stores_a_whole_session(self, store: SessionStore) -> None:
        sent = sample_messages()
        numbered = [dataclasses.replace(m, seq=10 * i) for i, m in enumerate(sent, 1)]
        state: dict[str, JsonValue] = {"a": 1, "owner": "alice", "n": [1, 2.5, None, "✓"]}
        assert await store.write_session("s1", numbered, window_start=3, metadata=state)
        assert_same_messages(await store.read("s1"), sent)  # numbered 1, 2, ... again
        info = await store.info("s1")
        assert info is not None
        assert (info.message_count, info.last_seq, info.window_start) == (len(sent), len(sent), 3)
        assert (info.title, info.tokens) == (sent[1].content[:80], sum(m.tokens for m in sent))
        assert info.metadata == state
        assert info.revision != ""
        assert [i.id for i in await store.list_sessions(owner="alice")] == ["s1"]
        assert [m.seq for m in await store.append("s1", [_user("next")])] == [len(sent) + 1]

        assert await store.write_session("empty", [])
        empty = await store.info("empty")
        assert empty is not None
        assert (empty.message_count, empty.window_start, empty.title, empty.metadata) == (
            0,
            1,
            "",
            {},
        )

    async def test_write_session_leaves_an_existing_session_alone(
        self, store: SessionStore
    ) -> None:
        await store.append("s1", sample_messages())
        await store.set_state("s1", window_start=2, metadata={"x": 1})
        await store.add_spend(session_scope("s1"), 0.5)
        before = (await store.read("s1"), await store.info("s1"))
        assert not await store.write_session("s1", [_user("new")], metadata={"y": 2})
        assert_same_messages(await store.read("s1"), before[0])
        assert await store.info("s1") == before[1]  # revision and times included
        assert await store.get_spend(session_scope("s1")) == pytest.approx(0.5)

    async def test_write_session_replaces_the_old_session_whole(self, store: SessionStore) -> None:
        await store.append("s1", sample_messages())
        await store.set_state("s1", window_start=5, metadata={"x": 1, "owner": "alice"})
        await store.add_spend(session_scope("s1"), 0.5)
        old = await store.info("s1")
        assert old is not None
        new = [_user("new", tokens=3), Message(role="assistant", content="answer", tokens=4)]
        assert await store.write_session("s1", new, window_start=2, metadata={"y": 2}, replace=True)
        assert_same_messages(await store.read("s1"), new)
        info = await store.info("s1")
        assert info is not None
        assert (info.message_count, info.window_start, info.title, info.tokens) == (2, 2, "new", 7)
        assert info.metadata == {"y": 2}  # the old metadata is not merged in
        assert info.revision != old.revision
        assert await store.get_spend(session_scope("s1")) == 0.0  # went with the old session
        assert await store.list_sessions(owner="alice") == []
        assert [i.id for i in await store.list_sessions()] == ["s1"]
        assert [m.seq for m in await store.append("s1", [_user("next")])] == [3]
        # Replacing a session that does not exist creates it.
        assert await store.write_session("s2", new, replace=True)
        assert [m.content for m in await store.read("s2")] == ["new", "answer"]

    @pytest.mark.parametrize(
        ("window_start", "tokens", "problem"),
        [(0, 1, "window_start"), (2**63, 1, "window_start"), (1, 2**62, "tokens add up")],
    )
    async def test_write_session_refuses_what_no_store_can_count(
        self, store: SessionStore, window_start: int, tokens: int, problem: str
    ) -> None:
        await store.append("s1", [_user("kept")])
        before = await store.info("s1")
        batch = [_user("a", tokens=tokens), _user("b", tokens=tokens)]
        for replace in (False, True):
            with pytest.raises(InvalidInputError, match=problem):
                await store.write_session("s1", batch, window_start=window_start, replace=replace)
            with pytest.raises(InvalidInputError, match=problem):
                await store.write_session("s2", batch, window_start=window_start, replace=replace)
        assert await store.info("s1") == before
        assert [m.content for m in await store.read("s1")] == ["kept"]
        assert await store.info("s2") is None
        with pytest.raises(InvalidInputError):
            await store.write_session("../x", [_user("a")])

    async def test_concurrent_writers_create_a_session_once(self, backend: Backend) -> None:
        clients = [await backend.open(), await backend.open()]

        async def write(i: int, replace: bool) -> bool:
            batch = [_user(f"{i}-{n}") for n in range(1 + i % 3)]
            return await clients[i % 2].write_session("s1", batch, replace=replace)

        created = await asyncio.gather(*(write(i, False) for i in range(10)))
        assert created.count(True) == 1
        winner = created.index(True)
        assert [m.content for m in await clients[1].read("s1")] == [
            f"{winner}-{n}" for n in range(1 + winner % 3)
        ]
        # Replacing: every writer succeeds, and the session is one of them whole, never a mix.
        assert all(await asyncio.gather(*(write(i, True) for i in range(10))))
        stored = [m.content for m in await clients[1].read("s1")]
        last = stored[0].split("-")[0]
        assert stored == [f"{last}-{n}" for n in range(1 + int(last) % 3)]
        info = await clients[1].info("s1")
        assert info is not None
        assert info.message_count == len(stored)

    async def test_expire_refuses_a_naive_datetime(self, store: SessionStore) -> None:
        with pytest.raises(InvalidInputError, match="timezone-aware"):
            await store.expire(datetime(2026, 1, 1))  # naive on purpose

    async def test_expire(self, store: SessionStore) -> None:
        await store.append("old", [_user("old")])
        await store.set_state("older", metadata={"x": 1})
        await _tick()
        await store.append("recent", [_user("recent")])
        recent = await store.info("recent")
        assert recent is not None
        assert await store.expire(recent.updated_at - timedelta(days=1)) == 0
        # Everything last active strictly before "recent" goes; "recent" itself stays.
        assert await store.expire(recent.updated_at) == 2
        assert [i.id for i in await store.list_sessions()] == ["recent"]
        assert await store.read("old") == []
        assert await store.info("older") is None
        assert await store.expire(recent.updated_at + timedelta(microseconds=1)) == 1
        assert await store.list_sessions() == []

    # -- spend counters

    async def test_spend_of_an_unknown_scope_is_zero(self, store: SessionStore) -> None:
        assert await store.get_spend(key_day_scope("key-nobody", date(2026, 3, 1))) == 0.0
        assert await store.get_spend(session_scope("nobody")) == 0.0

    async def test_spend_adds_up_and_returns_the_total(self, store: SessionStore) -> None:
        day = key_day_scope("key-1", date(2026, 3, 1))
        assert await store.add_spend(day, 0.25, ttl=3600) == pytest.approx(0.25, abs=1e-12)
        assert await store.add_spend(day, 1.5, ttl=3600) == pytest.approx(1.75, abs=1e-12)
        assert await store.add_spend(day, 0, ttl=3600) == pytest.approx(1.75, abs=1e-12)
        assert await store.get_spend(day) == pytest.approx(1.75, abs=1e-12)
        assert await store.get_spend(key_day_scope("key-1", date(2026, 3, 2))) == 0.0
        await store.append("s1", [_user("hi")])
        assert await store.add_spend(session_scope("s1"), 0.000125) == pytest.approx(0.000125)
        assert await store.get_spend(session_scope("s1")) == pytest.approx(0.000125)
        assert await store.get_spend(day) == pytest.approx(1.75, abs=1e-12)  # apart

    async def test_concurrent_spend_adds_up_exactly(self, backend: Backend) -> None:
        clients = [await backend.open(), await backend.open()]  # two clients of one storage
        await clients[0].append("s1", [_user("hi")])
        for scope in (key_day_scope("key-1", date(2026, 3, 1)), session_scope("s1")):
            totals = await asyncio.gather(
                *(clients[i % 2].add_spend(scope, 0.01, ttl=3600) for i in range(50))
            )
            assert abs(await clients[1].get_spend(scope) - 0.5) < 1e-9
            assert abs(max(totals) - 0.5) < 1e-9  # each add saw every add before it
            assert len({round(t, 9) for t in totals}) == 50  # and no two saw the same total

    async def test_deleting_a_session_deletes_its_spend(self, store: SessionStore) -> None:
        day = key_day_scope("key-1", date(2026, 3, 1))
        for sid in ("gone", "kept"):
            await store.append(sid, [_user("hi")])
        await store.add_spend(session_scope("gone"), 0.5)
        await store.add_spend(session_scope("kept"), 0.25)
        await store.add_spend(day, 1.0, ttl=3600)
        assert await store.delete("gone") is True
        assert await store.get_spend(session_scope("gone")) == 0.0
        assert await store.get_spend(session_scope("kept")) == pytest.approx(0.25)
        assert await store.get_spend(day) == pytest.approx(1.0)
        # A new session under the same id starts from nothing.
        await store.append("gone", [_user("new")])
        assert await store.get_spend(session_scope("gone")) == 0.0
        assert await store.add_spend(session_scope("gone"), 0.125) == pytest.approx(0.125)

    async def test_expire_takes_the_spend_of_the_sessions_it_deletes(
        self, store: SessionStore
    ) -> None:
        await store.append("old", [_user("old")])
        await store.add_spend(session_scope("old"), 0.5)
        await _tick()
        await store.append("recent", [_user("recent")])
        await store.add_spend(session_scope("recent"), 0.25)
        recent = await store.info("recent")
        assert recent is not None
        assert await store.expire(recent.updated_at) == 1
        assert await store.get_spend(session_scope("old")) == 0.0
        assert await store.get_spend(session_scope("recent")) == pytest.approx(0.25)

    async def test_a_spend_counter_lapses_after_its_ttl(self, store: SessionStore) -> None:
        lapsing, lasting = "key:key-1:2026-03-01", "key:key-2:2026-03-01"
        await store.add_spend(lapsing, 1.0, ttl=0.2)
        await store.add_spend(lasting, 1.0, ttl=3600)
        await asyncio.sleep(0.5)
        assert await store.get_spend(lapsing) == 0.0
        assert await store.add_spend(lapsing, 0.5, ttl=3600) == pytest.approx(0.5)  # afresh
        assert await store.get_spend(lasting) == pytest.approx(1.0)

    @pytest.mark.parametrize("usd", [-0.01, float("nan"), float("inf")])
    async def test_a_spend_that_is_not_a_finite_amount_is_refused(
        self, store: SessionStore, usd: float
    ) -> None:
        with pytest.raises(InvalidInputError):
            await store.add_spend("key:key-1:2026-03-01", usd, ttl=60)
        with pytest.raises(InvalidInputError):
            await store.add_spend("key:key-1:2026-03-01", 1.0, ttl=0)
        assert await store.get_spend("key:key-1:2026-03-01") == 0.0

    # -- refusing bad input without damage

    @pytest.mark.parametrize("bad_id", ["", "a/b", "..", "x\x00y", "x\ny", "x" * 129])
    async def test_invalid_session_id_is_refused(self, store: SessionStore, bad_id: str) -> None:
        with pytest.raises(InvalidInputError):
            await store.append(bad_id, [_user("x")])
        with pytest.raises(InvalidInputError):
            await store.set_state(bad_id, window_start=2)
        assert await store.list_sessions() == []

    # -- concurrency

    async def test_concurrent_appends_lose_and_duplicate_nothing(self, backend: Backend) -> None:
        writers, appends = 50, 100
        clients = [await backend.open(), await backend.open()]  # two clients of one storage

        async def writer(w: int) -> list[int]:
            client = clients[w % len(clients)]
            seqs = []
            for i in range(appends):
                stored = await client.append("shared", [_user(f"w{w}-{i}")])
                seqs.append(stored[0].seq)
            return seqs

        returned = await asyncio.gather(*(writer(w) for w in range(writers)))
        stored = await clients[0].read("shared")
        assert len(stored) == writers * appends
        assert [m.seq for m in stored] == list(range(1, writers * appends + 1))
        contents = [m.content for m in stored]
        assert len(set(contents)) == len(contents)  # no duplicates, hence none lost either
        by_seq = {m.seq: m.content for m in stored}
        for w, seqs in enumerate(returned):
            assert seqs == sorted(seqs), f"writer {w}'s appends were reordered"
            assert [by_seq[s] for s in seqs] == [f"w{w}-{i}" for i in range(appends)]
        info = await clients[1].info("shared")
        assert info is not None
        assert (info.message_count, info.last_seq, info.tokens) == (5000, 5000, 5000)

    async def test_cancellation_mid_append_leaves_no_partial_batch(
        self, store: SessionStore
    ) -> None:
        size = 300
        body = "lorem ipsum " * 80  # about 1 kB, so a batch takes a while to write
        outcomes = []
        # None: cancelled before it starts; 0: once it has started; then later and later.
        for n, delay in enumerate([None, 0, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.03]):
            batch = [_user(f"b{n}-{i} {body}") for i in range(size)]
            task = asyncio.create_task(store.append("s1", batch))
            if delay is not None:
                await asyncio.sleep(delay)
            task.cancel()
            try:
                await task
                outcomes.append("completed")
            except asyncio.CancelledError:
                outcomes.append("cancelled")
            # Usable at once, and nothing lands later behind the caller's back.
            after = await store.append("s1", [_user(f"marker{n}")])
            assert after[0].seq == len(await store.read("s1"))

        stored = await store.read("s1")
        assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
        tags = [m.content.split(" ", 1)[0] for m in stored]
        for n in range(len(outcomes)):
            present = [t for t in tags if t.startswith(f"b{n}-")]
            assert len(present) in (0, size), f"batch {n}: {len(present)} of {size} stored"
            if present:  # whole and in order, directly before its marker
                at = tags.index(f"b{n}-0")
                assert tags[at : at + size + 1] == [
                    *(f"b{n}-{i}" for i in range(size)),
                    f"marker{n}",
                ]
        assert "cancelled" in outcomes

    # -- the session lease: one turn at a time

    async def test_lease_is_taken_and_released(self, backend: Backend) -> None:
        store, other = await backend.open(), await backend.open()
        async with store.lease("s1") as lease:
            assert (lease.session_id, lease.last_seq, lease.lost) == ("s1", 0, False)
            assert lease.token
            stored = await store.append("s1", [_user("a"), _user("b")], expected_last_seq=0)
            assert [m.seq for m in stored] == [1, 2]
        async with other.lease("s1", wait=0) as again:  # free again, for any client
            assert again.last_seq == 2  # the session as the last holder left it
            assert again.token != lease.token
        # A lease alone stores nothing: a session that was only leased does not exist.
        async with store.lease("only-leased"):
            pass
        assert await store.info("only-leased") is None
        assert [i.id for i in await store.list_sessions()] == ["s1"]

    async def test_a_held_session_is_busy(self, backend: Backend) -> None:
        store, other = await backend.open(), await backend.open()
        async with store.lease("s1"):
            for client in (other, store):  # another client, and another turn of this one
                with pytest.raises(SessionBusyError) as caught:
                    async with client.lease("s1", wait=0):
                        pytest.fail("two holders of one session")
                assert caught.value.session_id == "s1"
                assert caught.value.retry_after is not None
                assert caught.value.retry_after > 0
            async with other.lease("s2", wait=0):  # other sessions are not held
                pass
        assert not await _is_busy(other, "s1")

    async def test_a_waiter_gets_the_lease_when_the_holder_releases(self, backend: Backend) -> None:
        store, other = await backend.open(), await backend.open()
        taken = asyncio.Event()
        got: list[int] = []

        async def waiter() -> None:
            async with other.lease("s1", wait=60) as lease:
                got.append(lease.last_seq)
                taken.set()

        async with store.lease("s1") as lease:
            waiting = asyncio.create_task(waiter())
            # Not while it is held (a window to fail in, not a measure of anything).
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(taken.wait(), timeout=0.05)
            await store.append("s1", [_user("held")], expected_last_seq=lease.last_seq)
        await asyncio.wait_for(taken.wait(), timeout=30)
        await waiting
        assert got == [1]  # the waiter sees what the holder stored

    async def test_a_lease_expires_after_its_ttl(self, backend: Backend) -> None:
        crashed, other = _primitives(await backend.open()), await backend.open()
        ttl = 30.0 if backend.clock else 0.3
        assert await crashed.lease_acquire("s1", "crashed", ttl) == (0, "")  # and never renews
        assert await _is_busy(other, "s1")
        if backend.clock:
            backend.clock.advance(ttl + 1)
        async with other.lease("s1", wait=0 if backend.clock else 30) as lease:
            assert not lease.lost
            # The crashed holder, back: it cannot renew, and its release frees nothing.
            assert await crashed.lease_renew("s1", "crashed", ttl) is False
            await crashed.lease_release("s1", "crashed")
            assert await _is_busy(await backend.open(), "s1")
        assert not await _is_busy(other, "s1")

    async def test_release_never_frees_another_owners_lease(self, backend: Backend) -> None:
        store, other = await backend.open(), _primitives(await backend.open())
        async with store.lease("s1") as lease:
            await other.lease_release("s1", "not-" + lease.token)
            assert await other.lease_renew("s1", "not-" + lease.token, 30.0) is False
            assert await _is_busy(await backend.open(), "s1")
            # Taking a held lease again with its own token is fine (it is already ours).
            assert await other.lease_acquire("s1", lease.token, 30.0) == (0, "")
        assert not await _is_busy(await backend.open(), "s1")

    async def test_renewal_keeps_a_lease_past_its_ttl(self, backend: Backend) -> None:
        store, other = await backend.open(), await backend.open()
        # A real-time test on every backend. Renewal comes every ttl/3, so this only fails if
        # a renewal is more than 0.4 s late: a margin for a busy machine.
        ttl = 0.6
        async with store.lease("s1", ttl=ttl) as lease:
            for _ in range(8):  # 1.6 s in all: well past the ttl
                await asyncio.sleep(0.2)
                assert await _is_busy(other, "s1")
            assert not lease.lost
        assert not await _is_busy(other, "s1")

    async def test_cancelling_a_waiter_leaves_nothing_held(self, backend: Backend) -> None:
        store, other, probe = await backend.open(), await backend.open(), await backend.open()
        # None: cancelled before it first asks; then later and later, some of them while the
        # holder is releasing, so the waiter may have just been granted the lease.
        for delay in (None, 0, 0.0005, 0.001, 0.002, 0.005, 0.02):
            async with AsyncExitStack() as holder:
                await holder.enter_async_context(store.lease("s1"))
                waiter = asyncio.create_task(_hold_until_cancelled(other, "s1"))
                if delay is not None:
                    await asyncio.sleep(delay)
                    releasing = asyncio.create_task(holder.aclose())
                    await asyncio.sleep(delay)
                    waiter.cancel()
                    await releasing
                else:
                    waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert not await _is_busy(probe, "s1"), f"held after a cancel at {delay}"

    async def test_cancelling_while_taking_a_free_lease_leaves_nothing_held(
        self, backend: Backend
    ) -> None:
        store, probe = await backend.open(), await backend.open()
        for delay in (None, 0, 0.0001, 0.0003, 0.001, 0.003):
            task = asyncio.create_task(_hold_until_cancelled(store, "s1"))
            if delay is not None:
                await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not await _is_busy(probe, "s1"), f"held after a cancel at {delay}"

    # -- appends that name the seq they follow

    async def test_expected_last_seq_conflict_writes_nothing(self, store: SessionStore) -> None:
        await store.append("s1", [_user("one", 3), _user("two", 4)], expected_last_seq=0)
        before = await store.info("s1")
        for stale in (0, 1, 3):
            with pytest.raises(SessionConflictError) as caught:
                await store.append("s1", [_user(f"late {stale}", 9)], expected_last_seq=stale)
            assert (caught.value.expected, caught.value.actual) == (stale, 2)
            assert caught.value.session_id == "s1"
        assert [m.content for m in await store.read("s1")] == ["one", "two"]
        assert await store.info("s1") == before  # counters, title and time untouched
        # A session that does not exist is at 0: expecting more neither writes nor creates it.
        with pytest.raises(SessionConflictError):
            await store.append("new", [_user("x")], expected_last_seq=1)
        assert await store.info("new") is None
        assert [m.seq for m in await store.append("s1", [_user("3")], expected_last_seq=2)] == [3]

    # -- persistence

    async def test_close_and_reopen(self, backend: Backend) -> None:
        first = await backend.open()
        await first.append("s1", sample_messages())
        await first.set_state("s1", window_start=3, metadata={"k": ["v", 1]})
        await first.close()
        again = await backend.open()
        assert_same_messages(await again.read("s1"), sample_messages())
        info = await again.info("s1")
        assert info is not None
        assert (info.window_start, info.metadata) == (3, {"k": ["v", 1]})

    async def test_reopen_from_a_new_process(self, shared_backend: Backend) -> None:
        backend = shared_backend
        assert backend.url is not None
        store = await backend.open()
        sent = sample_messages()
        await store.append("s1", sent)
        await store.set_state("s1", window_start=4, metadata={"why": "tested ✓"})
        await store.close()

        result = await finish_child(await start_child(backend.url, "read", "s1", "0", ""))
        assert_same_messages(messages_adapter.validate_python(result["messages"]), sent)
        assert result["info"] == {
            "message_count": len(sent),
            "last_seq": len(sent),
            "window_start": 4,
            "title": sent[1].content[:80],
            "tokens": sum(m.tokens for m in sent),
            "metadata": {"why": "tested ✓"},
        }

    async def test_processes_append_concurrently(self, shared_backend: Backend) -> None:
        backend = shared_backend
        assert backend.url is not None
        watcher = await backend.open()  # open before the others write: must see their writes
        await watcher.append("other", [_user("untouched")])
        processes, appends = 4, 50
        returned = await append_from_processes(backend.url, "shared", processes, appends)

        stored = await watcher.read("shared")
        total = processes * appends
        assert [m.seq for m in stored] == list(range(1, total + 1))
        assert len({m.content for m in stored}) == total
        by_seq = {m.seq: m.content for m in stored}
        for p, seqs in enumerate(returned):
            assert [by_seq[s] for s in seqs] == [f"p{p}-{i}" for i in range(appends)]
        info = await watcher.info("shared")
        assert info is not None
        assert info.last_seq == total
        assert [m.content for m in await watcher.read("other")] == ["untouched"]

    @pytest.mark.parametrize("command", ["writers", "writers-many"])
    async def test_many_writers_in_many_processes_lose_and_duplicate_nothing(
        self, shared_backend: Backend, command: str
    ) -> None:
        """4 processes x 25 concurrent writers x 100 appends, on one session and on 25."""
        backend = shared_backend
        assert backend.url is not None
        processes, appends = 4, 100
        returned = await run_children(backend.url, command, "hot", processes, appends)
        rows = [row for child in returned for row in child]
        assert len(rows) == processes * 25 * appends
        reader = await backend.open()
        sessions = sorted({sid for sid, _, _ in rows})
        assert len(sessions) == (1 if command == "writers" else 25)
        for sid in sessions:
            stored = await reader.read(sid)
            expected = [(content, seq) for s, content, seq in rows if s == sid]
            assert [m.seq for m in stored] == list(range(1, len(expected) + 1))  # no gap
            assert sorted((m.content, m.seq) for m in stored) == sorted(expected)

    async def test_processes_take_turns_under_the_lease(self, shared_backend: Backend) -> None:
        backend = shared_backend
        assert backend.url is not None
        processes, turns = 4, 25
        returned = await run_children(backend.url, "turns", "shared", processes, turns)
        stored = await (await backend.open()).read("shared")
        assert len(stored) == 2 * processes * turns
        assert_turns_in_order(stored, {f"p{p}-{i}" for p in range(processes) for i in range(turns)})
        for seqs in returned:  # each child's turn was stored as one question, then its answer
            assert all(answer == question + 1 for question, answer in seqs)

    @pytest.mark.parametrize("processes", [2, 4])
    async def test_session_manager_turns_from_processes(
        self, shared_backend: Backend, processes: int
    ) -> None:
        backend = shared_backend
        assert backend.url is not None
        turns = 25
        answers = await run_children(backend.url, "chat", "shared", processes, turns)
        assert answers == [[f"You said: p{p}-{i}" for i in range(turns)] for p in range(processes)]
        stored = await (await backend.open()).read("shared")
        assert len(stored) == 2 * processes * turns
        assert_turns_in_order(stored, {f"p{p}-{i}" for p in range(processes) for i in range(turns)})

    async def test_a_killed_holder_blocks_no_longer_than_the_ttl(
        self, shared_backend: Backend
    ) -> None:
        backend = shared_backend
        assert backend.url is not None
        store = await backend.open()
        holder = await start_child(backend.url, "hold", "s1", "1", "")  # a ttl of 1 s
        try:
            assert holder.stdout is not None
            line = await asyncio.wait_for(holder.stdout.readline(), timeout=60)
            assert line == b"held\n", line + (await holder.communicate())[1]
            assert await _is_busy(store, "s1")
        finally:
            holder.send_signal(signal.SIGKILL)  # no release, no clean-up
            await holder.communicate()
        assert holder.returncode == -signal.SIGKILL
        async with store.lease("s1", wait=30) as lease:  # more than the ttl
            assert lease.last_seq == 1  # what the holder stored is kept
