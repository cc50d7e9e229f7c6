"""A session over its cost budget: ``agentcli run`` says which budget, exits 7, stores nothing."""

from __future__ import annotations

from pathlib import Path

from agentcli.cli.exits import BUDGET_EXCEEDED, exit_code_for
from agentcli.errors import BudgetExceededError, ConfigError
from agentcli.stores import SQLiteStore
from agentcli.stores.base import session_scope

from .terminal import agent, run_cli


def test_a_spent_budget_maps_to_its_own_exit_code() -> None:
    assert BUDGET_EXCEEDED == 7
    assert exit_code_for(BudgetExceededError("session", limit=1.0, spent=1.5)) == BUDGET_EXCEEDED
    assert exit_code_for(ConfigError("bad")) != BUDGET_EXCEEDED


async def _run(workdir: Path, data_dir: Path, *args: str) -> tuple[int, str, str]:
    # GaugeAgent reports $0.0012 a turn: the first turn fits, the second does not.
    return await run_cli(workdir, data_dir, *args, AGENTCLI_MAX_SESSION_COST="0.001", COLUMNS="60")


async def test_run_over_the_session_budget_exits_7(workdir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    gauge = agent("GaugeAgent")
    code, out, err = await _run(workdir, data_dir, "run", "-a", gauge, "-s", "paid", "hi")
    assert code == 0, err
    assert out.startswith("ok")
    code, out, err = await _run(workdir, data_dir, "run", "-a", gauge, "-s", "paid", "again")
    assert code == BUDGET_EXCEEDED, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, however narrow the terminal
    assert lines[0].startswith("error: the session's cost budget (session 'paid') is spent")
    assert "$0.0012 of $0.001" in lines[0]
    assert "AGENTCLI_MAX_SESSION_COST" in lines[0]
    async with SQLiteStore(data_dir / "sessions.db") as store:  # the default store's file
        info = await store.info("paid")
        assert info is not None
        assert info.message_count == 2  # the refused turn stored nothing
        assert await store.get_spend(session_scope("paid")) == 0.0012
    # Another session has a budget of its own.
    code, out, err = await _run(workdir, data_dir, "run", "-a", gauge, "-s", "fresh", "hi")
    assert code == 0, err
