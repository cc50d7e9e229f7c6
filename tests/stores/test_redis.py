"""What only the Redis store does: key expiry, hash tags, the URL, outages and big sessions.

The behaviour every store shares is in ``conformance.py`` (run on one server and on a Cluster,
including a lease holder killed mid-turn). These run on real servers too; time is only ever
waited for with a deadline, never measured.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis as redis_py

from agentcli.errors import ConfigError, StoreError
from agentcli.messages import Message
from agentcli.stores import open_store
from agentcli.stores.redis import RedisStore

from ..servers._process import free_port, wait_until
from ..servers.redis import RedisCluster, RedisServer, redis_client

PASSWORD = "s3cret-Pa55word"
WEIRD_IDS = ["plain", "a{b}c", "}{", "x:{y}:z", "ünï cödé ✓", "{", "}", "%7B", "*?[]"]


def _user(text: str) -> Message:
    return Message(role="user", content=text)


@pytest.fixture
async def stores() -> AsyncIterator[Callable[..., RedisStore]]:
    """Makes stores from URLs and closes them all at the end."""
    made: list[RedisStore] = []

    def make(url: str, **options: float) -> RedisStore:
        made.append(RedisStore.from_url(url, **options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for store in made:
        await store.close()


def _session_keys(port: int, session_id: str, prefix: str = "agentcli") -> dict[str, int]:
    """Every key of the session on the server (found by its hash tag), with its PTTL."""
    pattern = RedisStore.from_url(f"redis://h/0?prefix={prefix}")._keys.session_pattern(session_id)
    with redis_client(port) as client:
        return {key.decode(): int(client.pttl(key)) for key in client.scan_iter(match=pattern)}


async def _until(check: Callable[[], Awaitable[bool]], what: str, within: float = 20.0) -> None:
    """Poll ``check`` until it is true: a bound on waiting, not a measure of anything."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen within {within} s"
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------- expiry


async def test_every_key_of_a_session_expires_with_it(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url, session_ttl=60)
    for session_id in WEIRD_IDS:
        await store.append(session_id, [_user("one"), _user("two")])
        keys = _session_keys(redis.port, session_id)
        assert len(keys) == 2, keys  # the hash and the log
        assert all(0 < pttl <= 60_000 for pttl in keys.values()), keys
    await store.set_state("state-only", metadata={"owner": "alice"})
    async with store.lease("plain", ttl=5):
        keys = _session_keys(redis.port, "plain")
        assert len(keys) == 3  # and the lease, with its own expiry
        assert all(0 < pttl <= 60_000 for pttl in keys.values()), keys
    for session_id in [*WEIRD_IDS, "state-only"]:
        await store.set_state(session_id, window_start=2)
        keys = _session_keys(redis.port, session_id)
        assert keys, session_id
        assert all(0 < pttl <= 60_000 for pttl in keys.values()), keys


async def test_a_session_expires_whole_and_reads_do_not_keep_it(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url, session_ttl=0.3)
    await store.append("idle", [_user("a"), _user("b")])
    await store.set_state("idle", metadata={"owner": "alice"})
    await store.append("active", [_user("0")])

    async def gone() -> bool:
        # Reading all along: reads do not extend the session's life.
        await store.read("idle")
        await store.append("active", [_user("still here")])
        return await store.info("idle") is None

    await _until(gone, "the idle session expiring")
    assert _session_keys(redis.port, "idle") == {}
    assert await store.read("idle") == []
    assert [i.id for i in await store.list_sessions()] == ["active"]
    assert await store.list_sessions(owner="alice") == []  # its index entries were pruned
    active = await store.read("active")
    assert active[0].content == "0"
    assert [m.seq for m in active] == list(range(1, len(active) + 1))
    # The id is free again, and starts afresh.
    assert [m.seq for m in await store.append("idle", [_user("new")])] == [1]


async def test_a_ttl_of_zero_never_expires(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url, session_ttl=0)
    await store.append("kept", [_user("a")])
    await store.set_state("kept", window_start=1)
    assert set(_session_keys(redis.port, "kept").values()) == {-1}  # no expiry
    # A store with a ttl, then one without, on the same session: the last write decides.
    await stores(redis.url, session_ttl=30).append("kept", [_user("b")])
    assert all(pttl > 0 for pttl in _session_keys(redis.port, "kept").values())
    await store.append("kept", [_user("c")])
    assert set(_session_keys(redis.port, "kept").values()) == {-1}


