"""The PostgreSQL backend of the conformance suite: a fresh database on the test server.

The database is migrated once (as ``agentcli db upgrade`` would) before any client is handed
out; each ``open()`` is a new ``PostgresStore``, with its own pool. The server keeps the time
(``clock=None``): lease tests use short ttls and bounded waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from agentcli.stores import SessionStore
from agentcli.stores.postgres import PostgresStore, upgrade_schema

from .conformance import Backend

__all__ = ["postgres_backend"]


@asynccontextmanager
async def postgres_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    url: str = request.getfixturevalue("postgres_url")
    await upgrade_schema(url)
    clients: list[PostgresStore] = []

    async def open_store() -> SessionStore:
        clients.append(PostgresStore(url))
        return clients[-1]

    try:
        yield Backend("postgres", open_store, url=url, clock=None)
    finally:
        for client in clients:
            await client.close()
