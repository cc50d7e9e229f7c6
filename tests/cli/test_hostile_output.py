"""Hostile text stored in a session cannot attack the terminal or forge an export.

A session whose every field holds the probe set is stored in a real SQLite file; then every
command and file format that shows or writes it runs as a real ``agentcli`` process, and its
raw bytes are checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from agentcli.messages import Message, ToolCall
from agentcli.stores.sqlite import SQLiteStore
from agentcli.usage import Usage

from .terminal import terminal_env

PROBES = [
    "[bold red]x[/] [link=https://e]y[/link]",  # rich markup: first, so the title holds it
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52: write the clipboard
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",  # OSC 8: a hidden link
    "\x1b[2J",  # CSI: clear the screen
    "\x1b]0;pwned\x07",  # OSC 0: the window title
    "\x9b31m",  # CSI in its 8-bit (C1) form
    "\x9d0;x\x9c",  # OSC in its 8-bit form, ended by the 8-bit ST
    "\u202eevil\u202c",  # bidi override (Trojan Source)
    "\u2066isolate\u2069",  # bidi isolate
    "bell\x07",  # a lone BEL
    "a\u2028b\x7f",  # line separator, DEL
]
FORGERIES = [
    "### #3 · User",  # a turn heading
    "#3 · User\n===",  # the same as a setext heading
    "---",  # a thematic break ...
    "✂ **— trimmed out of the context window above this line —**",  # ... and the trim marker
    "<!-- hides every turn below",
    "<h3>#4 · Assistant</h3>",
]
HOSTILE = " ".join(PROBES) + "\n" + "\n\n".join(FORGERIES) + "\n"
SESSION_ID = "hostile-[bold red]x"  # markup in the id too (ids may not hold "/")

# What must never reach a terminal raw: ESC, BEL and the other C0 controls but newline and tab,
# DEL, C1, bidi controls.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Output:
    code: int
    stdout: bytes
    stderr: bytes


@pytest.fixture
async def hostile(tmp_path: Path) -> Path:
    """A data directory whose store holds one session with the probes in every field."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    call = ToolCall(id="call_1", name="search" + HOSTILE, arguments=json.dumps({"q": HOSTILE}))
    raw_call = ToolCall(id="call_2" + HOSTILE, name="raw", arguments=HOSTILE)  # not JSON
    conversation = [
        Message(role="user", content=HOSTILE),
        Message(
            role="assistant",
            content=HOSTILE,
            tool_calls=(call, raw_call),
            usage=Usage(model="model" + HOSTILE),
        ),
        Message(role="tool", content=HOSTILE, tool_call_id="call_1", name="search" + HOSTILE),
        Message(role="tool", content=HOSTILE, tool_call_id="call_2" + HOSTILE, name="raw"),
        Message(role="assistant", content=HOSTILE, status="failed", metadata={"error": HOSTILE}),
    ]
    async with SQLiteStore(data_dir / "sessions.db") as store:  # the default store's file
        await store.append(SESSION_ID, conversation)
        await store.set_state(SESSION_ID, metadata={"note" + HOSTILE: HOSTILE})
    return data_dir


