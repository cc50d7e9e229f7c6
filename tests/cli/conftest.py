"""Fixtures for the command line tests: a scratch working directory, pty terminals and chats
in process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from ..providers.vendor_fixtures import server, vendor
from .inprocess_chat import ChatStarter
from .terminal import Terminal, terminal_env

# The fake vendor server and agents, for the chat tests that go through a provider's SDK.
__all__ = ["server", "vendor"]


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


@pytest.fixture
async def chat_starter() -> AsyncIterator[ChatStarter]:
    """Starts Repls in process (see ``inprocess_chat``); all closed after the test."""
    starter = ChatStarter()
    yield starter
    await starter.close_all()
