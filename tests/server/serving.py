"""A real ``agentcli serve`` process for tests: started on a free port (``--port 0``), known
ready by its startup line, its standard error kept for the assertions."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Served", "run_serve", "serve_env", "served", "sse_events"]

TIMEOUT = 60  # generous: a loaded 2-core CI machine must not make these flaky
LISTENING = re.compile(r"^agentcli serve: listening on (http://\S+) ")


def serve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The test's environment without provider or service keys, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("AGENTCLI_API_KEYS")
    }
    env.pop("DEFAULT_MODEL", None)
    env.update(
        AGENTCLI_DATA_DIR=str(data_dir),
        PYDANTIC_DISABLE_PLUGINS="1",  # some dev venvs hold slow pydantic plugins
        PYTHONIOENCODING="utf-8",
    )
    env.update(extra)
    return env


def _command(args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "agentcli", "serve", *args]


def run_serve(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``agentcli serve ARGS`` expected to stop by itself (a refused configuration)."""
    return subprocess.run(
        _command(args),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


class Served:
    """The running process; ``url`` is where it listens, ``stderr`` what it wrote so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.startup_line = self._wait_for_startup()
        found = LISTENING.match(self.startup_line)
        assert found is not None
        self.url = found.group(1)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            self._new.put(line)
        self._new.put(None)

    def _wait_for_startup(self) -> str:
        while True:
            try:
                line = self._new.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no startup line: {self.stderr!r}") from None
            if line is None:
                raise AssertionError(f"the server stopped: {self.stderr!r}")
            if LISTENING.match(line):
                return line.rstrip("\n")

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self) -> int:
        """Its exit code, once it has exited (and its standard error is all read)."""
        code = self.process.wait(timeout=TIMEOUT)
        self._reader.join(timeout=TIMEOUT)
        return code


@contextmanager
def served(cwd: Path, env: dict[str, str], *args: str) -> Iterator[Served]:
    """``agentcli serve --port 0 ARGS`` until the block ends (killed if still running)."""
    process = subprocess.Popen(
        _command(("--port", "0", *args)),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: its workers go with it
    )
    server: Served | None = None
    try:
        server = Served(process)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=TIMEOUT)
        if server is not None:
            server.wait()  # its reader has seen the end of the pipe
        assert process.stderr is not None
        process.stderr.close()


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) of each SSE frame, as the lines come."""
    event, data = "", ""
    for line in lines:
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif not line and event:
            yield event, data
            event, data = "", ""
