"""Shared fixtures. Tests never touch the real home directory or the network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


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
