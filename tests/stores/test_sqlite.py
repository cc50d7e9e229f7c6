"""What only the SQLite store promises: its URL forms, the file it makes, WAL, the schema's
constraints and its migrations, rollback of a batch that fails part-way, clear errors for a bad
file, and lease rows that stay durable-neutral and tidy. (Everything a store must do is in the
conformance suite.)"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentcli.errors import ConfigError, StoreError
from agentcli.messages import Message
from agentcli.stores import SQLiteStore, open_store
from agentcli.stores.base import session_scope

from .conformance import append_from_processes, assert_same_messages, sample_messages


def _user(text: str) -> Message:
    return Message(role="user", content=text)


def _workers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("agentcli-sqlite")}


# ---------------------------------------------------------------------- URLs


def test_url_with_an_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "a" / "sessions.db"
    # What Settings.resolved_store_url writes: "sqlite:///" + an absolute path (four slashes).
    store = SQLiteStore.from_url(f"sqlite:///{path}")
    assert store.path == path
    assert store.synchronous == "FULL"  # durable against power loss unless asked otherwise


def test_url_with_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SQLiteStore.from_url("sqlite:///sub/relative.db")
    assert store.path == tmp_path / "sub" / "relative.db"  # fixed when the URL is read


@pytest.mark.parametrize("url", ["sqlite://", "sqlite://:memory:", "sqlite:///:memory:"])
async def test_in_memory_urls(url: str) -> None:
    async with SQLiteStore.from_url(url) as store:
        assert store.path is None
        await store.append("s1", sample_messages())
        assert_same_messages(await store.read("s1"), sample_messages())
        async with store.lease("s1") as lease:  # one database: no second connection for leases
            assert lease.last_seq == len(sample_messages())


def test_url_options(tmp_path: Path) -> None:
    store = SQLiteStore.from_url(f"sqlite:///{tmp_path}/x.db?synchronous=normal&timeout=2.5")
    assert (store.synchronous, store.busy_timeout) == ("NORMAL", 2.5)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///", "no file path"),
        ("sqlite://host/file.db", "no file path"),
        ("sqlite:/file.db", "not a SQLite URL"),
        ("postgresql://h/db", "not a SQLite URL"),
        ("sqlite:///x.db?synchronous=off", "NORMAL or FULL"),
        ("sqlite:///x.db?timeout=soon", "seconds"),
        ("sqlite:///x.db?timeout=nan", "seconds from 0 to 3600"),  # would wait forever
        ("sqlite:///x.db?synchronous", "cannot read the options"),
        ("sqlite:///x.db?timeout=1&", "cannot read the options"),
        ("sqlite:///x.db?journal=delete", "unknown option 'journal'"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SQLiteStore.from_url(url)


async def test_open_store_picks_sqlite(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert isinstance(store, SQLiteStore)
    await store.close()


# ---------------------------------------------------------------------- the file


async def test_nothing_happens_until_first_use(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "sessions.db"
    before = _workers()
    store = SQLiteStore(path)
    assert not path.parent.exists()
    assert _workers() == before
    await store.append("s1", [_user("hi")])
    assert path.is_file()  # parents created
    assert len(_workers() - before) == 1
    await store.close()
    assert _workers() == before  # the worker thread is gone
    await store.close()  # closing twice is fine
    with pytest.raises(StoreError, match="closed"):
        await store.read("s1")


@pytest.mark.parametrize(("mode", "level"), [("NORMAL", 1), ("FULL", 2)])
async def test_wal_and_synchronous(tmp_path: Path, mode: str, level: int) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path, synchronous=mode) as store:  # type: ignore[arg-type]
        await store.append("s1", [_user("hi")])
        pragma = await store._call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
        assert pragma == level
        raw = sqlite3.connect(path)
        try:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            raw.close()


async def test_schema_enforces_unique_seq_and_append_only(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        await store.append("s1", [_user("one"), _user("two")])
    raw = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            raw.execute("INSERT INTO messages (session_id, seq, message) VALUES ('s1', 2, '{}')")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE messages SET message = '{}' WHERE seq = 1")
        # Each row is the message's JSON: readable with sqlite3's own JSON functions.
        rows = raw.execute(
            "SELECT seq, json_extract(message, '$.content') FROM messages ORDER BY seq"
        ).fetchall()
        assert rows == [(1, "one"), (2, "two")]
    finally:
        raw.close()


async def test_a_batch_failing_part_way_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        await store.append("s1", [_user("before")])
        broken = _user("broken")
        # Not something a caller can make (messages are validated); it makes the third row's
        # serialisation fail after two rows of the batch were inserted.
        object.__setattr__(broken, "metadata", {"x": object()})
        with pytest.raises(ValueError, match="serialize"):
            await store.append("s1", [_user("a"), _user("b"), broken, _user("c")])
        assert [m.content for m in await store.read("s1")] == ["before"]
        info = await store.info("s1")
        assert info is not None
        assert (info.last_seq, info.tokens) == (1, 0)
        # No transaction was left open: another connection can write at once.
        raw = sqlite3.connect(path, timeout=0)
        try:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("ROLLBACK")
        finally:
            raw.close()
        assert [m.seq for m in await store.append("s1", [_user("after")])] == [2]


async def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match="not a database") as caught:
        await store.list_sessions()
    assert str(path) in str(caught.value)
    await store.close()
    assert path.read_text().startswith("these are my notes")  # untouched


async def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path) as store:
        with pytest.raises(StoreError, match=str(tmp_path)):
            await store.info("s1")


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    async with SQLiteStore(path) as store:
        with pytest.raises(StoreError, match="newer agentcli"):
            await store.read("s1")


# ---------------------------------------------------------------------- processes


async def test_processes_creating_a_new_file_at_once(tmp_path: Path) -> None:
    """Several processes may race to create the file, switch it to WAL and add the schema."""
    path = tmp_path / "fresh" / "sessions.db"
    returned = await append_from_processes(f"sqlite:///{path}", "s1", processes=4, appends=10)
    async with SQLiteStore(path) as store:
        stored = await store.read("s1")
    assert [m.seq for m in stored] == list(range(1, 41))
    assert sorted(s for seqs in returned for s in seqs) == list(range(1, 41))


async def test_a_writer_waits_for_the_lock_then_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path, busy_timeout=0.2) as store:
        await store.append("s1", [_user("first")])
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
            started = time.monotonic()
            with pytest.raises(StoreError, match="locked"):
                await store.append("s1", [_user("blocked")])
            assert 0.2 <= time.monotonic() - started < 2
            assert [m.content for m in await store.read("s1")] == ["first"]  # reads go on

            async def release_soon() -> None:
                await asyncio.sleep(0.05)
                other.execute("ROLLBACK")

            releasing = asyncio.create_task(release_soon())
            stored = await store.append("s1", [_user("waited")])  # gets the lock once free
            await releasing
        finally:
            other.close()
        assert [m.seq for m in stored] == [2]


async def test_cancelling_a_writer_that_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path, busy_timeout=30) as store:
        await store.append("s1", [_user("first")])
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            task = asyncio.create_task(store.append("s1", [_user("never")]))
            await asyncio.sleep(0.05)  # now waiting for the lock
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - started < 1  # not the 30 s busy timeout
        finally:
            other.close()
        assert [m.content for m in await store.read("s1")] == ["first"]
        assert [m.seq for m in await store.append("s1", [_user("next")])] == [2]


# ---------------------------------------------------------------------- schema versions

# The layout agentcli wrote before leases (schema 1), as it was shipped.
_SCHEMA_1 = (
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY, created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
        window_start INTEGER NOT NULL DEFAULT 1, title TEXT, metadata TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX sessions_by_update ON sessions (updated_us)",
    """CREATE TABLE messages (
        session_id TEXT NOT NULL, seq INTEGER NOT NULL CHECK (seq >= 1),
        message TEXT NOT NULL, UNIQUE (session_id, seq)
    )""",
    """CREATE TRIGGER messages_append_only BEFORE UPDATE ON messages
       BEGIN SELECT RAISE(ABORT, 'messages are append-only'); END""",
    "INSERT INTO sessions VALUES ('old', 1, 2, 1, 5, 1, 'from version 1', '{\"k\": 1}')",
    """INSERT INTO messages VALUES ('old', 1, '{"role": "user", "content": "from version 1",
       "tokens": 5, "timestamp": "2026-01-01T00:00:00Z"}')""",
    "PRAGMA user_version = 1",
)


