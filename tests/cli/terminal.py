"""Drive ``agentcli`` in a real pseudo-terminal and keep every raw byte it wrote."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import pexpect

AGENTS = Path(__file__).parent / "agents.py"
ROWS, COLUMNS = 30, 100
TIMEOUT = 30  # generous: a loaded CI machine must not make these flaky
# Every new prompt starts by turning bracketed paste on: the surest sign the REPL is waiting.
PROMPT = re.compile(rb"\x1b\[\?2004h")
SGR = {"green": b"\x1b[32m", "yellow": b"\x1b[33m", "red": b"\x1b[31m"}


def agent(name: str) -> str:
    return f"{AGENTS}:{name}"


def terminal_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("NO_COLOR", None)
    env.pop("DEFAULT_MODEL", None)
    env.update(
        AGENTCLI_DATA_DIR=str(data_dir),
        TERM="xterm-256color",
        COLUMNS=str(COLUMNS),
        LINES=str(ROWS),
        PROMPT_TOOLKIT_NO_CPR="1",  # the pty never answers cursor-position requests
        # Some dev venvs hold pydantic plugins (logfire) that add 0.2 s per start; CI has none.
        PYDANTIC_DISABLE_PLUGINS="1",
        PYTHONIOENCODING="utf-8",
    )
    env.update(extra)
    return env


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment built from scratch for a command run without a terminal: nothing from the
    developer's shell leaks in, the data directory and home are under ``tmp_path``."""
    env = {
        "HOME": str(tmp_path / "home"),
        "PATH": "/usr/bin:/bin",
        "AGENTCLI_DATA_DIR": str(tmp_path / "data"),
        "PYDANTIC_DISABLE_PLUGINS": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    if "AGENTCLI_CACHE_DIR" in os.environ:  # the run's shared tokenizer cache
        env["AGENTCLI_CACHE_DIR"] = os.environ["AGENTCLI_CACHE_DIR"]
    return {**env, **extra}


class Terminal:
    """One ``agentcli`` process on a pty. ``raw`` holds every byte it printed."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "agentcli", *args],
            cwd=str(cwd),
            env=env,
            dimensions=(ROWS, COLUMNS),
            timeout=TIMEOUT,
        )
        self.raw = b""
        self._mark = 0

    def expect(self, pattern: Any) -> bytes:
        """Wait for ``pattern`` (bytes, regex or EOF); returns what came before it."""
        self.child.expect(pattern)
        before: bytes = self.child.before if isinstance(self.child.before, bytes) else b""
        after = self.child.after if isinstance(self.child.after, bytes) else b""
        self.raw += before + after
        return before

    def prompt(self) -> bytes:
        """Wait for the next prompt; returns everything printed since the last one."""
        return self.expect(PROMPT)

    def send(self, text: str) -> None:
        self.child.send(text.encode())

    def line(self, text: str) -> bytes:
        """Type ``text``, press Enter, wait for the next prompt; returns the output."""
        self.send(text + "\r")
        return self.prompt()

    def exit(self) -> int:
        self.child.sendcontrol("d")
        self.expect(pexpect.EOF)
        self.child.close()
        status = self.child.exitstatus
        return -1 if status is None else status

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


def visible(raw: bytes) -> str:
    """The printable text of terminal output: escape sequences and CRs removed."""
    text = raw.decode("utf-8", "replace")
    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", text)
    return text.replace("\r", "")


async def run_cli(workdir: Path, data_dir: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """``python -m agentcli ARGS`` with no terminal: its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentcli",
        *args,
        cwd=workdir,
        env=terminal_env(data_dir, **env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
