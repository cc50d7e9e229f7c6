"""Attached files: ``-f FILE`` on ``run`` and ``chat``, ``@path`` in a chat message."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentcli.cli.app import app
from agentcli.cli.attachments import (
    MAX_FILE_BYTES,
    Attachment,
    compose,
    find_mentions,
    read_attachment,
)
from agentcli.cli.exits import USAGE
from agentcli.cli.repl import ChatOptions, Repl
from agentcli.config import load_settings
from agentcli.errors import InvalidInputError
from agentcli.tokens import count_tokens

from .inprocess_chat import ChatStarter
from .terminal import agent

runner = CliRunner()
APP = "def main():\n    return 1\n"
Chat = Callable[..., Awaitable[Repl]]


@pytest.fixture
def files(workdir: Path) -> Path:
    """A text file, a binary one and a directory in the working directory."""
    (workdir / "app.py").write_text(APP)
    (workdir / "blob.bin").write_bytes(b"\x89PNG\r\n\x00\x00")
    (workdir / "src").mkdir()
    return workdir


@pytest.fixture
def chat(workdir: Path, chat_starter: ChatStarter) -> Chat:
    """A Repl (no input loop) on an in-memory store; closed after the test."""

    async def start(attached: list[Attachment] | None = None, max_chars: int = 100_000) -> Repl:
        settings = load_settings(env_file=None, max_input_chars=max_chars)
        options = ChatOptions(agent("RepeatAgent"), files=attached or [])
        return await chat_starter.start(settings, options, emoji=True, keep_banner=True)

    return start


async def _user_messages(repl: Repl) -> list[str]:
    return [m.content for m in await repl.store.read(repl.session_id) if m.role == "user"]


# ---------------------------------------------------------------------- reading a file


def test_a_text_file_is_read_whole(files: Path) -> None:
    assert read_attachment("app.py") == Attachment("app.py", APP)


def test_a_byte_order_mark_is_dropped(workdir: Path) -> None:
    (workdir / "bom.txt").write_bytes(b"\xef\xbb\xbfhello")
    assert read_attachment("bom.txt").text == "hello"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("nul.txt", b"text\x00more", "it is not a text file"),
        ("latin1.txt", "café".encode("latin-1"), "it is not a text file"),
        (
            "big.txt",
            b"a" * (MAX_FILE_BYTES + 1),
            "it is larger than 100 KB, the limit for one file",
        ),
    ],
)
def test_binary_and_oversized_files_are_refused(
    workdir: Path, name: str, data: bytes, reason: str
) -> None:
    (workdir / name).write_bytes(data)
    with pytest.raises(InvalidInputError, match=f"cannot attach {name}: {reason}"):
        read_attachment(name)


def test_a_file_at_the_limit_is_taken(workdir: Path) -> None:
    (workdir / "full.txt").write_bytes(b"a" * MAX_FILE_BYTES)
    assert len(read_attachment("full.txt").text) == MAX_FILE_BYTES


def test_what_is_not_a_regular_file_is_refused_without_waiting(files: Path) -> None:
    os.mkfifo(files / "pipe")  # opening it for reading would block without O_NONBLOCK
    for name in ("src", "pipe"):
        with pytest.raises(InvalidInputError, match="it is not a regular file"):
            read_attachment(name)
    with pytest.raises(InvalidInputError, match=r"cannot attach missing\.txt: No such file"):
        read_attachment("missing.txt")


# ---------------------------------------------------------------------- @path and blocks


def test_mentions_of_existing_files_attach_them(files: Path) -> None:
    text, names = find_mentions("explain @app.py, then @app.py again")
    assert text == "explain app.py, then app.py again"
    assert names == ["app.py"]


@pytest.mark.parametrize(
    "text",
    ["mail me@app.py", "@missing.py", "@src", "look at @@app.py", "just @ alone"],
)
def test_other_at_signs_attach_nothing(files: Path, text: str) -> None:
    shown, names = find_mentions(text)
    assert names == []
    assert shown == text.replace("@@", "@")


def test_a_block_fence_outgrows_the_backticks_inside() -> None:
    block = Attachment("notes.md", "```py\nx\n```").block()
    assert block == "````notes.md\n```py\nx\n```\n````"
    assert Attachment("a`b", "text\n").block() == "~~~a`b\ntext\n~~~"


def test_a_message_over_the_limit_with_its_files_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"with its attachments is .* over the limit of 50"):
        compose("explain", [Attachment("a.txt", "x" * 50)], 50)


# ---------------------------------------------------------------------- run -f


def test_run_attaches_files_after_the_prompt(files: Path) -> None:
    (files / "b.txt").write_text("second")
    args = ["run", "-a", agent("RepeatAgent"), "-f", "app.py", "--file", "b.txt", "explain"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"explain\n\n```app.py\n{APP}```\n\n```b.txt\nsecond\n```\n"


def test_run_refuses_a_binary_file_with_exit_2(files: Path) -> None:
    result = runner.invoke(app, ["run", "-f", "blob.bin", "explain"])
    assert result.exit_code == USAGE
    assert "cannot attach blob.bin: it is not a text file" in result.stderr
    assert result.stdout == ""


def test_run_refuses_files_over_the_input_limit(files: Path) -> None:
    result = runner.invoke(
        app, ["run", "-f", "app.py", "explain"], env={"AGENTCLI_MAX_INPUT_CHARS": "20"}
    )
    assert result.exit_code == USAGE
    assert "with its attachments is" in result.stderr


# ---------------------------------------------------------------------- in the chat


async def test_chat_mention_sends_the_file_and_counts_it(
    chat: Chat, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repl = await chat()
    await repl.handle("explain @app.py")
    sent = f"explain app.py\n\n```app.py\n{APP}```"
    assert await _user_messages(repl) == [sent]
    block_tokens = count_tokens(f"```app.py\n{APP}```")
    assert f"attached app.py ({block_tokens:,} tokens)" in capsys.readouterr().err
    usage = await (await repl.manager()).usage(repl.session_id)
    assert usage.tokens > 2 * block_tokens  # the question and the echoed answer hold it


async def test_chat_refusal_sends_nothing_and_keeps_the_draft(
    chat: Chat, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repl = await chat()
    await repl.handle("look at @blob.bin")
    assert await _user_messages(repl) == []
    assert "cannot attach blob.bin: it is not a text file" in capsys.readouterr().err
    assert repl.draft == "look at @blob.bin"


async def test_chat_files_go_with_the_first_message_only(chat: Chat, files: Path) -> None:
    repl = await chat(attached=[read_attachment("app.py")])
    await repl.handle("first")
    await repl.handle("second")
    assert await _user_messages(repl) == [f"first\n\n```app.py\n{APP}```", "second"]


def test_chat_refuses_a_bad_file_before_starting(files: Path) -> None:
    result = runner.invoke(app, ["chat", "-f", "blob.bin"], input="")
    assert result.exit_code == USAGE
    assert "cannot attach blob.bin" in result.stderr
    assert "agentcli" not in result.stdout  # no banner
