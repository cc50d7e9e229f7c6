"""``agentcli sessions import`` with hostile input: an endless stream stops at the size limit
(in bounded memory), and a file nested too deeply, a count too large or text no store can hold
is a usage error naming the problem, never an internal error, and stores nothing."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest
from typer.testing import CliRunner

from agentcli.cli.app import app
from agentcli.cli.exits import USAGE
from agentcli.export import MAX_IMPORT_BYTES

from .terminal import terminal_env

_CHUNK = b"0" * (1024 * 1024)
_MIB = 1024 * 1024

# Runs the CLI and, at exit, reports the most memory this program held (VmHWM). Not the
# rusage of the child: that counts the parent's pages the fork copied, so under a large
# pytest process it says what pytest held, not what the import did.
_MEASURED_CLI = """
import atexit, runpy, sys

def report() -> None:
    with open("/proc/self/status") as status:
        peak = next(line for line in status if line.startswith("VmHWM:"))
    sys.stderr.write("\\n" + peak)

atexit.register(report)
sys.argv = ["agentcli", *sys.argv[1:]]
runpy.run_module("agentcli", run_name="__main__")
"""


def _import(data_dir: Path, source: str, stdin: int | IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _MEASURED_CLI, "sessions", "import", source],
        cwd=data_dir.parent,
        env=terminal_env(data_dir),
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str, int]:
    """Exit code, standard error, and the most memory (bytes) the process ever held."""
    assert process.stderr is not None
    with process.stderr:
        stderr = process.stderr.read().decode()  # until it exits: stderr closes with it
    code = process.wait()
    stderr, _, peak = stderr.rpartition("VmHWM:")
    return code, stderr, int(peak.split()[0]) * 1024  # in KiB


def _feed(stream: IO[bytes], most: int, written: list[int]) -> None:
    """Write zeros until the reader stops reading (the pipe breaks) or ``most`` bytes."""
    try:
        while written[0] < most:
            stream.write(_CHUNK)
            written[0] += len(_CHUNK)
    except BrokenPipeError:
        pass  # the reader closed the pipe: what we want to see
    finally:
        with contextlib.suppress(BrokenPipeError):
            stream.close()


def _assert_refused_at_the_limit(code: int, stderr: str, memory: int) -> None:
    assert code == USAGE, stderr
    assert f"larger than {MAX_IMPORT_BYTES // _MIB} MiB" in stderr
    assert "internal error" not in stderr
    # Bounded by the limit: the interpreter, plus the limit's bytes once.
    assert memory < MAX_IMPORT_BYTES + 256 * _MIB, f"{memory / _MIB:.0f} MiB"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_an_endless_stdin_is_refused_at_the_limit(tmp_path: Path) -> None:
    process = _import(tmp_path / "data", "-", subprocess.PIPE)
    assert process.stdin is not None
    written = [0]
    # Four times the limit at most, so a reader that does not stop ends too (and fails here).
    feeder = threading.Thread(target=_feed, args=(process.stdin, 4 * MAX_IMPORT_BYTES, written))
    feeder.start()
    code, stderr, memory = _finish(process)
    feeder.join()
    _assert_refused_at_the_limit(code, stderr, memory)
    # It stopped reading one byte past the limit: what was written beyond sat in the pipe.
    assert written[0] <= MAX_IMPORT_BYTES + 2 * len(_CHUNK)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_dev_zero_is_refused_at_the_limit(tmp_path: Path) -> None:
    process = _import(tmp_path / "data", "/dev/zero", subprocess.DEVNULL)
    _assert_refused_at_the_limit(*_finish(process))


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": "agentcli.session",
        "version": 1,
        "session": {"id": "hostile", "metadata": {}},
        "messages": [{"role": "user", "content": "hi", "seq": 1}],
    }
    document["session"].update(changes.get("session", {}))
    document["messages"][0].update(changes.get("message", {}))
    return document


_DEEP = json.dumps(_document()).replace('"metadata": {}', '"metadata": {"k": ' + "[" * 100_000)
_DEEP += "]" * 100_000 + "}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_DEEP, "nested more than 64 levels deep"),
        (
            json.dumps(_document(session={"metadata": {"k": "x"}})).replace(
                '"x"', "[" * 70 + "]" * 70
            ),
            "nested more than 64 levels deep at session.metadata.k.0.0",
        ),
        (json.dumps(_document(message={"tokens": 10**30})), "messages.0.tokens: the integer"),
        (json.dumps(_document(session={"metadata": {"k": "\ud800"}})), "lone surrogate"),
        (json.dumps(_document(session={"metadata": {"k": float("nan")}})), "not a finite"),
        (json.dumps(_document(message={"metadata": {"\x00": 1}})), "NUL character"),
        ('{"format": "agentcli.session", "version": 1, "n": ' + "9" * 5000 + "}", "range"),
    ],
)
def test_a_hostile_file_is_a_usage_error(workdir: Path, text: str, problem: str) -> None:
    path = workdir / "hostile.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    result = CliRunner().invoke(app, ["sessions", "import", str(path)])
    assert result.exit_code == USAGE, result.output
    assert problem in result.stderr
    assert "internal error" not in result.stderr
    listed = CliRunner().invoke(app, ["sessions", "list", "--json"])
    assert json.loads(listed.stdout) == []  # nothing half-imported