async def test_a_sessions_spend_counter_lives_and_goes_with_it(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url, session_ttl=60)
    await store.append("s", [_user("a")])
    assert await store.add_spend("session:s", 0.5) == 0.5
    keys = _session_keys(redis.port, "s")
    assert len(keys) == 3, keys  # the hash, the log and the spend, under one hash tag
    assert all(0 < pttl <= 60_000 for pttl in keys.values()), keys
    with redis_client(redis.port) as client:
        client.pexpire(next(k for k in keys if k.endswith(":spend")), 1_000)
    await store.set_state("s", window_start=1)  # every write renews all the session's keys
    assert all(pttl > 1_000 for pttl in _session_keys(redis.port, "s").values())
    # Another counter has its own key, and its own expiry.
    await store.add_spend("key:k-1:2026-03-01", 1.0, ttl=30)
    with redis_client(redis.port) as client:
        day = "agentcli:{spend:key%3Ak-1%3A2026-03-01}"
        assert 0 < int(client.pttl(day)) <= 30_000
    assert await store.delete("s")
    assert _session_keys(redis.port, "s") == {}
    assert await store.get_spend("key:k-1:2026-03-01") == 1.0


async def test_a_sessions_spend_expires_with_it(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url, session_ttl=0.3)
    await store.append("idle", [_user("a")])
    await store.add_spend("session:idle", 0.5)

    async def gone() -> bool:
        return await store.info("idle") is None

    await _until(gone, "the idle session expiring")
    assert _session_keys(redis.port, "idle") == {}
    assert await store.get_spend("session:idle") == 0.0


# ---------------------------------------------------------------------- layout


async def test_a_sessions_keys_share_one_cluster_slot(
    cluster: RedisCluster, stores: Callable[..., RedisStore]
) -> None:
    store = stores(cluster.url)
    for session_id in WEIRD_IDS:
        await store.append(session_id, [_user(session_id)])
        await store.set_state(session_id, metadata={"owner": f"owner {session_id}"})
        async with store.lease(session_id):
            keys = store._keys.session_keys(session_id)
            with redis_client(cluster.nodes[0].port) as client:
                slots = {client.cluster("KEYSLOT", key) for key in keys}
            assert len(slots) == 1, (session_id, keys)
        assert [m.content for m in await store.read(session_id)] == [session_id]
        assert [i.id for i in await store.list_sessions(owner=f"owner {session_id}")] == [
            session_id
        ]
    assert sorted(i.id for i in await store.list_sessions()) == sorted(WEIRD_IDS)


