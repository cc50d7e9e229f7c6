"""Fixtures of the store conformance suite: one ``backend`` per entry of ``BACKENDS``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agentcli.stores import SessionStore

from .conformance import BACKENDS, PROCESS_LOCAL, Backend


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """A fresh, empty storage of each backend in turn."""
    async with BACKENDS[request.param](request) as backend:
        yield backend


@pytest.fixture(params=sorted(set(BACKENDS) - PROCESS_LOCAL))
async def shared_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """Each backend whose data another process can open (for the cross-process tests)."""
    async with BACKENDS[request.param](request) as backend:
        yield backend


@pytest.fixture
async def store(backend: Backend) -> SessionStore:
    """A client of ``backend``'s storage (closed by the backend when the test ends)."""
    return await backend.open()
