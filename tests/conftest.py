"""Shared fixtures. Tests never touch the real home directory or the network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own data directory and no provider keys from the developer's shell."""
    monkeypatch.setenv("AGENTCLI_DATA_DIR", str(tmp_path / "agentcli-data"))
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name in {"DEFAULT_MODEL", "OPENAI_BASE_URL"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    yield
