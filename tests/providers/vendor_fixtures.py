"""The fake vendor server on 127.0.0.1 and a vendor's agent, per test: the provider tests'
fixtures, importable by tests elsewhere that talk to a provider through the real SDKs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .fake_http import FakeServer
from .vendors import Vendor, make_vendor

__all__ = ["TEST_KEY", "server", "vendor"]

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
