"""``/copy`` (OSC 52 to the terminal, or a file) and ``/edit`` (the message in $EDITOR)."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agentcli.cli.clipboard import osc52, write_clipboard
from agentcli.cli.copy_command import CopyRequest, parse_copy_args
from agentcli.cli.editor import editor_command
from agentcli.cli.repl import ChatOptions, Repl
from agentcli.config import load_settings

from .inprocess_chat import ChatStarter, printed
from .terminal import Terminal, agent, terminal_env, visible

CODE_AGENT = f"{Path(__file__).parent / 'code_agents.py'}:CodeAgent"
Chat = Callable[..., Awaitable[Repl]]
Spawn = Callable[..., Terminal]


@pytest.fixture
def chat(workdir: Path, chat_starter: ChatStarter) -> Chat:
    """A Repl (no input loop) on an in-memory store; closed after the test."""

    async def start(spec: str = CODE_AGENT) -> Repl:
        options = ChatOptions(spec, ephemeral=True)
        return await chat_starter.start(
            load_settings(env_file=None), options, width=200, emoji=True
        )

    return start


def editor_script(directory: Path, body: str) -> str:
    """An $EDITOR: a Python script running ``body`` with ``path`` the file to edit."""
    script = directory / "editor.py"
    script.write_text(f"import os, sys\npath = sys.argv[1]\n{body}\n")
    return f"{sys.executable} {script}"


def _gone(record: Path) -> bool:
    """Whether the file whose path ``record`` holds no longer exists."""
    return not Path(record.read_text()).exists()


# ---------------------------------------------------------------------- OSC 52


def test_osc52_bytes() -> None:
    assert osc52("hi") == b"\x1b]52;c;aGk=\x07"
    assert osc52("é\n") == b"\x1b]52;c;w6kK\x07"


def test_osc52_inside_tmux_is_wrapped_with_doubled_escapes() -> None:
    assert osc52("hi", tmux=True) == b"\x1bPtmux;\x1b\x1b]52;c;aGk=\x07\x1b\\"


def test_write_clipboard_wraps_only_when_tmux_is_set() -> None:
    plain, wrapped = io.BytesIO(), io.BytesIO()
    write_clipboard("hi", plain, {})
    write_clipboard("hi", wrapped, {"TMUX": "/tmp/tmux-1/default,1,0"})
    assert plain.getvalue() == osc52("hi")
    assert wrapped.getvalue() == osc52("hi", tmux=True)


@pytest.mark.parametrize(
    ("args", "request_"),
    [
        ([], CopyRequest(None, None, False)),
        (["2"], CopyRequest(2, None, False)),
        (["2", "out.py", "--force"], CopyRequest(2, "out.py", True)),
        (["out.py"], CopyRequest(None, "out.py", False)),
    ],
)
def test_copy_arguments(args: list[str], request_: CopyRequest) -> None:
    assert parse_copy_args(args) == request_


@pytest.mark.parametrize(("args", "problem"), [(["0"], "1 or more"), (["1", "a", "b"], "one file")])
def test_bad_copy_arguments(args: list[str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_copy_args(args)


# ---------------------------------------------------------------------- /copy to a file


async def test_copy_writes_the_chosen_block_to_a_private_file(chat: Chat, workdir: Path) -> None:
    repl = await chat()
    await repl.handle("code please")
    printed(repl)
    await repl.handle("/copy 1 first.py")
    await repl.handle("/copy last.sh")
    assert "wrote block 1 (1 line) to first.py" in printed(repl)
    assert (workdir / "first.py").read_text() == "print('one')\n"
    assert (workdir / "last.sh").read_text() == "echo two\nls -l\n"
    assert stat.S_IMODE((workdir / "first.py").stat().st_mode) == 0o600


async def test_copy_without_blocks_takes_the_whole_answer(chat: Chat, workdir: Path) -> None:
    repl = await chat()
    await repl.handle("prose")
    printed(repl)
    await repl.handle("/copy poem.txt")
    assert "wrote the answer (2 lines) to poem.txt" in printed(repl)
    assert (workdir / "poem.txt").read_text() == "roses are red\nviolets are blue"


@pytest.mark.parametrize(
    ("before", "command", "error"),
    [
        ("", "/copy x.txt", "no answer to copy from yet"),
        ("code please", "/copy 3 x.txt", "has 2 code blocks; give N from 1 to 2"),
        ("prose", "/copy 1 x.txt", "the last answer has no code blocks"),
        ("code please", "/copy", "no terminal to copy to: name a file"),  # ephemeral
    ],
)
async def test_copy_refusals(
    chat: Chat, capsys: pytest.CaptureFixture[str], before: str, command: str, error: str
) -> None:
    repl = await chat()
    if before:
        await repl.handle(before)
    capsys.readouterr()
    await repl.handle(command)
    assert error in capsys.readouterr().err


async def test_copy_never_replaces_a_file_or_follows_a_link_unasked(
    chat: Chat, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repl = await chat()
    await repl.handle("code please")
    (workdir / "kept.py").write_text("mine")
    (workdir / "link.py").symlink_to(workdir / "kept.py")
    capsys.readouterr()
    await repl.handle("/copy 1 kept.py")
    assert "kept.py exists: add --force to replace it" in capsys.readouterr().err
    await repl.handle("/copy 1 link.py --force")
    assert "it is a symbolic link" in capsys.readouterr().err
    assert (workdir / "kept.py").read_text() == "mine"
    await repl.handle("/copy 1 kept.py --force")
    assert (workdir / "kept.py").read_text() == "print('one')\n"


def test_piped_chat_copies_to_the_data_directory(workdir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    process = subprocess.run(
        [sys.executable, "-m", "agentcli", "chat", "-a", CODE_AGENT],
        input="code please\n/copy 2\n",
        capture_output=True,
        text=True,
        cwd=workdir,
        env=terminal_env(data),
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    assert f"wrote block 2 (2 lines) to {data / 'clipboard.txt'}" in process.stdout
    assert (data / "clipboard.txt").read_text() == "echo two\nls -l\n"
    assert stat.S_IMODE((data / "clipboard.txt").stat().st_mode) == 0o600


# ---------------------------------------------------------------------- /edit


def test_editor_choice_and_its_words() -> None:
    assert editor_command({"VISUAL": "code --wait", "EDITOR": "nano"}) == ["code", "--wait"]
    assert editor_command({"EDITOR": "nano"}) == ["nano"]
    assert editor_command({}) == ["vi"]


async def test_edit_sends_what_the_editor_saved(
    chat: Chat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen, where = tmp_path / "seen", tmp_path / "where"
    body = (
        f"open({str(seen)!r}, 'w').write(oct(os.stat(path).st_mode & 0o777) + ':' + "
        "open(path).read())\n"
        f"open({str(where)!r}, 'w').write(path)\n"
        "open(path, 'w').write('line one\\n    indented two\\n')"
    )
    monkeypatch.setenv("EDITOR", editor_script(tmp_path, body))
    monkeypatch.delenv("VISUAL", raising=False)
    repl = await chat(agent("RepeatAgent"))
    await repl.handle("/edit draft text")
    assert seen.read_text() == "0o600:draft text"  # private, holding the draft
    messages = await repl.store.read(repl.session_id)
    assert [m.content for m in messages if m.role == "user"] == ["line one\n    indented two"]
    assert _gone(where)  # the temporary file


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("open(path, 'w').write('\\n  \\n')", "the message is empty: nothing sent"),
        ("sys.exit(3)", "the editor exited with status 3: nothing sent"),
    ],
)
async def test_edit_sends_nothing_when_empty_or_failed(
    chat: Chat,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    message: str,
) -> None:
    monkeypatch.setenv("VISUAL", editor_script(tmp_path, body))
    repl = await chat(agent("RepeatAgent"))
    await repl.handle("/edit")
    assert message in printed(repl) + capsys.readouterr().err
    assert await repl.store.read(repl.session_id) == []


async def test_edit_with_a_missing_editor_says_how_to_set_one(
    chat: Chat, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VISUAL", "/nonexistent/editor")
    repl = await chat()
    await repl.handle("/edit")
    err = capsys.readouterr().err
    assert "cannot start the editor /nonexistent/editor" in err
    assert "set VISUAL or EDITOR" in err


async def test_edit_opens_on_the_draft_a_refused_message_left(
    chat: Chat, workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "blob.bin").write_bytes(b"\x00\x01")
    seen = tmp_path / "seen"
    body = f"open({str(seen)!r}, 'w').write(open(path).read())\nopen(path, 'w').write('')"
    monkeypatch.setenv("VISUAL", editor_script(tmp_path, body))
    repl = await chat()
    await repl.handle("look at @blob.bin")
    await repl.handle("/edit")
    assert seen.read_text() == "look at @blob.bin"


# ---------------------------------------------------------------------- in a terminal

pty = pytest.mark.pty


@pty
@pytest.mark.parametrize("tmux", [False, True], ids=["plain", "tmux"])
def test_copy_writes_osc52_to_the_terminal(spawn: Spawn, tmux: bool) -> None:
    env = {"TMUX": "/tmp/tmux-1/default,1,0"} if tmux else {}
    term = spawn("chat", "--agent", CODE_AGENT, **env)
    term.prompt()
    term.line("code please")
    out = term.line("/copy 1")
    assert osc52("print('one')", tmux=tmux) in out  # no final newline: pasting must not run it
    assert "copied block 1 (1 line)" in visible(out)
    out = term.line("/copy")
    assert osc52("echo two\nls -l", tmux=tmux) in out
    assert "copied block 2 (2 lines)" in visible(out)
    assert term.exit() == 0


@pty
def test_edit_in_a_terminal_sends_the_saved_text(spawn: Spawn, tmp_path: Path) -> None:
    editor = editor_script(tmp_path, "open(path, 'w').write('from the editor\\n')")
    term = spawn("chat", "--agent", agent("RepeatAgent"), EDITOR=editor, VISUAL="")
    term.prompt()
    out = visible(term.line("/edit"))
    assert "from the editor" in out
    assert "context " in out  # the turn ran: the gauge follows
    assert term.exit() == 0


@pty
def test_a_refused_message_comes_back_at_the_prompt(spawn: Spawn, workdir: Path) -> None:
    (workdir / "blob.bin").write_bytes(b"\x00\x01")
    term = spawn("chat", "--agent", agent("RepeatAgent"))
    term.prompt()
    out = visible(term.line("look at @blob.bin"))
    assert "cannot attach blob.bin: it is not a text file" in out
    term.expect("look at @blob.bin")  # offered again, to fix
    term.send("\x15")  # Ctrl-U: clear it
    assert term.exit() == 0
