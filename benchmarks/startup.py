"""Whole-process start-up times (issue 3): median of 10 runs of each command, after one warm-up.

Every command runs in a fresh temporary directory (no ``.env`` is read), with its data directory
there too and no provider keys in its environment, so the echo agent answers. ``agentcli chat``
runs in a real pseudo-terminal (pexpect) and is timed to its first prompt; then Ctrl-D ends it.
For the provider agent, ``OPENAI_BASE_URL`` points at a loopback listener that counts
connections: the CLI must not connect anywhere before its prompt.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._common import Section, Table, find_command, median, ok, progress

RUNS = 10
# Targets from issue 3, in milliseconds.
TARGETS = {"--version": 80.0, "--help": 200.0, "run": 300.0, "chat": 400.0}
PROMPT_TIMEOUT = 15.0

# A screen whose last line ends with a prompt sign (after escapes are removed): ">", "$", ":",
# or the angle quotes U+276F, U+203A, U+00BB that styled prompts use.
PROMPT_END = re.compile("(?:[>$:]|\u276f|\u203a|\u00bb)\\s*$")
# prompt-toolkit asks the terminal for the cursor position when its prompt application starts.
CPR_REQUEST = b"\x1b[6n"
ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")

_REMOVE = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEFAULT_MODEL", "OPENAI_BASE_URL")
_PROVIDER = "openai:gpt-4o-mini"

# The agentcli rows: label, arguments, target, and how each is timed: "process" to its exit;
# "chat" in a pseudo-terminal to the first prompt; "provider chat" the same with a loopback base
# URL that counts connections (there must be none before the prompt).
_AGENTCLI: tuple[tuple[str, list[str], float, str], ...] = (
    ("agentcli --version", ["--version"], TARGETS["--version"], "process"),
    ("agentcli --help", ["--help"], TARGETS["--help"], "process"),
    ('agentcli run "hi" (echo)', ["run", "hi"], TARGETS["run"], "process"),
    ("agentcli chat (echo) to prompt", ["chat"], TARGETS["chat"], "chat"),
    (
        f"agentcli chat --agent {_PROVIDER} to prompt",
        ["chat", "--agent", _PROVIDER],
        TARGETS["chat"],
        "provider chat",
    ),
)


@dataclass
class Result:
    label: str
    command: list[str]
    times_ms: list[float] = field(default_factory=list)
    status: str = "ok"
    target: float | None = None
    detail: str = ""

    @property
    def median_ms(self) -> float | None:
        return median(self.times_ms) if self.times_ms else None


def _env(tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _REMOVE and not k.startswith("AGENTCLI_") and not k.startswith("PYTHON")
    }
    env.update(
        AGENTCLI_DATA_DIR=str(tmp / "data"),
        LLM_USER_PATH=str(tmp / "llm"),
        HOME=str(tmp / "home"),
        TERM="xterm-256color",
        COLUMNS="100",
        OPENAI_AGENTS_DISABLE_TRACING="1",
    )
    env.update(extra or {})
    return env


def _provider_env(tmp: Path, counter: ConnectionCounter) -> dict[str, str]:
    """A dummy key, and a base URL at ``counter``: any connection is counted, none answered."""
    return _env(
        tmp,
        {
            "OPENAI_API_KEY": "sk-bench-dummy",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{counter.port}/v1",
        },
    )


def _time_process(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(  # the caller checks the exit code
        command,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    elapsed = (time.perf_counter() - t0) * 1000
    return elapsed, proc.returncode, proc.stderr.decode(errors="replace")


def _measure_process(result: Result, env: dict[str, str], cwd: Path, runs: int) -> Result:
    for i in range(runs + 1):  # the first run warms the file cache and writes .pyc files
        try:
            elapsed, code, stderr = _time_process(result.command, env, cwd)
        except subprocess.TimeoutExpired:
            result.status = "timed out"
            return result
        if code != 0:
            last = stderr.strip().splitlines()[-1:] or [""]
            result.status = f"failed (exit {code})"
            result.detail = last[0][:120]
            return result
        if i:
            result.times_ms.append(elapsed)
    return result


class ConnectionCounter:
    """A loopback listener that accepts and counts connections (it never answers)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.times.append(time.perf_counter())
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self.sock.close()


def _wait_for_prompt(child: Any, started: float) -> tuple[float | None, str, bytes]:
    """Read the terminal until a prompt shows; returns (ms, how it was seen, screen bytes)."""
    import pexpect

    screen = b""
    deadline = started + PROMPT_TIMEOUT
    while time.perf_counter() < deadline:
        try:
            chunk = child.read_nonblocking(size=65536, timeout=0.05)
        except pexpect.TIMEOUT:
            continue
        except pexpect.EOF:
            return None, "exited before a prompt", screen
        now = time.perf_counter()
        screen += chunk
        if CPR_REQUEST in screen:
            return (now - started) * 1000, "prompt-toolkit started", screen
        text = ANSI.sub(b"", screen).decode(errors="replace")
        last_line = text.replace("\r", "\n").rstrip("\n").rsplit("\n", 1)[-1]
        if last_line.strip() and PROMPT_END.search(last_line):
            return (now - started) * 1000, "prompt text", screen
    return None, "no prompt within 15 s", screen


