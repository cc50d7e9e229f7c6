"""Fixtures for the provider tests: a fake vendor server on 127.0.0.1 per test, and agents
that are closed when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .fake_http import FakeServer
from .vendors import Vendor, make_vendor

TEST_KEY = "sk-test-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


@pytest.fixture(params=["openai", "anthropic"])
async def vendor(request: pytest.FixtureRequest) -> AsyncIterator[Vendor]:
    made = make_vendor(request.param, TEST_KEY)
    yield made
    await made.aclose()


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
