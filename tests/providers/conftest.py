"""Fixtures for the provider tests: a fake vendor server on 127.0.0.1 per test, and agents
that are closed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .vendor_fixtures import TEST_KEY, server, vendor
from .vendors import Vendor, make_vendor

__all__ = ["TEST_KEY", "server", "vendor"]


@pytest.fixture
async def openai_vendor() -> AsyncIterator[Vendor]:
    made = make_vendor("openai", TEST_KEY)
    yield made
    await made.aclose()


@pytest.fixture
async def anthropic_vendor() -> AsyncIterator[Vendor]:
    made = make_vendor("anthropic", TEST_KEY)
    yield made
    await made.aclose()