def _measure_chat(
    result: Result, env: dict[str, str], cwd: Path, runs: int, counter: ConnectionCounter | None
) -> Result:
    try:
        import pexpect
    except ImportError:
        result.status = "pexpect not installed"
        return result
    early: list[int] = []
    seen = ""
    for i in range(runs + 1):
        before = len(counter.times) if counter else 0
        started = time.perf_counter()
        child = pexpect.spawn(
            result.command[0], result.command[1:], env=env, cwd=str(cwd), dimensions=(40, 100)
        )
        try:
            elapsed, seen, screen = _wait_for_prompt(child, started)
            prompt_at = time.perf_counter()
            if counter is not None:
                early.append(sum(1 for t in counter.times[before:] if t <= prompt_at))
            if elapsed is None:
                tail = ANSI.sub(b"", screen).decode(errors="replace").strip()[-120:]
                result.status = seen
                result.detail = tail.replace("\n", " | ")
                return result
            child.sendcontrol("d")
            try:
                child.expect(pexpect.EOF, timeout=5)
            except pexpect.TIMEOUT:
                result.detail = "did not exit on Ctrl-D within 5 s"
        finally:
            child.close(force=True)
        if i:
            result.times_ms.append(elapsed)
    notes = [f"prompt seen as: {seen}"]
    if counter is not None:
        connections = sum(early)
        notes.append(f"connections before the prompt: {connections}")
        if connections:
            result.status = "connected before the prompt"
    result.detail = "; ".join(n for n in (result.detail, *notes) if n)
    return result


def _agentcli_available(agentcli: str | None) -> str | None:
    """``None`` when the CLI can run, else why not."""
    if agentcli is None:
        return "no agentcli command beside this Python or on PATH"
    probe = subprocess.run(
        [sys.executable, "-c", "import agentcli.cli.entry"],
        capture_output=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return "agentcli.cli.entry does not import (yet)"
    return None


def run(*, quick: bool = False) -> Section:
    t0 = time.perf_counter()
    runs = 3 if quick else RUNS
    section = Section("startup")
    python = sys.executable
    agentcli = find_command("agentcli")
    why_not = _agentcli_available(agentcli)
    results: list[Result] = []

    with tempfile.TemporaryDirectory(prefix="agentcli-startup-") as name:
        tmp = Path(name)
        for sub in ("llm", "home", "cwd"):
            (tmp / sub).mkdir()
        # Private, as agentcli makes it: a 0755 one would have every run print the permissions
        # warning (and load rich for it), which no user's run does.
        (tmp / "data").mkdir(mode=0o700)
        cwd = tmp / "cwd"
        env = _env(tmp)

        def process(label: str, command: list[str], target: float | None = None) -> None:
            progress(f"startup: {label}")
            results.append(_measure_process(Result(label, command, target=target), env, cwd, runs))

        def chat(label: str, command: list[str], target: float | None = None) -> None:
            progress(f"startup: {label}")
            result = Result(label, command, target=target)
            results.append(_measure_chat(result, env, cwd, runs, None))

        def provider_chat(label: str, command: list[str], target: float) -> None:
            progress(f"startup: {label}")
            counter = ConnectionCounter()
            try:
                result = Result(label, command, target=target)
                provider_env = _provider_env(tmp, counter)
                results.append(_measure_chat(result, provider_env, cwd, runs, counter))
            finally:
                counter.close()

        process("python -c pass", [python, "-c", "pass"])
        chat("pty floor: python -c input('> ')", [python, "-c", "input('> ')"])
        measure = {"process": process, "chat": chat, "provider chat": provider_chat}
        for label, args, target, how in _AGENTCLI:
            if why_not is None and agentcli is not None:
                measure[how](label, [agentcli, *args], target)
            else:
                results.append(
                    Result(label, [], status="missing", target=target, detail=why_not or "")
                )

        for peer, args in (("llm", ["--version"]), ("clai", ["--help"])):
            command = find_command(peer, peers=True)
            label = f"{peer} {' '.join(args)}"
            if command is None:
                results.append(Result(label, [], status="not installed"))
            else:
                process(label, [command, *args])

    section.tables.append(_table(results, runs))
    section.seconds = time.perf_counter() - t0
    return section


def _table(results: list[Result], runs: int) -> Table:
    table = Table(
        f"Start-up, whole process, milliseconds (median of {runs} after 1 warm-up)",
        ["command", "median", "min", "max", "target", "ok?", "notes"],
        align="lrrrlll",
    )
    for r in results:
        measured = r.status == "ok" and bool(r.times_ms)
        passed = _passed(r)
        table.add(
            [
                r.label,
                f"{r.median_ms:.0f}" if r.times_ms else r.status,
                f"{min(r.times_ms):.0f}" if measured else "",
                f"{max(r.times_ms):.0f}" if measured else "",
                f"<= {r.target:.0f}" if r.target else "",
                "" if r.target is None else ok(passed),
                r.detail,
            ],
            command=r.label,
            status=r.status,
            median_ms=r.median_ms,
            times_ms=[round(t, 2) for t in r.times_ms],
            target_ms=r.target,
            ok=passed,
            detail=r.detail,
        )
    table.notes += [
        "each command in a fresh temp dir: no .env, AGENTCLI_DATA_DIR there, no provider keys "
        "(the echo agent); chat timed in a pseudo-terminal to its first prompt, then Ctrl-D",
        "the provider chat gets a dummy OPENAI_API_KEY and OPENAI_BASE_URL at a loopback "
        "listener that counts connections",
        "a 2-core machine shared with other work: numbers are noisy when it is loaded",
    ]
    return table


def _passed(r: Result) -> bool | None:
    """Whether a row met its target; ``None`` when it has none or was not measured."""
    if r.status == "connected before the prompt":
        return False
    if r.target is None or r.status != "ok" or r.median_ms is None:
        return None
    return r.median_ms <= r.target
