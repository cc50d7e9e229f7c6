"""The service through a Redis or PostgreSQL outage in the middle of its turns: requests fail
with a clear 503 that never shows the password, nothing is half written, and the same process
serves again once the server is back (no restart)."""

from __future__ import annotations

from collections.abc import Callable

import httpx2 as httpx

from agentcli.stores._postgres_schema import upgrade_schema

from ..servers.postgres import PostgresServer
from ..servers.redis import RedisServer, redis_client
from .running import running_server, server_settings

SECRET = "hunter2-canary"


def _turn(base: str, session: str, text: str) -> httpx.Response:
    return httpx.post(f"{base}/chat", json={"message": text, "session_id": session}, timeout=60)


def _through_an_outage(
    store_url: str, stop: Callable[[], None], start: Callable[[], None], *, data_survives: bool
) -> None:
    settings = server_settings(store_url=store_url, lease_ttl=2.0)
    with running_server(settings, agents=["echo"]) as server:
        base = server.url
        assert _turn(base, "s1", "before").status_code == 200
        stop()
        failed = _turn(base, "s1", "during")
        assert failed.status_code == 503, failed.text
        assert failed.json()["error"]["code"] == "store_unavailable"
        ready = httpx.get(f"{base}/readiness", timeout=30)
        assert ready.status_code == 503
        for response in (failed, ready):
            assert SECRET not in response.text
        start()
        after = _turn(base, "s1", "after")
        assert after.status_code == 200, after.text
        assert httpx.get(f"{base}/readiness", timeout=30).status_code == 200
        transcript = httpx.get(f"{base}/sessions/s1", timeout=30).json()["messages"]
        # Whole turns only: the one during the outage left nothing behind. (The test Redis
        # keeps nothing over a restart, so there only the turn after it is left.)
        texts = ["before", "after"] if data_survives else ["after"]
        assert [m["content"] for m in transcript if m["role"] == "user"] == texts
        assert [m["role"] for m in transcript] == ["user", "assistant"] * len(texts)
        assert [m["seq"] for m in transcript] == list(range(1, 2 * len(texts) + 1))


def test_the_service_rides_out_a_redis_restart(redis: RedisServer) -> None:
    def require_password() -> None:
        with redis_client(redis.port) as client:
            client.config_set("requirepass", SECRET)

    def start_again() -> None:
        redis.start()  # no persistence: the password is set again, the data is gone
        require_password()

    require_password()
    try:
        url = f"redis://:{SECRET}@127.0.0.1:{redis.port}/0"
        _through_an_outage(url, redis.kill, start_again, data_survives=False)
    finally:
        redis.kill()
        redis.start()  # as the next test expects it: no password


def test_the_service_rides_out_a_postgres_restart(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    import asyncio

    url = postgres_url.replace("://postgres@", f"://postgres:{SECRET}@")
    asyncio.run(upgrade_schema(url))

    def crash() -> None:
        # The test server does not flush commits (synchronous_commit=off): a checkpoint first,
        # as a real one has its commits on disk.
        postgres_server.psql("CHECKPOINT")
        postgres_server.stop("immediate")

    _through_an_outage(url, crash, postgres_server.start, data_survives=True)