def _tables(path: Path) -> dict[str, str]:
    raw = sqlite3.connect(path)
    try:
        rows = raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
        return dict(rows)
    finally:
        raw.close()


async def test_a_version_1_file_opens_and_gains_the_later_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    raw = sqlite3.connect(path)
    for statement in _SCHEMA_1:
        raw.execute(statement)
    raw.commit()
    raw.close()
    async with SQLiteStore(path) as store:
        assert [m.content for m in await store.read("old")] == ["from version 1"]
        info = await store.info("old")
        assert info is not None
        assert (info.last_seq, info.tokens, info.title, info.metadata) == (
            1,
            5,
            "from version 1",
            {"k": 1},
        )
        async with store.lease("old") as lease:
            assert lease.last_seq == 1
            await store.append("old", [_user("after")], expected_last_seq=1)
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 4
    finally:
        raw.close()
    assert "WITHOUT ROWID" in _tables(path)["leases"]
    assert "WITHOUT ROWID" in _tables(path)["spend"]  # schema 4: spend counters


async def test_a_version_3_file_gains_the_spend_table(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        await store.append("old", [_user("kept")])
    raw = sqlite3.connect(path)  # back to the layout of schema 3, as an older agentcli left it
    raw.execute("DROP TABLE spend")
    raw.execute("PRAGMA user_version = 3")
    raw.commit()
    raw.close()
    async with SQLiteStore(path) as store:
        assert [m.content for m in await store.read("old")] == ["kept"]
        assert await store.add_spend("session:old", 0.5) == 0.5
    assert "spend" in _tables(path)


async def test_lease_expiry_is_wall_clock_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path, clock=lambda: 1_000.25) as store:
        assert await store.lease_acquire("s1", "owner", 30.5) == (0, "")
        raw = sqlite3.connect(path)
        try:
            row = raw.execute("SELECT session_id, owner, expires_us FROM leases").fetchone()
        finally:
            raw.close()
    # Another process (or another agentcli version) compares this with its own time.time().
    assert row == ("s1", "owner", 1_030_750_000)


