"""The waiting indicator on a real terminal, and an interrupt before any output.

A spinner with the seconds waited runs on stderr from sending a turn until its first output,
and is gone once the answer starts. Ctrl-C before any output stores no empty answer and says
so. Every wait is on something the program printed, never on time.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
from rich.console import Console

from agentcli.cli.stream_view import NOTHING_STORED, PARTIAL_KEPT, TurnView
from agentcli.cli.waiting import WAITING
from agentcli.stores import SQLiteStore

from .terminal import COLUMNS, ROWS, TIMEOUT, Terminal, terminal_env, visible
from .waiting_agents import GATE, GATED_ANSWER

AGENTS = Path(__file__).parent / "waiting_agents.py"
Spawn = Callable[..., Terminal]


def _agent(name: str) -> str:
    return f"{AGENTS}:{name}"


async def _messages(data_dir: Path, session_id: str) -> list[tuple[str, str, str]]:
    async with SQLiteStore(data_dir / "sessions.db") as store:
        return [(m.role, m.status, m.content) for m in await store.read(session_id)]


def test_the_spinner_waits_for_the_answer_and_goes(spawn: Spawn, workdir: Path) -> None:
    os.mkfifo(workdir / GATE)
    term = spawn("chat", "--agent", _agent("GatedAgent"))
    term.prompt()
    term.send("hello\r")
    term.expect(WAITING.encode())
    term.expect(rb"\d+s")  # the seconds waited
    (workdir / GATE).write_text("go")
    after = term.expect(GATED_ANSWER.encode())
    rest = term.prompt()
    assert WAITING not in visible(after[after.rfind(b"\x1b[?25h") :] + rest)
    assert term.exit() == 0


async def test_ctrl_c_before_any_output_stores_no_answer(spawn: Spawn, tmp_path: Path) -> None:
    term = spawn("chat", "--agent", _agent("SilentAgent"), "--session", "quiet")
    term.prompt()
    term.send("are you there?\r")
    term.expect(WAITING.encode())
    term.child.sendintr()
    term.expect(NOTHING_STORED.encode())
    term.prompt()
    assert term.exit() == 0
    assert PARTIAL_KEPT.encode() not in term.raw
    # The question is kept if the interrupt came after it was stored; no answer either way.
    stored = await _messages(tmp_path / "data", "quiet")
    assert stored in ([], [("user", "complete", "are you there?")])


def test_run_on_a_terminal_shows_the_spinner_then_the_answer(spawn: Spawn, workdir: Path) -> None:
    os.mkfifo(workdir / GATE)
    term = spawn("run", "--agent", _agent("GatedAgent"), "hi")
    term.expect(WAITING.encode())
    (workdir / GATE).write_text("go")
    term.expect(GATED_ANSWER.encode())
    term.expect(pexpect.EOF)
    term.child.close()
    assert term.child.exitstatus == 0


def test_run_into_a_file_keeps_the_spinner_on_the_terminal(workdir: Path, tmp_path: Path) -> None:
    # Only standard output is redirected: the answer goes to the file as written, the spinner
    # still shows on the terminal standard error is, and never reaches the file.
    os.mkfifo(workdir / GATE)
    child = pexpect.spawn(
        "/bin/sh",
        [
            "-c",
            'exec "$0" -m agentcli run --agent "$1" hi > answer.txt',
            sys.executable,
            _agent("GatedAgent"),
        ],
        cwd=str(workdir),
        env=terminal_env(tmp_path / "data"),
        dimensions=(ROWS, COLUMNS),
        timeout=TIMEOUT,
    )
    try:
        child.expect(WAITING.encode())
        (workdir / GATE).write_text("go")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert (workdir / "answer.txt").read_text() == GATED_ANSWER + "\n"


def test_no_spinner_when_stderr_is_not_a_terminal() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(file=out, width=80)
    err_console = Console(file=err, width=80)
    view = TurnView(console, "plain", err_console=err_console)
    view.start()
    view.text("hello")
    view.finish()
    assert out.getvalue() == "hello\n"
    assert err.getvalue() == ""


def test_interrupted_before_any_output_says_nothing_was_stored() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = TurnView(Console(file=out), "plain", err_console=Console(file=err, width=200))
    view.start()
    view.finish(interrupted=True)
    assert out.getvalue() == ""
    assert err.getvalue() == NOTHING_STORED + "\n"


def test_interrupted_after_some_text_says_the_partial_answer_is_kept() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = TurnView(Console(file=out), "plain", err_console=Console(file=err, width=200))
    view.start()
    view.text("half an ans")
    view.finish(interrupted=True)
    assert out.getvalue() == "half an ans\n"
    assert err.getvalue() == PARTIAL_KEPT + "\n"
