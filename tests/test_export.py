"""Export and import: JSON is lossless (re-import gives an equal session), Markdown is readable
and shows what was trimmed, and export file names never leave their directory."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcli.errors import InvalidInputError, SessionNotFoundError, StoreError
from agentcli.export import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_DEPTH,
    TRIMMED_MARKER,
    ExportFormat,
    export_filename,
    export_session,
    import_session,
    safe_export_path,
)
from agentcli.messages import Message, ToolCall
from agentcli.stores import MemoryStore, SessionStore, SQLiteStore

from .stores.conformance import assert_same_messages, sample_messages

StoreMaker = Callable[[], SessionStore]


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[dict[str, StoreMaker]]:
    """Makers of fresh, empty stores of each kind (SQLite on real files), closed afterwards."""
    made: list[SessionStore] = []

    def keep(store: SessionStore) -> SessionStore:
        made.append(store)
        return store

    yield {
        "memory": lambda: keep(MemoryStore()),
        "sqlite": lambda: keep(SQLiteStore(tmp_path / f"store{len(made)}.db")),
    }
    for store in made:
        await store.close()


def _conversation() -> list[Message]:
    """The conformance sample (every field of Message), then a later exchange."""
    return [
        *sample_messages(),
        Message(role="user", content="And tomorrow?", tokens=4),
        Message(
            role="assistant",
            tool_calls=(ToolCall(id="call_9", name="forecast", arguments="not json"),),
        ),
        Message(role="tool", content="rain ```", tool_call_id="call_9", name="forecast"),
        Message(role="assistant", content="Rain.", tokens=2, metadata={"model": "m-2"}),
    ]


async def _filled(store: SessionStore, session_id: str = "trip ✈") -> SessionStore:
    await store.append(session_id, _conversation())
    await store.set_state(session_id, window_start=4, metadata={"agent": "echo", "n": [1, 2.5]})
    return store


# ---------------------------------------------------------------------- JSON


@pytest.mark.parametrize("source", ["memory", "sqlite"])
@pytest.mark.parametrize("target", ["memory", "sqlite"])
async def test_json_round_trip_gives_an_equal_session(
    stores: dict[str, StoreMaker], source: str, target: str
) -> None:
    original = await _filled(stores[source]())
    exported = await export_session(original, "trip ✈", "json")
    document = json.loads(exported)
    assert (document["format"], document["version"]) == ("agentcli.session", 1)

    copy = stores[target]()
    assert await import_session(copy, exported) == "trip ✈"
    before, after = await original.read("trip ✈"), await copy.read("trip ✈")
    assert_same_messages(after, before, first_seq=None)  # every field, seq included
    old_info, new_info = await original.info("trip ✈"), await copy.info("trip ✈")
    assert old_info is not None
    assert new_info is not None
    for field in ("title", "message_count", "last_seq", "window_start", "tokens", "metadata"):
        assert getattr(new_info, field) == getattr(old_info, field), field
    assert new_info.window_start == 4
    assert new_info.metadata == {"agent": "echo", "n": [1, 2.5]}

    # Exporting the copy gives the same document, but for when things happened.
    again = json.loads(await export_session(copy, "trip ✈", "json"))
    for doc in (document, again):
        del doc["exported_at"], doc["session"]["created_at"], doc["session"]["updated_at"]
    assert again == document


async def test_export_records_the_session_summary(stores: dict[str, StoreMaker]) -> None:
    store = await _filled(stores["sqlite"]())
    document = json.loads(await export_session(store, "trip ✈"))
    info = await store.info("trip ✈")
    assert info is not None
    session = document["session"]
    assert session["id"] == "trip ✈"
    assert session["title"] == info.title
    assert session["window_start"] == 4
    assert session["message_count"] == session["last_seq"] == len(_conversation())
    assert session["tokens"] == sum(m.tokens for m in _conversation())
    assert session["created_at"] == info.created_at.isoformat().replace("+00:00", "Z")
    assert [m["seq"] for m in document["messages"]] == list(range(1, len(_conversation()) + 1))


async def test_an_empty_session_round_trips(stores: dict[str, StoreMaker]) -> None:
    store = stores["memory"]()
    await store.set_state("empty", metadata={"k": "v"})
    copy = stores["sqlite"]()
    await import_session(copy, await export_session(store, "empty"))
    info = await copy.info("empty")
    assert info is not None
    assert (info.message_count, info.metadata) == (0, {"k": "v"})


async def test_import_refuses_to_overwrite_unless_asked(stores: dict[str, StoreMaker]) -> None:
    store = await _filled(stores["sqlite"]())
    exported = await export_session(store, "trip ✈")
    snapshot = await store.read("trip ✈")
    await store.append("trip ✈", [Message(role="user", content="added after the export")])

    with pytest.raises(InvalidInputError, match="already exists"):
        await import_session(store, exported)
    assert len(await store.read("trip ✈")) == len(_conversation()) + 1  # untouched

    assert await import_session(store, exported, session_id="copy") == "copy"
    assert len(await store.read("copy")) == len(_conversation())

    assert await import_session(store, exported, overwrite=True) == "trip ✈"
    assert_same_messages(await store.read("trip ✈"), snapshot)

    with pytest.raises(InvalidInputError, match="may not contain"):
        await import_session(store, exported, session_id="../escape")


async def test_import_renumbers_and_keeps_the_window(stores: dict[str, StoreMaker]) -> None:
    store = stores["memory"]()
    await store.append("s", [Message(role="user", content=str(i)) for i in range(3)])
    document = json.loads(await export_session(store, "s"))
    for message, seq in zip(document["messages"], (10, 20, 30), strict=True):
        message["seq"] = seq  # as if edited by hand, or cut from a longer session
    document["session"]["window_start"] = 20

    copy = stores["sqlite"]()
    await import_session(copy, json.dumps(document).encode())  # bytes are fine too
    assert [(m.seq, m.content) for m in await copy.read("s")] == [(1, "0"), (2, "1"), (3, "2")]
    info = await copy.info("s")
    assert info is not None
    assert info.window_start == 2  # still the message that was "20"


def _valid_document() -> dict[str, Any]:
    return {
        "format": "agentcli.session",
        "version": 1,
        "session": {"id": "s"},
        "messages": [{"role": "user", "content": "hi", "seq": 1}],
    }


def _with(change: Callable[[dict[str, Any]], object]) -> str:
    document = _valid_document()
    change(document)
    return json.dumps(document)


def _nested(depth: int) -> str:
    """A valid export but for session metadata holding lists ``depth`` deep (the document,
    the session and its metadata are three levels more)."""
    text = _with(lambda d: d["session"].update(metadata={"k": "here"}))
    return text.replace('"here"', "[" * depth + "]" * depth)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        ("[]", 'expected "format": "agentcli.session", found \'list\''),
        ('{"messages": []}', "found None"),
        (_with(lambda d: d.update(format="langchain")), "found 'langchain'"),
        (_with(lambda d: d.update(version=2)), "version 2"),
        (_with(lambda d: d.pop("messages")), "messages: Field required"),
        (_with(lambda d: d["session"].pop("id")), "session.id: Field required"),
        (_with(lambda d: d.update(extra=1)), "extra: Extra inputs are not permitted"),
        (_with(lambda d: d["messages"][0].update(role="wizard")), "messages.0.role"),
        (_with(lambda d: d["messages"][0].update(content="a\x00b")), "NUL character"),
        (_with(lambda d: d["messages"][0].update(timestamp="2026-01-01T00:00:00")), "timezone"),
        (_with(lambda d: d["messages"].append({"role": "user", "seq": 1})), "increasing seq"),
        (_with(lambda d: d["session"].update(window_start=0)), "session.window_start"),
        # What no store can hold, refused before anything is stored or replaced.
        (_with(lambda d: d["messages"][0].update(tokens=10**30)), "messages.0.tokens: the integ"),
        (_with(lambda d: d["messages"][0].update(seq=2**63)), "signed 64-bit range"),
        (_with(lambda d: d["session"].update(metadata={"k": "\ud800"})), "lone surrogate"),
        (_with(lambda d: d["session"].update(metadata={"\udc00": 1})), "metadata.'\\udc00'"),
        (_with(lambda d: d["session"].update(metadata={"k": [2**70]})), "metadata.k.0: the"),
        (_with(lambda d: d["session"].update(metadata={"k": math.inf})), "not a finite number"),
        (_with(lambda d: d["messages"][0].update(metadata={"a": "\x00"})), "NUL character"),
        (_with(lambda d: d["messages"][0].update(usage={"model": "\ud800"})), "usage.model"),
        (
            _with(
                lambda d: d["messages"].extend(
                    {"role": "user", "seq": i, "tokens": 2**62} for i in (2, 3)
                )
            ),
            "tokens add up to more than",
        ),
        (_nested(MAX_IMPORT_DEPTH), "nested more than 64 levels deep at session.metadata.k"),
        (_nested(100_000), "nested more than 64 levels deep"),
        (" " * (MAX_IMPORT_BYTES + 1), "larger than 64 MiB"),
    ],
)
async def test_import_rejects_what_is_not_a_valid_export(
    stores: dict[str, StoreMaker], data: str | bytes, message: str
) -> None:
    store = stores["sqlite"]()
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        await import_session(store, data)
    assert await store.list_sessions() == []  # nothing half-imported

    # Nor is a session that it would have replaced deleted first.
    await store.append("s", [Message(role="user", content="kept")])
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        await import_session(store, data, overwrite=True)
    assert [m.content for m in await store.read("s")] == ["kept"]


async def test_import_takes_nesting_up_to_the_limit(stores: dict[str, StoreMaker]) -> None:
    store = stores["sqlite"]()
    await import_session(store, _nested(MAX_IMPORT_DEPTH - 3))
    info = await store.info("s")
    assert info is not None
    assert json.dumps(info.metadata["k"]) == "[" * 61 + "]" * 61


async def test_a_store_failure_mid_import_keeps_the_old_session(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with SQLiteStore(path) as store:
        await _filled(store, "s")
        before = (await store.read("s"), await store.info("s"))
    # The database refuses the second message row, after the old session's rows were deleted.
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.seq = 2 "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    data = _with(lambda d: d["messages"].append({"role": "user", "seq": 2}))
    async with SQLiteStore(path) as store:
        with pytest.raises(StoreError, match="boom"):
            await import_session(store, data, overwrite=True)
        assert_same_messages(await store.read("s"), before[0])
        assert await store.info("s") == before[1]


async def test_export_errors(stores: dict[str, StoreMaker]) -> None:
    store = await _filled(stores["memory"]())
    with pytest.raises(SessionNotFoundError):
        await export_session(store, "nobody")
    with pytest.raises(InvalidInputError, match="unknown export format 'pdf'"):
        await export_session(store, "trip ✈", "pdf")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- Markdown


def _sections(markdown: str) -> list[str]:
    """The document cut at each message heading (index 0 is the header)."""
    return re.split(r"^(?=### #\d+ )", markdown, flags=re.MULTILINE)


async def test_markdown_shows_the_whole_conversation(stores: dict[str, StoreMaker]) -> None:
    store = await _filled(stores["sqlite"]())
    markdown = await export_session(store, "trip ✈", "md")
    header, *messages = _sections(markdown)
    conversation = _conversation()

    assert header.startswith("# Weather in Paris and 東京?")
    assert "\n" not in header.splitlines()[0]  # the multi-line title is one line
    assert "- Session: `trip ✈`" in header
    assert len(messages) == len(conversation)
    roles = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool result"}
    for n, (section, message) in enumerate(zip(messages, conversation, strict=True), 1):
        assert section.startswith(f"### #{n} · {roles[message.role]}")
        if message.content and message.role != "tool":
            assert message.content.strip() in section

    calls = messages[2]
    assert "**Tool call** `weather` (id `call_1`)" in calls
    assert '"city": "東京"' in calls  # arguments pretty-printed, unicode kept
    assert messages[3].startswith("### #4 · Tool result · `weather`")
    assert "answers `call_1`" in messages[3]
    assert '{"temp": 21.5, "sky": "☀"}' in messages[3]
    assert "not json" in messages[9]  # arguments that are not JSON are shown as they are
    assert "````\nrain ```\n````" in messages[10]  # a fence the content cannot close

    assert "⚠ interrupted" in messages[5].splitlines()[0]
    assert "**Interrupted:**" in messages[5]
    assert "✖ failed" in messages[7].splitlines()[0]
    assert "RateLimitError: slow down ✋" in messages[7]


async def test_markdown_marks_the_trimmed_part(stores: dict[str, StoreMaker]) -> None:
    store = await _filled(stores["memory"]())  # window starts at message 4
    markdown = await export_session(store, "trip ✈", "md")
    header, *messages = _sections(markdown)
    assert "starts at message #4; the 2 earlier messages marked *trimmed*" in header
    # The system message stays in the window (it is never trimmed); 2 and 3 were trimmed.
    assert "trimmed" not in messages[0].splitlines()[0]
    assert messages[1].splitlines()[0].endswith("· *trimmed*")
    assert messages[2].splitlines()[0].endswith("· *trimmed*")
    assert all("trimmed" not in m.splitlines()[0] for m in messages[3:])
    # The marker sits between the last trimmed message and the first one in the window.
    assert markdown.count(TRIMMED_MARKER) == 1
    assert TRIMMED_MARKER in messages[2]
    assert messages[2].index("**Tool call**") < messages[2].index(TRIMMED_MARKER)

    untrimmed = stores["memory"]()
    await untrimmed.append("s", _conversation())
    assert TRIMMED_MARKER not in await export_session(untrimmed, "s", "md")


async def test_markdown_closes_a_code_block_left_open(stores: dict[str, StoreMaker]) -> None:
    store = stores["memory"]()
    await store.append(
        "s",
        [
            Message(role="user", content="Show me code"),
            Message(role="assistant", content="Here:\n```python\nprint(1)", status="interrupted"),
            Message(role="user", content="~~~~\nstill ~~~ open"),
            Message(role="user", content="``` not a fence ``` and `inline`"),
        ],
    )
    await store.set_state("s", window_start=4)
    markdown = await export_session(store, "s", "md")
    fences = re.findall(r"^ {0,3}(?:`{3,}|~{3,})[ \t]*$", markdown, flags=re.MULTILINE)
    assert fences == ["```", "~~~~", "~~~~"]  # each block left open is closed after its message
    assert markdown.index("print(1)\n```\n") < markdown.index("### #3")
    assert TRIMMED_MARKER in markdown


async def test_markdown_title_falls_back_to_the_id(stores: dict[str, StoreMaker]) -> None:
    store = stores["memory"]()
    await store.append("id`with`ticks", [Message(role="system", content="Be kind.")])
    markdown = await export_session(store, "id`with`ticks", "md")
    assert markdown.startswith("# Session id`with`ticks\n")
    assert "- Session: ``id`with`ticks``" in markdown


# ---------------------------------------------------------------------- file names

_HOSTILE_IDS = [
    "../../etc/passwd",
    "a/b",
    "a_b",
    "a\\b",
    "..",
    ".",
    "...",
    "/etc/passwd",
    "C:\\Windows\\system32",
    "~/x",
    ".hidden",
    "-rf",
    "CON",
    "nul.txt",
    "a\x00b",
    "line\nbreak",
    " spaced ",
    "日本語のチャット",
    "e\u0301",
    "\u00e9",
    "🧑‍💻",
    "x" * 5000,
    "x" * 5000 + "y",
    "",
]


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_export_paths_never_leave_the_directory(tmp_path: Path, fmt: ExportFormat) -> None:
    names = set()
    for session_id in _HOSTILE_IDS:
        name = export_filename(session_id, fmt)
        assert re.fullmatch(r"session-[A-Za-z0-9._-]+\.(json|md)", name), name
        assert name.endswith(f".{fmt}")
        assert len(name.encode()) <= 100
        path = safe_export_path(tmp_path / "out", session_id, fmt)
        assert path.parent == (tmp_path / "out").resolve()
        assert path.name == name
        names.add(name)
    assert len(names) == len(_HOSTILE_IDS)  # distinct ids never share a file


def test_plain_ids_keep_a_readable_name() -> None:
    assert export_filename("chat-2026.03_01", "json") == "session-chat-2026.03_01.json"
    assert export_filename("trip ✈", "md").startswith("session-trip-")


@given(session_id=st.text(max_size=300), fmt=st.sampled_from(["json", "md"]))
def test_any_id_gives_a_name_inside_the_directory(session_id: str, fmt: ExportFormat) -> None:
    base = Path("/srv/exports")
    path = safe_export_path(base, session_id, fmt)
    assert path.parent == base.resolve()
    assert path.name not in {"", ".", ".."}
    assert not path.name.startswith(".")
    assert os.sep not in path.name
    assert "\x00" not in path.name


def test_a_link_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / export_filename("x", "json")).symlink_to(outside)
    with pytest.raises(InvalidInputError, match="leads out of"):
        safe_export_path(exports, "x", "json")


def test_unknown_format_for_a_file_name() -> None:
    with pytest.raises(InvalidInputError, match="unknown export format"):
        export_filename("x", "txt")  # type: ignore[arg-type]
