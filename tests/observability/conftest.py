"""Each test gets a loopback receiver, and leaves Sentry and tracing switched off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentcli import observability

from .receiver import Receiver, receiver


@pytest.fixture
def collector() -> Iterator[Receiver]:
    with receiver() as found:
        yield found


@pytest.fixture(autouse=True)
def _observability_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SENTRY_DSN", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AGENTCLI_OTEL_ENDPOINT", raising=False)
    yield
    observability.shutdown()
