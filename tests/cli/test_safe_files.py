"""Exports to files: never through a symbolic link, never over a file unasked, never half
written (a full disk leaves the old file as it was), and private whatever the umask."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentcli._private_files import TargetExistsError, TargetIsLinkError, write_private_file
from agentcli.cli.app import app
from agentcli.cli.exits import USAGE
from agentcli.messages import Message
from agentcli.stores.sqlite import SQLiteStore

from .terminal import Terminal, agent, terminal_env, visible

runner = CliRunner()
OLD = b"the old file, which must survive\n"


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def _make_session(session_id: str = "s1") -> str:
    result = invoke("run", "--agent", agent("RepeatAgent"), "--session", session_id, "hello")
    assert result.exit_code == 0, result.output
    return session_id


def _export(*args: str) -> Result:
    return invoke("sessions", "export", *args)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_symlink_at_the_target_is_never_followed(workdir: Path, tmp_path: Path) -> None:
    session_id = _make_session()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(OLD)
    link = workdir / "notes.md"
    link.symlink_to(victim)
    for extra in ([], ["--force"]):
        result = _export(session_id, "-o", str(link), *extra)
        assert result.exit_code == USAGE
        assert "symbolic link" in result.stderr
        assert victim.read_bytes() == OLD
        assert link.is_symlink()
    assert sorted(p.name for p in workdir.iterdir()) == ["notes.md"]  # no temporary left


def test_an_existing_file_is_replaced_only_with_force(workdir: Path) -> None:
    session_id = _make_session()
    target = workdir / "notes.md"
    target.write_bytes(OLD)
    target.chmod(0o644)
    refused = _export(session_id, "-o", str(target))
    assert refused.exit_code == USAGE
    assert "--force" in refused.stderr
    assert target.read_bytes() == OLD

    replaced = _export(session_id, "-o", str(target), "--force")
    assert replaced.exit_code == 0, replaced.output
    assert "hello" in target.read_text()
    assert _mode(target) == 0o600  # a new file took its place, private like every export
    assert sorted(p.name for p in workdir.iterdir()) == ["notes.md"]


def test_a_directory_gets_a_named_file(workdir: Path) -> None:
    session_id = _make_session()
    into_existing = _export(session_id, "-o", str(workdir))
    assert into_existing.exit_code == 0, into_existing.output
    assert (workdir / f"session-{session_id}.md").is_file()
    again = _export(session_id, "-o", str(workdir))
    assert again.exit_code == USAGE
    assert "--force" in again.stderr

    new_dir = workdir / "exports" / "json"
    created = _export(session_id, "--format", "json", "-o", f"{new_dir}/")
    assert created.exit_code == 0, created.output
    assert (new_dir / f"session-{session_id}.json").is_file()
    assert _mode(new_dir) == 0o700


def _launcher(umask: int | None, file_size_limit: int | None) -> list[str]:
    """``python -m agentcli`` started under a umask and a file size limit (RLIMIT_FSIZE:
    writing past it fails with EFBIG, the way a full disk fails with ENOSPC)."""
    code = (
        "import os, resource, signal, sys\n"
        f"umask, limit = {umask!r}, {file_size_limit!r}\n"
        "if umask is not None: os.umask(umask)\n"
        "if limit is not None:\n"
        "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'agentcli', *sys.argv[1:]])\n"
    )
    return [sys.executable, "-c", code]


def _run(
    tmp_path: Path, *args: str, umask: int | None = None, limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_launcher(umask, limit), *args],
        cwd=tmp_path / "work",
        env=terminal_env(tmp_path / "data", COLUMNS="400"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _store_a_long_session(database: Path, session_id: str, chars: int) -> None:
    async with SQLiteStore(database) as store:
        await store.append(session_id, [Message(role="user", content="x" * chars)])


def test_a_failing_write_leaves_the_old_file_and_no_temporary(
    workdir: Path, tmp_path: Path
) -> None:
    asyncio.run(_store_a_long_session(tmp_path / "data" / "sessions.db", "long", 200_000))
    target = workdir / "notes.md"
    target.write_bytes(OLD)
    limit = 64 * 1024  # above SQLite's 32 KiB -shm, far below the 200 KB export
    result = _run(tmp_path, "sessions", "export", "long", "-o", str(target), "--force", limit=limit)
    assert result.returncode == USAGE, result.stderr
    assert "cannot write" in result.stderr
    assert "internal error" not in result.stderr
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in workdir.iterdir()) == ["notes.md"]

    fits = _run(tmp_path, "sessions", "export", "long", "-o", str(target), "--force")
    assert fits.returncode == 0, fits.stderr
    assert target.stat().st_size > 200_000


def test_new_files_are_private_whatever_the_umask(workdir: Path, tmp_path: Path) -> None:
    """A umask of 0277 would make a plain ``open(..., 0o600)`` 0400 and ``mkdir`` 0500."""
    made = _run(tmp_path, "run", "--session", "u1", "hello", umask=0o277)
    assert made.returncode == 0, made.stderr
    data_dir = tmp_path / "data"
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "sessions.db") == 0o600
    exported = _run(tmp_path, "sessions", "export", "u1", "-o", "out/", umask=0o277)
    assert exported.returncode == 0, exported.stderr
    assert _mode(workdir / "out") == 0o700
    assert _mode(workdir / "out" / "session-u1.md") == 0o600
    assert "warning" not in made.stderr + exported.stderr


def test_write_private_file_never_replaces_a_link_or_a_file_unasked(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(OLD)
    (tmp_path / "link").symlink_to(victim)
    (tmp_path / "file").write_bytes(OLD)
    with pytest.raises(TargetIsLinkError):
        write_private_file(tmp_path, "link", b"new", replace=True)
    with pytest.raises(TargetExistsError):
        write_private_file(tmp_path, "file", b"new", replace=False)
    write_private_file(tmp_path, "fresh", b"new", replace=False)
    assert (tmp_path / "fresh").read_bytes() == b"new"
    assert victim.read_bytes() == OLD
    assert (tmp_path / "file").read_bytes() == OLD
    assert sorted(os.listdir(tmp_path)) == ["file", "fresh", "link", "victim"]
    for bad in ("", ".", "..", "a/b"):
        with pytest.raises(ValueError, match="file name"):
            write_private_file(tmp_path, bad, b"new", replace=True)


def test_chat_export_asks_for_force(spawn: Callable[..., Terminal], workdir: Path) -> None:
    term = spawn("chat", "--agent", agent("RepeatAgent"))
    term.prompt()
    term.line("remember this")
    assert "exported to" in visible(term.line("/export notes.md"))
    refused = visible(term.line("/export notes.md"))
    assert "--force" in refused
    assert "exported to" in visible(term.line("/export notes.md --force"))
    term.exit()
    assert "remember this" in (workdir / "notes.md").read_text()
