"""The REPL through a real pseudo-terminal: what a person at a keyboard sees, byte for byte."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from .terminal import SGR, Terminal, agent, visible


def flat(raw: bytes) -> str:
    """Visible text with runs of whitespace made one space (rich wraps and reflows)."""
    return " ".join(visible(raw).split())


pytestmark = pytest.mark.pty

Spawn = Callable[..., Terminal]


def _gauge_colour(output: bytes) -> str:
    """The colour the gauge line was drawn in."""
    line = next(
        (line for line in output.split(b"\n") if b"context " in line and b" tokens (" in line), b""
    )
    assert line, f"no gauge in {visible(output)!r}"
    colours = [name for name, code in SGR.items() if code + "█".encode() in line]
    assert len(colours) == 1, line
    return colours[0]


def test_a_turn_streams_and_shows_the_gauge(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", agent("RepeatAgent"))
    banner = visible(term.prompt())
    assert "agent " in banner
    assert "(new)" in banner
    assert "/help for commands" in banner
    out = term.line("hello **there**")
    text = visible(out)
    assert "hello there" in text  # rendered as Markdown: the asterisks became bold
    assert re.search(r"context .*\d+ / 100,000 tokens \(<1%\)", text)
    assert _gauge_colour(out) == "green"
    assert term.exit() == 0


def test_gauge_colour_follows_the_level(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", agent("GaugeAgent"), AGENTCLI_CONTEXT_WINDOW="1000")
    term.prompt()
    green = term.line("fill 300")
    assert _gauge_colour(green) == "green"
    assert "300 / 1,000 tokens (30%)" in visible(green)
    assert "turn 12 tokens" in visible(green)
    assert "$0.0012" in visible(green)
    yellow = term.line("fill 750")
    assert _gauge_colour(yellow) == "yellow"
    assert "(75%)" in visible(yellow)
    red = term.line("fill 960")
    assert _gauge_colour(red) == "red"
    # Cleanup ran but could not get below the target: it says so.
    assert "cleanup warning" in visible(red)
    term.exit()


def test_cleanup_notice_when_messages_are_trimmed(spawn: Spawn) -> None:
    term = spawn(
        "chat",
        "--agent",
        agent("PadAgent"),
        AGENTCLI_CONTEXT_WINDOW="1000",
        AGENTCLI_MIN_MESSAGES_TO_KEEP="2",
    )
    term.prompt()
    outputs = [visible(term.line(f"turn {n}")) for n in range(1, 4)]
    assert not any("cleanup:" in out for out in outputs[:2])
    notice = re.search(
        r"cleanup: trimmed (\d+) messages? from the window, (\d+)% → (\d+)%", outputs[2]
    )
    assert notice, outputs[2]
    trimmed, before, after = map(int, notice.groups())
    assert trimmed >= 1
    assert before >= 90
    assert after <= 60
    history = visible(term.line("/history"))
    assert "the context window starts here" in history
    assert "turn 1" in history  # the transcript keeps what the window dropped
    term.exit()


def test_ctrl_c_cancels_the_answer_and_keeps_it(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", agent("SlowAgent"))
    term.prompt()
    term.send("go\r")
    term.expect(b"tick 3 ")
    term.child.sendintr()
    out = visible(term.prompt())
    assert "interrupted" in out
    history = visible(term.line("/history"))
    assert re.search(r"#2 assistant \[interrupted\]\s+tick 1 tick 2 tick 3", history), history
    # The session is still usable.
    assert "done quickly" in visible(term.line("quick one"))
    assert term.exit() == 0


def test_ctrl_c_at_the_prompt_clears_the_line(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", agent("RepeatAgent"))
    term.prompt()
    term.send("half-typed")
    term.child.sendintr()
    # Ctrl-C draws a new prompt. Wait for it: otherwise each later wait matches the prompt
    # before the one it is for, and the final Ctrl-D can arrive between two prompts, while the
    # terminal is in cooked mode and takes it as its own end-of-file (it never reaches us).
    term.prompt()
    out = visible(term.line("fresh"))
    assert "half-typedfresh" not in out
    history = visible(term.line("/history"))
    assert "half-typed" not in history
    assert "fresh" in history
    term.exit()


def test_resume_after_exit(spawn: Spawn) -> None:
    first = spawn("chat", "--agent", agent("RepeatAgent"))
    first.prompt()
    first.line("remember the kiwi")
    first.child.sendcontrol("d")
    tail = visible(first.expect(pexpect.EOF))
    session = re.search(r"agentcli chat --session (\w+)", tail)
    assert session, tail
    session_id = session.group(1)

    again = spawn("chat", "--continue", "--agent", agent("RepeatAgent"))
    banner = flat(again.prompt())
    assert session_id in banner
    assert "resumed, 2 messages" in banner
    assert "remember the kiwi" in visible(again.line("/history"))
    again.exit()

    by_id = spawn("chat", "--session", session_id[:6], "--agent", agent("RepeatAgent"))
    assert session_id in visible(by_id.prompt())
    by_id.line("second visit")
    assert "#3 user" in visible(by_id.line("/history"))
    by_id.exit()


def test_export_files(spawn: Spawn, workdir: Path) -> None:
    term = spawn("chat", "--agent", agent("ToolAgent"))
    banner = visible(term.prompt())
    session_id = re.search(r"session (\w+)", banner).group(1)  # type: ignore[union-attr]
    out = visible(term.line("weather in Oslo?"))
    assert '→ lookup({"city": "Oslo"})' in out
    assert "← lookup: Oslo: 3 °C, light rain" in out
    assert "exported to" in visible(term.line("/export notes.md"))
    assert "exported to" in visible(term.line("/export --format json"))
    term.exit()
    markdown = (workdir / "notes.md").read_text()
    assert "weather in Oslo?" in markdown
    assert "lookup" in markdown
    document = json.loads((workdir / f"session-{session_id}.json").read_text())
    assert [m["role"] for m in document["messages"]] == ["user", "assistant", "tool", "assistant"]


def test_slash_commands_and_their_errors(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", agent("RepeatAgent"), "--system", "be brief")
    term.prompt()
    term.line("first")
    assert "/context" in visible(term.line("/help"))
    context = visible(term.line("/context"))
    assert "system prompt" in context
    assert "user messages" in context
    assert "be brief" in visible(term.line("/system"))
    assert "unknown command /nope" in visible(term.line("/nope"))
    assert "Usage: /history [N]" in visible(term.line("/history many"))
    assert "no session with id" in visible(term.line("/resume doesnotexist"))
    assert "unknown agent spec" in visible(term.line("/agent nonsense"))
    assert "with usage" in visible(term.line("/cost"))
    assert "nothing to trim" in visible(term.line("/compact"))
    sessions = visible(term.line("/sessions"))
    assert "first" in sessions
    cleared = visible(term.line("/clear"))
    assert "new session" in cleared
    assert "no messages yet" in visible(term.line("/history"))
    assert "Traceback" not in visible(term.raw)
    term.send("/exit\r")
    term.expect(pexpect.EOF)


def test_tab_completion_and_multiline_input(spawn: Spawn) -> None:
    term = spawn("chat", "--agent", agent("RepeatAgent"))
    term.prompt()
    term.send("/hel")
    term.expect(b"show commands and keys")  # the completion menu is open
    term.send("\t")
    term.expect(b"/help")
    assert "new line" in visible(term.line(""))
    term.send("line one\x1b\r")  # Esc, Enter: a new line, not send
    term.send("line two\r")
    term.prompt()
    term.send('"""\r')
    term.send("block one\r")
    term.send('block two"""\r')
    term.prompt()
    history = visible(term.line("/history"))
    assert re.search(r"line one\s*\n\s*line two", history), history
    assert re.search(r"block one\s*\n\s*block two", history), history
    assert '"""' not in history
    term.exit()


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "no-stream"])
def test_hostile_output_never_reaches_the_terminal(spawn: Spawn, stream: bool) -> None:
    args = ["chat", "--agent", agent("HostileAgent")] + ([] if stream else ["--no-stream"])
    term = spawn(*args)
    term.prompt()
    term.line("say something")
    term.exit()
    raw = term.raw
    for bad in (
        b"\x1b]52",
        b"\x1b]8;",
        b"\x1b]0;",
        b"\x1b[2J",
        b"\x1b[H",
        b"\xc2\x9b",
        b"\xc2\x9d",
    ):
        assert bad not in raw, bad
    for bidi in ("\u202e", "\u202c", "\u2066", "\u2069"):
        assert bidi.encode() not in raw
    text = flat(raw)
    assert "click me (https://evil.example/phish)" in text  # the link target stays visible
    assert "[link=https://evil.example/markup]rich markup[/link]" in text  # markup is text
    assert "[bold red]not styled[/]" in text
    assert "<U+202E>evil" in text
    assert "https://evil.example/md" in text  # Markdown links show their target too


def test_hostile_output_in_run_on_a_terminal(spawn: Spawn) -> None:
    term = spawn("run", "--agent", agent("HostileAgent"), "hi")
    term.expect(pexpect.EOF)
    term.child.close()
    assert term.child.exitstatus == 0
    for bad in (b"\x1b]52", b"\x1b]8;", b"\x1b[2J", b"\xc2\x9b"):
        assert bad not in term.raw, bad
    assert "click me (https://evil.example/phish)" in flat(term.raw)


def test_run_interrupted_exits_130(spawn: Spawn) -> None:
    term = spawn("run", "--agent", agent("SlowAgent"), "go")
    term.expect(b"tick 2 ")
    term.child.sendintr()
    term.expect(pexpect.EOF)
    term.child.close()
    assert term.child.exitstatus == 130
    assert "interrupted" in visible(term.raw)