async def test_prefixes_keep_deployments_apart(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    first, second = stores(redis.url), stores(f"{redis.url}?prefix=other")
    await first.append("s1", [_user("first")])
    await second.append("s1", [_user("second")])
    assert [m.content for m in await first.read("s1")] == ["first"]
    assert [m.content for m in await second.read("s1")] == ["second"]
    assert await second.expire(datetime.now(UTC) + timedelta(seconds=5)) == 1
    assert [i.id for i in await first.list_sessions()] == ["s1"]
    assert _session_keys(redis.port, "s1", prefix="other") == {}


async def test_index_entries_of_vanished_sessions_are_skipped_and_pruned(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url)
    for session_id in ("a", "b", "c"):
        await store.append(session_id, [_user(session_id)])
        await store.set_state(session_id, metadata={"owner": "alice"})
    with redis_client(redis.port) as client:  # as if they had expired
        client.delete(*store._keys.session_keys("b")[:2])
        assert client.zcard(store._keys.all_index) == 3
    assert [i.id for i in await store.list_sessions(limit=2)] == ["c", "a"]
    assert [i.id for i in await store.list_sessions(owner="alice")] == ["c", "a"]
    with redis_client(redis.port) as client:
        assert client.zcard(store._keys.all_index) == 2
        assert client.zcard(store._keys.owner_index("alice")) == 2


async def test_many_calls_share_a_small_pool(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url, pool_size=2)
    await asyncio.gather(*(store.append("s1", [_user(str(i))]) for i in range(50)))
    assert len(await store.read("s1")) == 50
    with redis_client(redis.port) as client:
        assert len(client.client_list()) <= 3  # ours and this one


# ---------------------------------------------------------------------- big sessions


async def test_a_session_of_twenty_thousand_messages(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url)
    total = 20_000
    stored = await store.append("big", [_user(f"m{i}") for i in range(1, total + 1)])
    assert stored[-1].seq == total
    everything = await store.read("big")
    assert [m.seq for m in everything] == list(range(1, total + 1))
    assert all(m.content == f"m{m.seq}" for m in everything)
    assert [m.seq for m in await store.read("big", last=50)] == list(range(total - 49, total + 1))
    assert [m.seq for m in await store.read("big", since_seq=19_000)] == list(
        range(19_000, total + 1)
    )
    assert [m.seq for m in await store.read("big", since_seq=19_990, last=50)] == list(
        range(19_990, total + 1)
    )
    assert [m.seq for m in await store.read_seqs("big", [20_000, 1, 12_345])] == [1, 12_345, total]
    info = await store.info("big")
    assert info is not None
    assert (info.message_count, info.last_seq, info.title) == (total, total, "m1")


# ---------------------------------------------------------------------- outages and errors


@pytest.fixture
def protected(redis: RedisServer) -> Iterator[str]:
    """The server with a password (given back after the test): the URL that has it."""
    with redis_client(redis.port) as client:
        client.config_set("requirepass", PASSWORD)
    yield f"redis://:{PASSWORD}@127.0.0.1:{redis.port}/0"
    if redis.process is None or redis.process.poll() is not None:
        redis.start()  # without a password: nothing is kept over a restart
        return
    with redis_py.Redis(port=redis.port, password=PASSWORD, socket_timeout=5) as client:
        client.config_set("requirepass", "")


async def test_a_restart_fails_the_calls_meanwhile_and_not_the_next(
    redis: RedisServer, protected: str, stores: Callable[..., RedisStore]
) -> None:
    store = stores(protected)
    await store.append("s1", [_user("before")])
    redis.kill()
    with pytest.raises(StoreError) as caught:
        await store.append("s1", [_user("during")])
    message = str(caught.value)
    assert PASSWORD not in message
    assert "redis://:****@127.0.0.1" in message
    assert "check that it is running" in message
    redis.start()
    with redis_client(redis.port) as client:  # no persistence: the password is set again
        client.config_set("requirepass", PASSWORD)
    # The same store object, reconnected; the data died with the server (no persistence).
    assert [m.seq for m in await store.append("s1", [_user("after")])] == [1]
    assert [m.content for m in await store.read("s1")] == ["after"]


async def test_a_wrong_password_is_reported_without_it(
    redis: RedisServer, protected: str, stores: Callable[..., RedisStore]
) -> None:
    wrong = protected.replace(PASSWORD, "not-the-" + PASSWORD)
    store = stores(wrong)
    with pytest.raises(StoreError) as caught:
        await store.info("s1")
    assert "not-the-" + PASSWORD not in str(caught.value)
    assert "password" in str(caught.value)
    assert "not-the-" not in repr(store)


async def test_nothing_connects_before_the_first_call(stores: Callable[..., RedisStore]) -> None:
    store = stores(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")  # nobody listens
    assert PASSWORD not in repr(store)
    assert "****" in repr(store)
    with pytest.raises(StoreError) as caught:
        await store.info("s1")
    assert PASSWORD not in str(caught.value)


async def test_cluster_is_detected_or_named(
    redis: RedisServer, cluster: RedisCluster, stores: Callable[..., RedisStore]
) -> None:
    for url in (cluster.url, f"{cluster.url}?cluster=true", redis.url, f"{redis.url}?cluster=0"):
        store = stores(url)
        await store.append("s1", [_user("x")])
        assert [i.id for i in await store.list_sessions()] == ["s1"]
        assert await store.delete("s1") is True
    wrong = stores(f"{cluster.url}?cluster=false")
    # Some ids hash to the node asked; most of these do not.
    outcomes = await asyncio.gather(
        *(wrong.append(f"s{i}", [_user("x")]) for i in range(20)), return_exceptions=True
    )
    refused = [str(error) for error in outcomes if isinstance(error, StoreError)]
    assert refused
    assert all("the server is a Redis Cluster" in text for text in refused), refused


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://127.0.0.1:6379", "not a Redis URL"),
        ("redis://", "names no host"),
        ("redis://:{pw}@127.0.0.1:notaport/0", "cannot read"),
        ("redis://:{pw}@127.0.0.1/0?prefix=a{{b", "prefix"),
        ("redis://:{pw}@127.0.0.1/0?prefix=", "prefix"),
        ("redis://:{pw}@127.0.0.1/0?cluster=maybe", "cluster"),
        ("redis://:{pw}@127.0.0.1/0?bogus=1", "unknown option 'bogus'"),
        ("redis://:{pw}@127.0.0.1/0?socket_timeout=soon", "socket_timeout"),
        ("redis://:{pw}@127.0.0.1/x?db=-1", "database"),
        ("unix://", "names no socket"),
        ("unix://:{pw}@/tmp/r.sock?cluster=true", "unix socket"),
    ],
)
def test_bad_urls_are_refused_by_name(url: str, complaint: str) -> None:
    url = url.format(pw=PASSWORD)
    with pytest.raises(ConfigError, match=complaint) as caught:
        RedisStore.from_url(url)
    assert PASSWORD not in str(caught.value)
    if url.startswith(("redis", "unix")):
        with pytest.raises(ConfigError, match=complaint):
            open_store(url)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"session_ttl": -1.0}, "session_ttl"),
        ({"session_ttl": float("nan")}, "session_ttl"),
        ({"session_ttl": float("inf")}, "session_ttl"),
        ({"pool_size": 0}, "pool_size"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict[str, float], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        RedisStore.from_url("redis://127.0.0.1/0", **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- a unix socket


@pytest.fixture
def unix_redis(tmp_path: Path) -> Iterator[Path]:
    """A ``redis-server`` listening only on a unix socket."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    socket_path = tmp_path / "redis.sock"
    args = [binary, "--port", "0", "--unixsocket", str(socket_path), "--save", ""]
    process = subprocess.Popen(
        [*args, "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(socket_path.exists, "redis-server opening its unix socket")
        yield socket_path
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_a_unix_socket(unix_redis: Path, stores: Callable[..., RedisStore]) -> None:
    store = stores(f"unix://{unix_redis}?prefix=sock")
    await store.append("s1", [_user("over a socket")])
    assert [m.content for m in await store.read("s1")] == ["over a socket"]
    assert [i.id for i in await store.list_sessions()] == ["s1"]


async def test_expire_pages_through_the_index(
    redis: RedisServer, stores: Callable[..., RedisStore]
) -> None:
    store = stores(redis.url, pool_size=2)
    await asyncio.gather(*(store.append(f"old{i}", [_user("x")]) for i in range(600)))
    await asyncio.sleep(0.002)
    await store.append("late", [_user("x")])
    late = await store.info("late")
    assert late is not None
    with redis_client(redis.port) as client:  # an index score a writer has yet to raise
        client.zadd(store._keys.all_index, {"late": 1})
    assert await store.expire(late.updated_at) == 600
    assert [i.id for i in await store.list_sessions()] == ["late"]


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A ``redis-server`` that speaks only TLS, with a certificate made for the test: its port
    and the certificate (its own authority) a client checks it against."""
    binary, openssl = shutil.which("redis-server"), shutil.which("openssl")
    if binary is None or openssl is None:
        pytest.skip("redis-server and openssl are needed for the TLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_cert = [openssl, "req", "-x509", "-newkey", "ec"]
    make_cert += ["-pkeyopt", "ec_paramgen_curve:prime256v1"]
    make_cert += ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1"]
    make_cert += ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        make_cert,
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    args = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    args += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    args += ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _listens(port), "redis-server listening for TLS")
        yield port, cert
    finally:
        process.terminate()
        process.wait(timeout=10)


def _listens(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def test_tls(tls_redis: tuple[int, Path], stores: Callable[..., RedisStore]) -> None:
    port, cert = tls_redis
    store = stores(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}")
    await store.append("s1", [_user("encrypted on the way")])
    assert [m.content for m in await store.read("s1")] == ["encrypted on the way"]
    # Plain text to a TLS port fails, and says what to check.
    plain = stores(f"redis://127.0.0.1:{port}/0?socket_timeout=2")
    with pytest.raises(StoreError, match="TLS"):
        await plain.info("s1")
