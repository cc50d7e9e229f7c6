"""SIGTERM and SIGHUP mid-answer keep the partial answer, as Ctrl-C does, and exit 128 + signal.

Each test runs the real command in a subprocess with a test agent that streams a few words and
then waits forever; the signal is sent once those words are on standard output.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from agentcli.messages import Message
from agentcli.stores import SQLiteStore

from .hostile_turn_agents import FIRST_WORDS
from .terminal import Terminal, terminal_env

AGENTS = Path(__file__).parent / "hostile_turn_agents.py"
TIMEOUT = 60  # generous: only a hang reaches it


async def _start(
    workdir: Path, data_dir: Path, *args: str, stdin: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentcli",
        *args,
        cwd=workdir,
        env=terminal_env(data_dir),
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _read_until(process: asyncio.subprocess.Process, marker: str) -> str:
    """Standard output up to and including ``marker`` (the words the agent streamed)."""
    assert process.stdout is not None
    seen = b""
    while marker.encode() not in seen:
        chunk = await asyncio.wait_for(process.stdout.read(4096), TIMEOUT)
        assert chunk, f"the command ended before {marker!r}: {seen!r}"
        seen += chunk
    return seen.decode()


async def _signal_mid_answer(
    process: asyncio.subprocess.Process, signum: signal.Signals, marker: str = FIRST_WORDS
) -> tuple[int, str, str]:
    """Wait for ``marker`` on stdout, send ``signum``, return exit code, stdout and stderr."""
    shown = await _read_until(process, marker)
    process.send_signal(signum)
    out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, shown + out.decode(), err.decode()


async def _only_session(data_dir: Path) -> list[Message]:
    async with SQLiteStore(data_dir / "sessions.db") as store:
        sessions = await store.list_sessions()
        assert len(sessions) == 1, sessions
        return await store.read(sessions[0].id)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
async def test_run_stopped_by_a_signal_keeps_the_partial_answer(
    workdir: Path, tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    data_dir = tmp_path / "data"
    process = await _start(workdir, data_dir, "run", "--agent", f"{AGENTS}:StallAgent", "go")
    exit_code, out, err = await _signal_mid_answer(process, signum)

    assert exit_code == code, err
    assert FIRST_WORDS in out
    assert "the partial answer is kept" in err
    assert f"{signum.name} received" in err
    assert "internal error" not in err
    user, answer = await _only_session(data_dir)
    assert (user.role, user.content) == ("user", "go")
    assert (answer.role, answer.status, answer.content) == ("assistant", "interrupted", FIRST_WORDS)


async def test_closing_the_terminal_mid_answer_keeps_the_partial_answer(
    spawn: Callable[..., Terminal], tmp_path: Path
) -> None:
    term = spawn("run", "--agent", f"{AGENTS}:StallAgent", "go")
    term.expect(FIRST_WORDS.encode())
    # The terminal goes away (closed through pexpect's own file, so it knows): SIGHUP.
    cast(Any, term.child).ptyproc.fileobj.close()
    assert term.child.wait() == 129

    _, answer = await _only_session(tmp_path / "data")
    assert (answer.status, answer.content) == ("interrupted", FIRST_WORDS)


async def test_chat_turn_stopped_by_sigterm_keeps_the_partial_answer(
    workdir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    args = ("chat", "--agent", f"{AGENTS}:StallAgent")
    process = await _start(workdir, data_dir, *args, stdin=asyncio.subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(b"go\n")  # and stdin stays open: the chat would wait for more
    await process.stdin.drain()
    exit_code, _, err = await _signal_mid_answer(process, signal.SIGTERM)

    assert exit_code == 143, err
    assert "internal error" not in err
    _, answer = await _only_session(data_dir)
    assert (answer.status, answer.content) == ("interrupted", FIRST_WORDS)


async def test_ctrl_c_after_unstorable_characters_keeps_the_answer(
    workdir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    args = ("run", "--agent", f"{AGENTS}:StallAgent", "unstorable please")
    process = await _start(workdir, data_dir, *args)
    exit_code, out, err = await _signal_mid_answer(process, signal.SIGINT)

    assert exit_code == 130, err
    assert "ValidationError" not in err
    assert "internal error" not in err
    assert err.count("cannot be stored") == 1  # said once
    assert "\ufffd" in out  # shown as it is stored (a lone surrogate cannot even be printed)
    _, answer = await _only_session(data_dir)
    assert answer.status == "interrupted"
    assert answer.content == "nul\ufffd and lone \ufffd surrogate " + FIRST_WORDS
