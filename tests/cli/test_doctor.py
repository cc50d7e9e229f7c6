"""``agentcli doctor``: loose permissions reported (and at every store open), tightened with
``--fix``; a damaged SQLite database detected, with the way to recover."""

from __future__ import annotations

import asyncio
import json
import random
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli.cli.app import app
from agentcli.cli.doctor_files import quick_check
from agentcli.cli.exits import FAILED
from agentcli.messages import Message
from agentcli.stores.sqlite import SQLiteStore

from .terminal import run_cli

runner = CliRunner()
PAGE = 4096


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def doctor(*args: str) -> str:
    """The report, its lines unwrapped (the console may be 80 columns wide)."""
    return " ".join(invoke("doctor", *args).stdout.split())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _loosen(data_dir: Path) -> list[Path]:
    """Make the data directory 0755 and its files 0644, as an older version or a 022 umask
    outside agentcli might have left them."""
    (data_dir / "history").write_text("a private line\n")
    files = [data_dir / "sessions.db", data_dir / "history"]
    data_dir.chmod(0o755)
    for file in files:
        file.chmod(0o644)
    return [data_dir, *files]


def test_loose_permissions_are_reported_then_fixed(workdir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert invoke("run", "--session", "p1", "hello").exit_code == 0
    data_dir_path, database, history = _loosen(data_dir)

    listed = invoke("sessions", "list")
    assert listed.exit_code == 0
    assert listed.stderr.count("warning: other users may read your sessions") == 1
    assert "agentcli doctor --fix" in listed.stderr
    assert f"{database} (0644, want 0600)" in listed.stderr
    assert _mode(data_dir_path) == 0o755  # reported, not changed behind the user's back

    report = doctor()
    assert "permissions: other users may read or change" in report
    assert f"{history} (0644, want 0600)" in report
    assert _mode(history) == 0o644

    fixed = doctor("--fix")
    assert "permissions: tightened" in fixed
    assert f"{data_dir_path} 0755 → 0700" in fixed
    assert (_mode(data_dir_path), _mode(database), _mode(history)) == (0o700, 0o600, 0o600)

    assert "permissions: sessions, input history and saved prompts are private to you" in doctor()
    assert "warning" not in invoke("sessions", "list").stderr


async def _store_sessions(database: Path, count: int) -> None:
    async with SQLiteStore(database) as store:
        for number in range(count):
            text = f"message {number} " * 200
            await store.append(f"s{number}", [Message(role="user", content=text)])


def _damage(database: Path) -> None:
    """Overwrite the middle third of the file's pages with random bytes (the store is closed,
    so its WAL was checkpointed into the file and removed)."""
    assert not database.with_name(database.name + "-wal").exists()
    pages = database.stat().st_size // PAGE
    noise = random.Random(11)  # noqa: S311 (reproducible damage, not secrets)
    with database.open("r+b") as file:
        for page in range(pages // 3, 2 * pages // 3):
            file.seek(page * PAGE)
            file.write(noise.randbytes(PAGE))


async def test_doctor_detects_a_damaged_database(workdir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database = data_dir / "sessions.db"
    await _store_sessions(database, 30)

    code, out, err = await run_cli(workdir, data_dir, "doctor", COLUMNS="400")
    assert code == 0, out + err
    assert f"integrity: {database}: quick_check passed" in out
    code, out, err = await run_cli(workdir, data_dir, "doctor", "--json")
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True

    _damage(database)
    code, out, err = await run_cli(workdir, data_dir, "doctor", COLUMNS="400")
    assert code == FAILED
    assert f"integrity: {database} is damaged" in out
    assert "agentcli sessions export ID --format json -o DIR/" in out
    assert "agentcli sessions import" in out
    assert "check(s) failed" in err

    code, out, err = await run_cli(workdir, data_dir, "doctor", "--json")
    assert (code, err) == (FAILED, "")
    report = json.loads(out)
    assert report["ok"] is False
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["integrity"]["status"] == "fail"
    assert checks["integrity"]["detail"].startswith(f"{database} is damaged")
    assert "agentcli sessions import" in checks["integrity"]["fix"]
    assert checks["tokenizer"] == {
        "name": "tokenizer",
        "status": "ok",
        "detail": "o200k available offline",
        "fix": None,
    }


def test_quick_check_is_bounded_in_time(tmp_path: Path) -> None:
    database = tmp_path / "sessions.db"
    asyncio.run(_store_sessions(database, 30))
    assert quick_check(database, 60.0) == []
    with pytest.raises(TimeoutError):
        quick_check(database, 0.0)  # already past its deadline at the first progress call
