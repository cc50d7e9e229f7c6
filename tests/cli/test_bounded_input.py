"""Standard input is read with a limit: an endless stream is refused at ``max_input_chars``
instead of being read whole (``yes | agentcli run`` once grew to gigabytes)."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest

from agentcli.cli.bounded_input import read_line, read_piped
from agentcli.cli.exits import USAGE, CLIExit

from .terminal import terminal_env

TIMEOUT = 60  # generous: only a command that reads forever reaches it
# Writes the same text forever: ``yes`` with lines, or one line that never ends.
ENDLESS_LINES = [sys.executable, "-c", "import sys\nwhile True: sys.stdout.write('y\\n' * 4096)"]
ENDLESS_LINE = [sys.executable, "-c", "import sys\nwhile True: sys.stdout.write('x' * 8192)"]


async def _fed_forever(
    workdir: Path, data_dir: Path, source: list[str], *args: str
) -> tuple[int, str, str]:
    """Run ``agentcli ARGS`` with ``source``'s endless output as its standard input."""
    read_end, write_end = os.pipe()
    feeder = await asyncio.create_subprocess_exec(
        *source, stdout=write_end, stderr=asyncio.subprocess.DEVNULL
    )
    os.close(write_end)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentcli",
            *args,
            cwd=workdir,
            env=terminal_env(data_dir, AGENTCLI_MAX_INPUT_CHARS="5000"),
            stdin=read_end,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        os.close(read_end)
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if feeder.returncode is None:
            feeder.kill()
        await feeder.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_run_refuses_endless_stdin_at_the_limit(workdir: Path, tmp_path: Path) -> None:
    code, out, err = await _fed_forever(
        workdir, tmp_path / "data", ENDLESS_LINES, "run", "--agent", "echo"
    )
    assert code == USAGE, err
    assert out == ""
    assert "standard input is over the limit of 5,000 characters" in err
    assert "AGENTCLI_MAX_INPUT_CHARS" in err


async def test_chat_refuses_an_endless_line_at_the_limit(workdir: Path, tmp_path: Path) -> None:
    code, _, err = await _fed_forever(
        workdir, tmp_path / "data", ENDLESS_LINE, "chat", "--agent", "echo"
    )
    assert code == USAGE, err
    assert "a line of standard input is over the limit of 5,000 characters" in err


@pytest.mark.parametrize("text", ["x" * 10, "x" * 10 + "\n", "x" * 9 + "\n\n", "x\ny"])
def test_piped_text_up_to_the_limit_is_read_whole(text: str) -> None:
    assert read_piped(io.StringIO(text), 10) == text.rstrip("\n")


@pytest.mark.parametrize("text", ["x" * 11, "x" * 10 + "\ny", "x" * 10 + "\n\n"])
def test_piped_text_past_the_limit_is_refused(text: str) -> None:
    with pytest.raises(CLIExit) as refused:
        read_piped(io.StringIO(text), 10)
    assert refused.value.code == USAGE


def test_lines_are_read_one_at_a_time_up_to_the_limit() -> None:
    stream = io.StringIO("short\n" + "x" * 10 + "\n" + "last")
    assert [read_line(stream, 10) for _ in range(4)] == ["short", "x" * 10, "last", None]
    with pytest.raises(CLIExit):
        read_line(io.StringIO("x" * 11 + "\n"), 10)