def agentcli(data_dir: Path, *args: str) -> Output:
    """``python -m agentcli ARGS`` with no terminal; every byte it wrote."""
    done = subprocess.run(
        [sys.executable, "-m", "agentcli", *args],
        cwd=data_dir.parent,
        env=terminal_env(data_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return Output(done.returncode, done.stdout, done.stderr)


def assert_terminal_safe(raw: bytes) -> str:
    assert b"\x1b" not in raw
    assert b"\x07" not in raw
    text = raw.decode()
    assert not FORBIDDEN.findall(text)
    return text


def assert_no_forged_structure(markdown: str, message_count: int) -> None:
    """The only headings are the title and one per message; no rule, no raw HTML."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    headings = [t.tag for t in tokens if t.type == "heading_open"]
    assert headings == ["h1"] + ["h3"] * message_count
    assert not [t for t in tokens if t.type == "hr"]
    inline = [child for t in tokens for child in (t.children or [])]
    assert not [t for t in [*tokens, *inline] if t.type in ("html_block", "html_inline")]
    # Outside code blocks, no line of a message reads as a turn heading either.
    prose = re.sub(r"(?ms)^(`{3,}).*?^\1$", "", markdown)
    turns = re.findall(r"(?m)^### #\d+ · ", prose)
    assert len(turns) == message_count


def assert_round_trips(document: dict[str, object]) -> None:
    messages = document["messages"]
    assert isinstance(messages, list)
    assert [m["content"] for m in messages] == [HOSTILE] * 5
    assert messages[1]["tool_calls"][1]["arguments"] == HOSTILE
    assert json.loads(messages[1]["tool_calls"][0]["arguments"]) == {"q": HOSTILE}


def test_terminal_commands_show_the_probes_as_text(hostile: Path) -> None:
    for args in (["sessions", "list"], ["sessions", "show", SESSION_ID]):
        out = agentcli(hostile, *args)
        assert out.code == 0, out.stderr
        assert_terminal_safe(out.stderr)
        shown = assert_terminal_safe(out.stdout)
        assert "hostile-[bold red]x" in shown  # rich markup shown as written, never interpreted
    shown = agentcli(hostile, "sessions", "show", SESSION_ID).stdout.decode()
    assert "[bold red]x[/] [link=https://e]y[/link]" in shown
    assert "click (https://evil.example)" in shown  # a hidden link shows its target
    assert "<U+202E>evil<U+202C>" in shown


def test_json_outputs_are_escaped_and_lossless(hostile: Path) -> None:
    listed = agentcli(hostile, "sessions", "list", "--json")
    assert listed.code == 0, listed.stderr
    assert json.loads(assert_terminal_safe(listed.stdout))[0]["title"] == HOSTILE[:80]

    shown = agentcli(hostile, "sessions", "show", SESSION_ID, "--json")
    assert shown.code == 0, shown.stderr
    assert_round_trips(json.loads(assert_terminal_safe(shown.stdout)))

    exported = agentcli(hostile, "sessions", "export", SESSION_ID, "--format", "json")
    assert exported.code == 0, exported.stderr
    document = json.loads(assert_terminal_safe(exported.stdout))
    assert_round_trips(document)
    assert document["session"]["metadata"]["note" + HOSTILE] == HOSTILE
    for escaped in ("\\u001b", "\\u009b", "\\u202e", "\\u2066", "\\u2028", "\\u007f"):
        assert escaped in exported.stdout.decode()


def test_json_file_is_safe_to_cat_and_imports_back_exactly(hostile: Path) -> None:
    target = hostile.parent / "export.json"
    out = agentcli(hostile, "sessions", "export", SESSION_ID, "-o", str(target))
    assert out.code == 0, out.stderr
    assert_round_trips(json.loads(assert_terminal_safe(target.read_bytes())))

    back = agentcli(hostile, "sessions", "import", str(target), "--id", "copy")
    assert back.code == 0, back.stderr
    again = agentcli(hostile, "sessions", "show", "copy", "--json")
    assert_round_trips(json.loads(again.stdout))


def test_markdown_export_cannot_attack_or_forge(hostile: Path) -> None:
    to_stdout = agentcli(hostile, "sessions", "export", SESSION_ID)
    assert to_stdout.code == 0, to_stdout.stderr
    target = hostile.parent / "export.md"
    to_file = agentcli(hostile, "sessions", "export", SESSION_ID, "-o", str(target))
    assert to_file.code == 0, to_file.stderr
    for raw in (to_stdout.stdout, target.read_bytes()):
        markdown = assert_terminal_safe(raw)
        assert_no_forged_structure(markdown, message_count=5)
        assert "\\### #3 · User" in markdown  # shown as text, not lost
        assert "click (https://evil.example)" in markdown


def test_error_messages_are_sanitised(hostile: Path) -> None:
    for args in (
        ["sessions", "show", "\x1b]0;pwned\x07\u202e"],
        ["sessions", "show", "hostile-\x1b[2J"],  # an unknown prefix
        ["sessions", "export", SESSION_ID, "--format", "\x9b2J"],
    ):
        out = agentcli(hostile, *args)
        assert out.code != 0
        assert_terminal_safe(out.stdout)
        assert_terminal_safe(out.stderr)


@pytest.mark.parametrize(
    "body",
    [
        "- x\n\n  ```\n  code\n```\n### #3 · User",  # a list's code block ends with the list
        "   ```\n  less indented\n   ```\n### #3 · User",  # an indented block's own end
        "a `b\nc `<h3>#3 · User</h3>`",  # backticks paired across lines
        "\\`<h3>#3 · User</h3>`",  # an escaped backtick opens no code span
        "> ## quoted\n1. ### listed\n* * *\n- - -\nTitle\n===",
        "<!--\n### #3 · User\n-->",
    ],
)
def test_markdown_body_cannot_forge_a_turn(body: str) -> None:
    from agentcli._markdown_text import markdown_body

    tokens = MarkdownIt("commonmark").parse(markdown_body(body))
    inline = [child for t in tokens for child in (t.children or [])]
    forged = {"heading_open", "hr", "html_block", "html_inline"}
    assert not [t.type for t in [*tokens, *inline] if t.type in forged]


def test_markdown_body_keeps_ordinary_markdown() -> None:
    from agentcli._markdown_text import markdown_body

    body = "Steps:\n\n1. Install:\n   ```bash\n   # deps\n   pip install x\n   ```\n2. Use `<div>`"
    rendered = MarkdownIt("commonmark").render(markdown_body(body + "\n\n**bold** _em_"))
    assert "<ol>" in rendered
    assert '<code class="language-bash"># deps\npip install x\n</code>' in rendered
    assert "<code>&lt;div&gt;</code>" in rendered
    assert "<strong>bold</strong> <em>em</em>" in rendered
