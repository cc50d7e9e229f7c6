"""What only the PostgreSQL store promises: migrations applied on request and checked on first
use, no server-side prepared statements (PgBouncer), expiry by inactivity, long sessions,
recovery from a server restart, and no password in any error or ``repr``. (Everything a store
must do is in the conformance suite.) All against a real server, one fresh database a test."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import traceback
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import pytest

from agentcli.errors import ConfigError, SessionConflictError, StoreError
from agentcli.messages import Message
from agentcli.stores import open_store
from agentcli.stores._postgres_schema import migrations
from agentcli.stores.postgres import SCHEMA_VERSION, PostgresStore, upgrade_schema

from ..servers._process import free_port
from ..servers.postgres import PostgresServer

SECRET = "s3cret"


def _user(text: str) -> Message:
    return Message(role="user", content=text)


def _with_password(url: str) -> str:
    """The server trusts every local client, so any password is accepted."""
    return url.replace("://postgres@", f"://postgres:{SECRET}@")


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _assert_no_secret(exc: BaseException) -> None:
    """Neither the message nor anything a traceback would print holds the password."""
    printed = "".join(traceback.format_exception(exc))
    assert SECRET not in printed
    chained: BaseException | None = exc
    while chained is not None:
        assert SECRET not in str(chained)
        assert SECRET not in repr(chained)
        chained = chained.__cause__ or chained.__context__


@pytest.fixture
async def url(postgres_url: str) -> str:
    """A migrated database, addressed with a password."""
    await upgrade_schema(postgres_url)
    return _with_password(postgres_url)


@pytest.fixture
async def pg(url: str) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(url, timeout=5) as store:
        yield store


class Psql:
    def __init__(self, server: PostgresServer, url: str) -> None:
        self.server, self.database = server, _database(url)

    def __call__(self, sql: str) -> str:
        return self.server.psql(sql, database=self.database).strip()


@pytest.fixture
def psql(postgres_server: PostgresServer, postgres_url: str) -> Psql:
    return Psql(postgres_server, postgres_url)


# ---------------------------------------------------------------------- migrations


async def test_upgrade_brings_a_fresh_database_to_the_latest_version(
    postgres_url: str, psql: Psql
) -> None:
    done = await upgrade_schema(postgres_url)
    assert (done.from_version, done.to_version, done.changed) == (0, SCHEMA_VERSION, True)
    assert SCHEMA_VERSION == len(migrations()) >= 1
    rows = psql("SELECT version, name FROM agentcli_schema_version ORDER BY version")
    assert rows.splitlines() == [f"{m.version}|{m.name}" for m in migrations()]
    tables = psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    assert tables.split() == [
        "agentcli_leases",
        "agentcli_messages",
        "agentcli_schema_version",
        "agentcli_sessions",
        "agentcli_spend",
    ]
    indexes = psql("SELECT indexname FROM pg_indexes WHERE tablename = 'agentcli_sessions'")
    assert {"agentcli_sessions_by_update", "agentcli_sessions_by_owner"} <= set(indexes.split())


async def test_upgrading_twice_changes_nothing(postgres_url: str, psql: Psql) -> None:
    await upgrade_schema(postgres_url)
    again = await upgrade_schema(postgres_url)
    assert (again.from_version, again.to_version, again.changed) == (
        SCHEMA_VERSION,
        SCHEMA_VERSION,
        False,
    )
    assert psql("SELECT count(*) FROM agentcli_schema_version") == str(SCHEMA_VERSION)


async def test_upgrades_at_once_all_succeed(postgres_url: str, psql: Psql) -> None:
    # Concurrent connections in this process, and processes of their own.
    script = (
        "import asyncio, sys\n"
        "from agentcli.stores.postgres import upgrade_schema\n"
        "done = asyncio.run(upgrade_schema(sys.argv[1]))\n"
        "print(done.from_version, done.to_version)\n"
    )
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, postgres_url, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    here = await asyncio.gather(*(upgrade_schema(postgres_url) for _ in range(3)))
    outputs = [await asyncio.wait_for(child.communicate(), timeout=120) for child in children]
    assert all(child.returncode == 0 for child in children)
    results = [(d.from_version, d.to_version) for d in here]
    for out, _ in outputs:
        found, reached = out.split()
        results.append((int(found), int(reached)))
    assert sorted(results) == [(0, SCHEMA_VERSION)] + [(SCHEMA_VERSION, SCHEMA_VERSION)] * 5
    assert psql("SELECT count(*) FROM agentcli_schema_version") == str(SCHEMA_VERSION)


async def test_a_store_on_an_unmigrated_database_refuses_and_writes_nothing(
    postgres_url: str, psql: Psql
) -> None:
    async with PostgresStore(_with_password(postgres_url)) as store:
        needs = rf"is at version 0; this agentcli needs {SCHEMA_VERSION}: run `agentcli db upgrade`"
        with pytest.raises(StoreError, match=needs) as caught:
            await store.append("s1", [_user("x")])
        _assert_no_secret(caught.value)
        with pytest.raises(StoreError, match="agentcli db upgrade"):
            await store.list_sessions()
        with pytest.raises(StoreError, match="agentcli db upgrade"):
            await store.lease_acquire("s1", "token", 30.0)
    assert psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


async def test_a_newer_schema_is_refused(url: str, postgres_url: str, psql: Psql) -> None:
    future = SCHEMA_VERSION + 1
    psql(f"INSERT INTO agentcli_schema_version VALUES ({future}, '9999_future.sql')")  # noqa: S608
    async with PostgresStore(url) as store:
        with pytest.raises(StoreError, match="newer than this agentcli knows"):
            await store.info("s1")
    with pytest.raises(StoreError, match="newer than this agentcli knows"):
        await upgrade_schema(postgres_url)


async def test_the_schema_is_checked_once_per_store(url: str, psql: Psql) -> None:
    async with PostgresStore(url) as store:
        await store.append("s1", [_user("x")])
        psql("UPDATE agentcli_schema_version SET version = version + 100")
        assert len(await store.read("s1")) == 1  # checked already: no second look
        async with PostgresStore(url) as fresh:
            with pytest.raises(StoreError, match="newer"):
                await fresh.read("s1")


# ---------------------------------------------------------------------- PgBouncer


async def test_no_server_side_prepared_statements(url: str) -> None:
    pool_size = 3
    async with PostgresStore(url, pool_size=pool_size) as store:

        async def workload(sid: str) -> None:
            # More runs of each statement than psycopg's default threshold for preparing (5).
            for i in range(8):
                await store.append(sid, [_user(f"m{i}")], expected_last_seq=i)
                await store.read(sid, last=2)
                await store.read_seqs(sid, [1, 2])
                await store.info(sid)
                await store.list_sessions(owner="alice")
                await store.set_state(sid, metadata={"owner": "alice", "i": i})
                async with store.lease(sid):
                    pass
            await store.delete(sid)
            await store.expire(datetime.now(UTC) - timedelta(days=1))

        await asyncio.gather(*(workload(f"s{n}") for n in range(pool_size * 2)))
        async with AsyncExitStack() as stack:  # every connection the pool holds
            conns = [
                await stack.enter_async_context(store._conns.connection()) for _ in range(pool_size)
            ]
            for conn in conns:
                assert conn.prepare_threshold is None
                assert conn.autocommit
                cur = await conn.execute("SELECT name, statement FROM pg_prepared_statements")
                assert await cur.fetchall() == []


# ---------------------------------------------------------------------- expiry by inactivity


async def test_an_idle_session_is_gone_whole(
    url: str, psql: Psql, postgres_server: PostgresServer
) -> None:
    async with PostgresStore(url, session_ttl=3600) as store:
        await store.append("idle", [_user("a"), _user("b")])
        await store.set_state("idle", metadata={"owner": "alice"})
        await store.append("busy", [_user("c")])
        psql(
            "UPDATE agentcli_sessions SET updated_at = now() - interval '61 minutes' "
            "WHERE id = 'idle'"
        )
        # Invisible at once, whole.
        assert await store.info("idle") is None
        assert await store.read("idle") == []
        assert await store.read("idle", last=1) == []
        assert await store.read_seqs("idle", [1, 2]) == []
        assert [i.id for i in await store.list_sessions()] == ["busy"]
        assert await store.list_sessions(owner="alice") == []
        assert await store.lease_acquire("idle", "t", 30.0) == (0, "")
        await store.lease_release("idle", "t")
        with pytest.raises(SessionConflictError) as caught:
            await store.append("idle", [_user("late")], expected_last_seq=2)
        assert caught.value.actual == 0
    # The first write of a store sweeps: the rows are deleted.
    assert psql("SELECT count(*) FROM agentcli_messages WHERE session_id = 'idle'") == "2"
    async with PostgresStore(url, session_ttl=3600) as store:
        await store.append("busy", [_user("d")])
    assert psql("SELECT count(*) FROM agentcli_sessions WHERE id = 'idle'") == "0"
    assert psql("SELECT count(*) FROM agentcli_messages WHERE session_id = 'idle'") == "0"
    assert psql("SELECT count(*) FROM agentcli_messages WHERE session_id = 'busy'") == "2"


async def test_writing_to_an_expired_session_starts_a_new_one(url: str, psql: Psql) -> None:
    async with PostgresStore(url, session_ttl=3600) as store:
        await store.append("warm", [_user("sweeps now, not below")])
        for sid in ("s1", "s2"):
            await store.append(sid, [_user("old 1"), _user("old 2")])
            await store.set_state(sid, window_start=2, metadata={"old": True})
        psql("UPDATE agentcli_sessions SET updated_at = now() - interval '2 hours'")
        stored = await store.append("s1", [_user("new")], expected_last_seq=0)
        assert [m.seq for m in stored] == [1]
        assert [m.content for m in await store.read("s1")] == ["new"]
        info = await store.info("s1")
        assert info is not None
        assert (info.last_seq, info.window_start, info.metadata, info.title) == (1, 1, {}, "new")
        await store.set_state("s2", metadata={"fresh": 1})
        info = await store.info("s2")
        assert info is not None
        assert (info.last_seq, info.window_start, info.metadata) == (0, 1, {"fresh": 1})
        assert await store.read("s2") == []
    assert psql("SELECT count(*) FROM agentcli_messages WHERE session_id IN ('s1', 's2')") == "1"


async def test_activity_keeps_a_session_and_reading_does_not(url: str, psql: Psql) -> None:
    back = "UPDATE agentcli_sessions SET updated_at = now() - interval '50 minutes'"
    async with PostgresStore(url, session_ttl=3600) as store:
        await store.append("s1", [_user("a")])
        psql(back)
        await store.append("s1", [_user("b")])  # active again: a full hour from now
        psql(back)
        await store.set_state("s1", window_start=2)
        psql(back)
        await store.read("s1")
        await store.info("s1")
        async with store.lease("s1"):
            pass
        age = psql("SELECT extract(epoch FROM now() - updated_at)::int FROM agentcli_sessions")
        assert 2990 <= int(age) < 3600  # reads and leases did not move it
        assert len(await store.read("s1")) == 2


async def test_a_sessions_spend_goes_with_the_session(url: str, psql: Psql) -> None:
    async with PostgresStore(url, session_ttl=3600) as store:
        await store.append("warm", [_user("sweeps now, not below")])
        for sid in ("s1", "s2"):
            await store.append(sid, [_user("a")])
            await store.add_spend(f"session:{sid}", 0.5)
        await store.add_spend("key:k-1:2026-03-01", 1.0, ttl=3600)
        await store.add_spend("key:k-2:2026-03-01", 1.0, ttl=3600)
        psql("UPDATE agentcli_sessions SET updated_at = now() - interval '2 hours'")
        psql(
            "UPDATE agentcli_spend SET expires_at = now() - interval '1 second' "
            "WHERE scope = 'key:k-2:2026-03-01'"
        )
        # Invisible with its expired session, at once.
        assert await store.get_spend("session:s1") == 0.0
        assert await store.get_spend("key:k-2:2026-03-01") == 0.0
        # Writing to it again starts a new session, with nothing spent.
        await store.append("s1", [_user("new")])
        assert await store.get_spend("session:s1") == 0.0
        assert await store.add_spend("session:s1", 0.25) == 0.25
    # The sweep deletes the rows of expired sessions and lapsed counters.
    async with PostgresStore(url, session_ttl=3600) as store:
        await store.append("s1", [_user("sweeps")])
    assert psql("SELECT scope, usd FROM agentcli_spend ORDER BY scope").splitlines() == [
        "key:k-1:2026-03-01|1",
        "session:s1|0.25",
    ]


async def test_a_session_expires_in_real_time(url: str) -> None:
    async with PostgresStore(url, session_ttl=0.5) as store:
        await store.append("short", [_user("x")])
        deadline = asyncio.get_running_loop().time() + 30
        while await store.info("short") is not None:
            assert asyncio.get_running_loop().time() < deadline, "never expired"
            await asyncio.sleep(0.05)
        assert await store.read("short") == []


async def test_a_ttl_of_zero_never_expires(url: str, psql: Psql) -> None:
    async with PostgresStore(url, session_ttl=0) as store:
        await store.append("s1", [_user("a")])
        psql("UPDATE agentcli_sessions SET updated_at = now() - interval '10 years'")
        await store.append("s2", [_user("b")])  # a write, which would sweep
        info = await store.info("s1")
        assert info is not None
        assert info.last_seq == 1
        assert [i.id for i in await store.list_sessions()] == ["s2", "s1"]
        assert [m.seq for m in await store.append("s1", [_user("c")])] == [2]


async def test_expire_deletes_the_rows(pg: PostgresStore, psql: Psql) -> None:
    await pg.append("old", [_user("a"), _user("b")])
    await pg.lease_acquire("old", "crashed", 30.0)
    cutoff = datetime.now(UTC) + timedelta(seconds=5)
    assert await pg.expire(cutoff) == 1
    for table, column in (("sessions", "id"), ("messages", "session_id"), ("leases", "session_id")):
        count = f"SELECT count(*) FROM agentcli_{table} WHERE {column} = 'old'"  # noqa: S608
        assert psql(count) == "0"


# ---------------------------------------------------------------------- data


async def test_a_session_of_20000_messages(pg: PostgresStore) -> None:
    total, batch = 20_000, 2_000
    for start in range(0, total, batch):
        stored = await pg.append("long", [_user(f"m{i}") for i in range(start, start + batch)])
        assert stored[0].seq == start + 1
    whole = await pg.read("long")
    assert [m.seq for m in whole] == list(range(1, total + 1))
    assert [m.content for m in whole] == [f"m{i}" for i in range(total)]
    tail = await pg.read("long", last=50)
    assert [m.seq for m in tail] == list(range(19_951, total + 1))
    since = await pg.read("long", since_seq=19_000)
    assert [m.content for m in since] == [f"m{i}" for i in range(18_999, total)]
    assert [m.seq for m in await pg.read("long", since_seq=19_990, last=5)] == list(
        range(19_996, 20_001)
    )
    assert [m.seq for m in await pg.read_seqs("long", [20_001, 1, 10_000, 20_000])] == [
        1,
        10_000,
        20_000,
    ]
    info = await pg.info("long")
    assert info is not None
    assert info.message_count == info.last_seq == total


async def test_metadata_is_kept_exactly(pg: PostgresStore) -> None:
    # What jsonb would change: key order, floats that look like integers, -0.0, \\u0000.
    first: dict[str, object] = {"z": 1, "a": 1e20, "neg": -0.0, "nul": "a\x00b", "big": 2**70}
    await pg.set_state("s1", metadata=first)  # type: ignore[arg-type]
    await pg.set_state("s1", metadata={"a": None, "new": [1.5, {"x": None}]})
    info = await pg.info("s1")
    assert info is not None
    assert list(info.metadata) == ["z", "a", "neg", "nul", "big", "new"]
    assert info.metadata["a"] is None
    neg = info.metadata["neg"]
    assert isinstance(neg, float)
    assert math.copysign(1.0, neg) == -1.0
    assert info.metadata["nul"] == "a\x00b"
    assert info.metadata["big"] == 2**70
    assert json.dumps(info.metadata["new"]) == '[1.5, {"x": null}]'
    await pg.set_state("s1", metadata={"a": 1e20})
    info = await pg.info("s1")
    assert info is not None
    assert type(info.metadata["a"]) is float


async def test_times_are_aware_utc(pg: PostgresStore) -> None:
    await pg.append("s1", [_user("x")])
    info = await pg.info("s1")
    assert info is not None
    assert info.created_at.tzinfo is UTC
    assert info.updated_at.tzinfo is UTC


# ---------------------------------------------------------------------- failures


async def test_a_restart_between_calls(
    pg: PostgresStore, psql: Psql, postgres_server: PostgresServer
) -> None:
    await pg.append("s1", [_user("before")])
    psql("CHECKPOINT")  # the test server commits asynchronously: keep what came before
    await asyncio.to_thread(postgres_server.restart, "immediate")
    # The pool's idle connections died with the server: the same store reconnects.
    assert [m.content for m in await pg.read("s1")] == ["before"]
    await pg.append("s1", [_user("after")])
    assert [m.content for m in await pg.read("s1")] == ["before", "after"]


async def test_a_call_during_an_outage_fails_clearly_then_the_store_recovers(
    pg: PostgresStore, psql: Psql, postgres_server: PostgresServer
) -> None:
    await pg.append("s1", [_user("before")])
    psql("CHECKPOINT")
    await asyncio.to_thread(postgres_server.stop, "immediate")
    try:
        for call in (pg.append("s1", [_user("during")]), pg.read("s1")):
            with pytest.raises(StoreError) as caught:
                await call
            message = str(caught.value)
            _assert_no_secret(caught.value)
            assert "postgres:****@127.0.0.1" in message
            assert "cannot connect" in message
            assert "check that the server is running" in message
    finally:
        await asyncio.to_thread(postgres_server.start)
    assert [m.content for m in await pg.read("s1")] == ["before"]
    await pg.append("s1", [_user("after")])  # the same store object, no restart
    assert [m.content for m in await pg.read("s1")] == ["before", "after"]


async def test_a_batch_cut_by_a_crash_is_stored_whole_or_not_at_all(
    pg: PostgresStore, psql: Psql, postgres_server: PostgresServer
) -> None:
    await pg.append("s1", [_user("first")])
    psql("CHECKPOINT")
    batch = [_user(f"b{i} " + "x" * 400) for i in range(5_000)]
    appending = asyncio.create_task(pg.append("s1", batch))
    await asyncio.sleep(0.02)
    try:
        await asyncio.to_thread(postgres_server.stop, "immediate")
        outcome = (await asyncio.gather(appending, return_exceptions=True))[0]
    finally:
        await asyncio.to_thread(postgres_server.start)
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, StoreError), outcome
        _assert_no_secret(outcome)
    stored = await pg.read("s1")
    assert len(stored) in (1, 1 + len(batch))
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    info = await pg.info("s1")
    assert info is not None
    assert info.last_seq == len(stored)


async def test_errors_and_repr_never_show_the_password(postgres_server: PostgresServer) -> None:
    port = free_port()
    nowhere = f"postgresql://postgres:{SECRET}@127.0.0.1:{port}/db"
    store = PostgresStore(nowhere, timeout=1)
    assert SECRET not in repr(store)
    assert "postgres:****@127.0.0.1" in repr(store)
    assert SECRET not in store.url
    async with store:
        with pytest.raises(StoreError, match=r"cannot connect to PostgreSQL at .*:\*\*\*\*@"):
            await store.info("s1")
    with pytest.raises(StoreError) as caught:
        await upgrade_schema(nowhere)
    _assert_no_secret(caught.value)
    # A server message that quotes the password (here: as the database's name).
    quoted = f"postgresql://postgres:{SECRET}@127.0.0.1:{postgres_server.port}/{SECRET}"
    async with PostgresStore(quoted, timeout=5) as store:
        with pytest.raises(StoreError) as caught:
            await store.read("s1")
    _assert_no_secret(caught.value)
    assert 'database "****" does not exist' in str(caught.value)
    with pytest.raises(StoreError) as caught:
        await upgrade_schema(quoted)
    _assert_no_secret(caught.value)


def test_bad_urls_and_settings_are_config_errors() -> None:
    for bad in (
        f"postgresql://u:{SECRET}%ZZ@h/db",  # libpq quotes the bad part
        f"postgresql://u:{SECRET}@[h/db",  # libpq quotes the whole URL
        f"postgresql://u:{SECRET}@h/db?nosuchparameter=1",
    ):
        with pytest.raises(ConfigError, match="cannot read the PostgreSQL URL") as caught:
            PostgresStore(bad)
        _assert_no_secret(caught.value)
    with pytest.raises(ConfigError, match="not a PostgreSQL URL"):
        PostgresStore.from_url("mysql://u@h/db")
    for ttl, size in ((-1.0, 1), (math.inf, 1), (1.0, 0)):
        with pytest.raises(ConfigError):
            PostgresStore("postgresql://u@h/db", session_ttl=ttl, pool_size=size)


async def test_nothing_connects_until_the_first_call_and_close_ends_it() -> None:
    port = free_port()  # nobody listens: constructing must not notice
    store = open_store(f"postgres://postgres@127.0.0.1:{port}/db", session_ttl=5, pool_size=2)
    assert isinstance(store, PostgresStore)
    assert (store.session_ttl, store._conns.pool_size) == (5.0, 2)
    assert store._conns._pool is None
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.info("s1")


# ---------------------------------------------------------------------- whole sessions (imports)


@pytest.mark.parametrize(
    ("trigger", "batch"),
    [
        # The second message row is refused: the old session's rows were replaced already.
        ("BEFORE INSERT ON agentcli_messages FOR EACH ROW WHEN (NEW.message LIKE '%boom%')", 2),
        # The old session's counter is refused its deletion, after the row was replaced.
        ("BEFORE DELETE ON agentcli_spend FOR EACH ROW", 1),
    ],
)
async def test_a_whole_session_write_that_fails_part_way_changes_nothing(
    pg: PostgresStore, psql: Psql, trigger: str, batch: int
) -> None:
    await pg.append("s1", [_user(str(i)) for i in range(5)])
    await pg.set_state("s1", window_start=3, metadata={"owner": "alice", "x": 1})
    await pg.add_spend("session:s1", 0.5)
    before = (await pg.read("s1"), await pg.info("s1"))
    # A failure the store cannot foresee: the server refuses a statement mid-transaction.
    psql(
        "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'boom'; END $$; "
        f"CREATE TRIGGER boom {trigger} EXECUTE FUNCTION boom();"
    )
    new = [_user("fine"), _user("boom")][:batch]
    with pytest.raises(StoreError, match="boom"):
        await pg.write_session("s1", new, metadata={"y": 2}, replace=True)
    assert await pg.read("s1") == before[0]
    assert await pg.info("s1") == before[1]
    assert await pg.get_spend("session:s1") == pytest.approx(0.5)
    assert [i.id for i in await pg.list_sessions(owner="alice")] == ["s1"]
