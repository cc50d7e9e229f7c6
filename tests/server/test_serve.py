"""``agentcli serve`` as a user runs it: safe defaults, one startup line, clear refusals (exit 4
for configuration), several agents at once, and several stateless workers on one store."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

import httpx2 as httpx
import pytest

from agentcli.cli.cmd_serve import startup_line
from agentcli.cli.exits import CONFIG_ERROR, USAGE
from agentcli.messages import Message
from agentcli.stores import SQLiteStore

from .serve_agents import TOOL_ANSWER, spec
from .serving import TIMEOUT, run_serve, serve_env, served

KEY_A = "test-key-aaaaaaaaaaaaaaaaaaaaaaaa"
KEY_B = "test-key-bbbbbbbbbbbbbbbbbbbbbbbb"


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_another_address_without_keys_is_refused(tmp_path: Path) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - that it is refused is the test
    result = run_serve(tmp_path, serve_env(tmp_path / "data"), "--host", everywhere)
    assert result.returncode == CONFIG_ERROR
    line = _one_line(result.stderr)
    assert "refusing to listen on 0.0.0.0 without API keys" in line
    assert "AGENTCLI_API_KEYS" in line
    assert "--no-auth" in line
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (["--ephemeral", "--workers", "2"], {}, CONFIG_ERROR, "would not share them"),
        (["--store", "memory://", "-w", "3"], {}, CONFIG_ERROR, "3 workers would not share"),
        (["--ephemeral", "--store", "memory://"], {}, USAGE, "either --ephemeral or --store"),
        (["--store", "nosuch://x"], {}, CONFIG_ERROR, "unknown store URL"),
        (["--agent", "nope"], {}, CONFIG_ERROR, "unknown agent spec 'nope'"),
        (["--agent", "missing.py:Agent"], {}, CONFIG_ERROR, "missing.py"),
        (["--no-auth"], {"AGENTCLI_API_KEYS": KEY_A}, CONFIG_ERROR, "drop one or the other"),
        ([], {"AGENTCLI_API_KEYS": "short"}, CONFIG_ERROR, "at least 16 characters"),
        ([], {"AGENTCLI_SHUTDOWN_GRACE": "-1"}, CONFIG_ERROR, "AGENTCLI_SHUTDOWN_GRACE"),
    ],
)
def test_configuration_problems_exit_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], code: int, says: str
) -> None:
    result = run_serve(tmp_path, serve_env(tmp_path / "data", **env), "--port", "0", *args)
    assert result.returncode == code, result.stderr
    assert says in _one_line(result.stderr)


def test_the_refusal_comes_before_the_store_is_checked(tmp_path: Path) -> None:
    """An exposed server without keys is refused even where the store cannot be written (the
    container image runs it on a read-only /data): the refusal, not a store error."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    everywhere = "0.0.0.0"  # noqa: S104 - that it is refused is the test
    result = run_serve(tmp_path, serve_env(blocker / "data"), "--host", everywhere)
    assert result.returncode == CONFIG_ERROR
    assert "refusing to listen on 0.0.0.0 without API keys" in _one_line(result.stderr)


def test_a_port_in_use_exits_4(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_serve(tmp_path, serve_env(tmp_path / "data"), "--port", port)
    assert result.returncode == CONFIG_ERROR
    assert f"cannot listen on 127.0.0.1:{port}" in _one_line(result.stderr)


def test_startup_line_never_holds_keys() -> None:
    line = startup_line(
        "http://127.0.0.1:8000", ["echo"], workers=1, keys=2, no_auth=False, store="memory://"
    )
    assert line == (
        "agentcli serve: listening on http://127.0.0.1:8000 (1 worker); models: echo; "
        "store: memory://; API keys required (2 configured)"
    )


def test_several_agents_behind_keys(tmp_path: Path) -> None:
    tools = spec("ToolStreamer")
    env = serve_env(tmp_path / "data", AGENTCLI_API_KEYS=f"{KEY_A},{KEY_B}")
    with served(tmp_path, env, "--agent", "echo", "--agent", tools, "--ephemeral") as server:
        line = server.startup_line
        assert f"models: echo, {tools};" in line
        assert "store: memory://" in line
        assert line.endswith("API keys required (2 configured)")
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
            assert client.post("/chat", json={"message": "hi"}).status_code == 401
            auth = {"Authorization": f"Bearer {KEY_B}"}
            echoed = client.post("/chat", json={"message": "hi"}, headers=auth)
            assert echoed.status_code == 200, echoed.text
            assert echoed.json()["model"] == "echo"  # the first served agent is the default
            answered = client.post("/chat", json={"message": "hi", "model": tools}, headers=auth)
            assert answered.json()["output"] == TOOL_ANSWER
        server.send(signal.SIGTERM)
        assert server.wait() == 0
    assert KEY_A not in server.stderr
    assert KEY_B not in server.stderr


def test_no_auth_allows_another_address(tmp_path: Path) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - what --no-auth allows is the test
    env = serve_env(tmp_path / "data")
    with served(tmp_path, env, "--host", everywhere, "--no-auth") as server:
        assert "listening on http://0.0.0.0:" in server.startup_line
        assert "no API key required (--no-auth" in server.startup_line
        port = server.url.rsplit(":", 1)[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
            assert client.post("/chat", json={"message": "hi"}).status_code == 200
        server.send(signal.SIGTERM)
        assert server.wait() == 0


def _workers(pid: int) -> list[int]:
    """The worker processes among ``pid``'s children (multiprocessing also starts a
    resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = []
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            found.append(int(child))
    return found


def test_workers_share_sessions_through_the_store(tmp_path: Path) -> None:
    with served(tmp_path, serve_env(tmp_path / "data"), "--workers", "2") as server:
        assert "(2 workers)" in server.startup_line
        assert "store: sqlite:///" in server.startup_line
        workers = _workers(server.process.pid)
        assert len(workers) == 2
        session_id = None
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
            for turn in range(1, 7):
                # A new connection each time, so the kernel may hand it to either worker.
                body = {"message": f"turn {turn}", "session_id": session_id}
                answer = client.post("/chat", json=body, headers={"Connection": "close"})
                assert answer.status_code == 200, answer.text
                session_id = answer.json()["session_id"]
        server.send(signal.SIGTERM)
        assert server.wait() == 0, server.stderr
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert session_id is not None
    stored = asyncio.run(_read(tmp_path / "data" / "sessions.db", session_id))
    # Whichever worker ran each turn, every turn saw and extended the same one session.
    asked = [m.content for m in stored if m.role == "user"]
    assert asked == [f"turn {n}" for n in range(1, 7)]
    assert [m.role for m in stored] == ["user", "assistant"] * 6


async def _read(path: Path, session_id: str) -> list[Message]:
    async with SQLiteStore(path) as store:
        return await store.read(session_id)
