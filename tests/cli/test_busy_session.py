"""A turn that cannot get its session's lease: exit code 6 and one line, and a retry works."""

from __future__ import annotations

from pathlib import Path

from agentcli.cli.exits import SESSION_BUSY, exit_code_for
from agentcli.errors import SessionBusyError, StoreError
from agentcli.stores import SQLiteStore

from .terminal import run_cli


def test_busy_maps_to_its_own_exit_code() -> None:
    assert SESSION_BUSY == 6
    assert exit_code_for(SessionBusyError("s", waited=0.2, retry_after=29.8)) == SESSION_BUSY
    assert exit_code_for(StoreError("disk full")) != SESSION_BUSY


async def _run(workdir: Path, data_dir: Path, *args: str) -> tuple[int, str, str]:
    # Narrower than the message: it must stay one line all the same.
    return await run_cli(workdir, data_dir, *args, AGENTCLI_LEASE_WAIT="0.2", COLUMNS="60")


async def test_run_on_a_busy_session_exits_6(workdir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with SQLiteStore(data_dir / "sessions.db") as store:  # the default store's file
        async with store.lease("shared", ttl=60):  # another turn, in this process
            code, out, err = await _run(workdir, data_dir, "run", "-s", "shared", "hi")
        assert code == SESSION_BUSY, err
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert "session 'shared' is busy" in lines[0]
        assert "retry" in lines[0]
        assert await store.info("shared") is None  # the refused turn stored nothing

        # Once the other turn is over, the same command goes through.
        code, out, err = await _run(workdir, data_dir, "run", "-s", "shared", "hi")
        assert code == 0, err
        assert out.startswith("You said: hi")
        info = await store.info("shared")
        assert info is not None
        assert info.message_count == 2
