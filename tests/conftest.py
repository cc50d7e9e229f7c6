"""Shared fixtures. Tests never touch the real home directory or the network."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests: few examples while developing, many in CI (.ci/run sets
# HYPOTHESIS_PROFILE=ci). Tests do not set max_examples themselves, so the profile decides.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a host other than this machine's loopback."""


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _is_local(host: object) -> bool:
    """Loopback (127.0.0.0/8, ::1, localhost), the unspecified address, or no host at all."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if name in ("", *_LOOPBACK_NAMES) or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _refuse(what: str, target: object) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"tests may not reach the network: {what} {target!r} is not loopback. Point the client "
        "at a server on 127.0.0.1 (see tests/providers/fake_http.py) instead."
    )


@pytest.fixture(scope="session", autouse=True)
def _loopback_only() -> Iterator[None]:
    """Refuse, in the test process, any connection or name lookup that leaves this machine:
    a test that would talk to a real provider fails loudly instead of hanging or costing money.
    Unix sockets and other families are untouched; processes the tests start are not guarded."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def checked(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise _refuse("connect to", address)

    def connect(self: socket.socket, address: Any) -> None:
        checked(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        checked(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host):
            raise _refuse("look up", host)
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@pytest.fixture(scope="session", autouse=True)
def _shared_token_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One tokenizer cache for the whole run (never the developer's own), so the processes
    that tests start load the tokenizer from it instead of parsing it again each time."""
    os.environ["AGENTCLI_CACHE_DIR"] = str(tmp_path_factory.mktemp("agentcli-cache"))


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own data directory and no provider keys from the developer's shell."""
    monkeypatch.setenv("AGENTCLI_DATA_DIR", str(tmp_path / "agentcli-data"))
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name in {"DEFAULT_MODEL", "OPENAI_BASE_URL"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    for name in ("SENTRY_DSN", "AGENTCLI_OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)


@pytest.fixture(autouse=True)
def _agentcli_logger_restored() -> Iterator[None]:
    """A test that configures agentcli's logging (a handler on a stream pytest captured) must
    not leave it for the next tests: their records would go to a closed stream, or through a
    filter they do not expect."""
    logger = logging.getLogger("agentcli")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    handlers, level, propagate = saved
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
    for handler in handlers:
        if handler not in logger.handlers:
            logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


def pytest_configure(config: pytest.Config) -> None:
    """Give the commands the tests start the Ctrl-C of a terminal's foreground job.

    A shell without job control starts a background job (``pytest ... &`` in a script, CI
    harnesses) with SIGINT ignored, and every process after that inherits the ignore across
    exec. Python then installs no Ctrl-C handler, as it should (``nohup``-like jobs keep
    running), so the tests that press Ctrl-C on ``agentcli run`` would see it ignored. A
    handler set here is reset to the default at exec: the children start as on a terminal.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under ``AGENTCLI_STRICT_SKIPS=1`` (set by .ci/run) a skipped test fails instead: CI
    installs every service and package the suite needs, so a skip there hides a gap."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if (
        os.environ.get("AGENTCLI_STRICT_SKIPS") == "1"
        and report.skipped
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped under AGENTCLI_STRICT_SKIPS=1: {report.longrepr}"


# The real Redis and PostgreSQL servers (tests/servers/).
from .servers.fixtures import (  # noqa: E402
    cluster,
    postgres_server,
    postgres_url,
    redis,
    redis_cluster,
    redis_server,
)

__all__ = ["cluster", "postgres_server", "postgres_url", "redis", "redis_cluster", "redis_server"]