# ---------------------------------------------------------------------- leases in the file


def _lease_rows(path: Path) -> list[str]:
    raw = sqlite3.connect(path)
    try:
        return [r[0] for r in raw.execute("SELECT session_id FROM leases ORDER BY session_id")]
    finally:
        raw.close()


async def test_lease_writes_leave_the_store_durable(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path, busy_timeout=0.1) as store:  # FULL, the default
        async with store.lease("s1"):
            pass
        level = await store._call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
        assert level == 2  # FULL again for the messages that follow
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # a lease write that fails part-way (busy)
            with pytest.raises(StoreError, match="locked"):
                await store.lease_acquire("s1", "token", 30.0)
        finally:
            other.close()
        level = await store._call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
        assert level == 2


async def test_delete_and_expire_remove_lease_rows(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        for sid in ("deleted", "expired", "kept", "never-stored"):
            if sid != "never-stored":
                await store.append(sid, [_user(sid)])
            assert isinstance(
                await store.lease_acquire(sid, "crashed", 30.0), tuple
            )  # never released
        assert await store.delete("deleted") is True
        assert _lease_rows(path) == ["expired", "kept", "never-stored"]
        async with store.lease("deleted", wait=0):  # free at once, not after the ttl
            pass

        kept = await store.info("kept")
        assert kept is not None
        # Make "expired" the only session last active before the cutoff.
        await store._call(
            lambda c: c.execute("UPDATE sessions SET updated_us = 0 WHERE id = 'expired'")
        )
        assert await store.expire(kept.updated_at - timedelta(days=1)) == 1
        # The expired session's lease is gone; the others lapse after that cutoff: kept.
        assert _lease_rows(path) == ["kept", "never-stored"]
        # Leases that lapsed before the cutoff go too, stored session or not.
        assert await store.expire(datetime.now(UTC) + timedelta(days=1)) == 1
        assert _lease_rows(path) == []


async def test_a_lease_write_on_a_busy_file_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path, busy_timeout=30) as store:
        await store.append("s1", [_user("first")])
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process is writing
            taking = asyncio.create_task(store.lease_acquire("s1", "token", 30.0))
            await asyncio.sleep(0.05)  # a window to fail in
            assert not taking.done()  # it waits on the worker, not on the event loop
            other.execute("ROLLBACK")
            granted = await taking
            assert not isinstance(granted, float)
            assert granted.last_seq == 1
        finally:
            other.close()
        assert _lease_rows(path) == ["s1"]
        await store.lease_release("s1", "token")
        assert _lease_rows(path) == []


async def test_a_new_database_is_private(tmp_path: Path) -> None:
    import stat

    path = tmp_path / "new" / "dir" / "sessions.db"
    async with SQLiteStore(path) as store:
        await store.append("s", [_user("hi")])
        for suffix in ("", "-wal", "-shm"):
            file = path.with_name(path.name + suffix)
            if file.exists():
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


# ---------------------------------------------------------------------- whole sessions (imports)


@pytest.mark.parametrize(
    ("trigger", "batch"),
    [
        # The second message row is refused: the old session's rows were deleted already.
        ("BEFORE INSERT ON messages WHEN NEW.message LIKE '%boom%'", ["fine", "boom"]),
        # The session row is refused, after every message row was written.
        ("BEFORE INSERT ON sessions WHEN NEW.title LIKE '%boom%'", ["boom", "fine"]),
    ],
)
async def test_a_whole_session_write_that_fails_part_way_changes_nothing(
    tmp_path: Path, trigger: str, batch: list[str]
) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteStore(path) as store:
        await store.append("s1", sample_messages())
        await store.set_state("s1", window_start=3, metadata={"owner": "alice", "x": 1})
        await store.add_spend(session_scope("s1"), 0.5)
        before = (await store.read("s1"), await store.info("s1"))
    # A failure the store cannot foresee: the file itself refuses a row mid-transaction.
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"CREATE TRIGGER boom {trigger} BEGIN SELECT RAISE(ABORT, 'boom'); END")
    async with SQLiteStore(path) as store:
        for replace in (True, False):
            with pytest.raises(StoreError, match="boom"):
                await store.write_session(
                    "s1" if replace else "new", [_user(t) for t in batch], replace=replace
                )
        assert_same_messages(await store.read("s1"), before[0])
        assert await store.info("s1") == before[1]
        assert await store.get_spend(session_scope("s1")) == pytest.approx(0.5)
        assert [i.id for i in await store.list_sessions(owner="alice")] == ["s1"]
        assert await store.info("new") is None
        assert await store.read("new") == []
