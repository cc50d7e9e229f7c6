"""Fixtures for the command line tests: a scratch working directory and pty terminals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .terminal import Terminal, terminal_env


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch current directory (no stray .env), with the data directory inside it."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("AGENTCLI_DATA_DIR", str(tmp_path / "data"))
    return work


@pytest.fixture
def spawn(workdir: Path, tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """Start ``python -m agentcli ARGS`` in a pseudo-terminal; killed after the test."""
    started: list[Terminal] = []

    def start(*args: str, **env: str) -> Terminal:
        term = Terminal(list(args), workdir, terminal_env(tmp_path / "data", **env))
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()
