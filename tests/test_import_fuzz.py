"""Hostile imports: whatever the document holds, ``import_session`` raises nothing but
``InvalidInputError`` (``SessionExistsError`` included), a failed import changes nothing (the
session it would have replaced is byte for byte the same, and no half-imported session is
left), and a successful one stores exactly the document. On a real SQLite file and in memory,
with ``overwrite`` on and off."""

from __future__ import annotations

import asyncio
import copy
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agentcli.errors import InvalidInputError
from agentcli.export import MAX_IMPORT_DEPTH, SessionExistsError, import_session
from agentcli.messages import Message, messages_adapter
from agentcli.session.window_cache import WINDOW_KEY
from agentcli.stores import MemoryStore, SessionStore, SQLiteStore
from agentcli.stores.base import session_scope

from .stores.conformance import sample_messages

EXISTING = "s"
_DEEP = "__deep__"  # replaced in the JSON text by arrays nested this many levels
_RAW = "__raw__"  # replaced in the JSON text by a token json.dumps would not write

# ---------------------------------------------------------------------- documents

_ids = st.sampled_from([EXISTING, "new", "other ✈"])
_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
_json_scalars: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _text
)
_json_scalars |= st.floats(allow_nan=False, allow_infinity=False)
_json = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def _valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    messages = []
    seq = 0
    for _ in range(draw(st.integers(0, 5))):
        seq += draw(st.integers(1, 3))
        message: dict[str, Any] = {
            "role": draw(st.sampled_from(["system", "user", "assistant", "tool"])),
            "content": draw(_text),
            "tokens": draw(st.integers(0, 10**6)),
            "seq": seq,
            "timestamp": "2026-03-01T12:00:00.123456+05:30",
        }
        if draw(st.booleans()):
            message["metadata"] = draw(st.dictionaries(_text, _json, max_size=3))
        if draw(st.booleans()):
            message["tool_calls"] = [{"id": "c1", "name": "t", "arguments": draw(_text)}]
        if draw(st.booleans()):
            message["usage"] = {"input_tokens": draw(st.integers(0, 10**15)), "model": "m"}
        messages.append(message)
    return {
        "format": "agentcli.session",
        "version": 1,
        "session": {
            "id": draw(_ids),
            "title": draw(_text),
            "window_start": draw(st.integers(1, seq + 2)),
            "metadata": draw(st.dictionaries(_text, _json, max_size=4)),
        },
        "messages": messages,
    }


_HOSTILE_VALUES: st.SearchStrategy[object] = st.sampled_from(
    [
        10**30,
        2**63,
        -(2**63) - 1,
        2**64,
        _RAW + ":" + "9" * 5000,
        "lone \ud800 surrogate",
        "\udfff",
        "nul \x00 inside",
        _DEEP + ":65",
        _DEEP + ":1000",
        _DEEP + ":100000",
        _RAW + ":NaN",
        _RAW + ":-Infinity",
        _RAW + ":1e400",
        None,
        5,
        [],
        {},
        "x" * 300_000,
        True,
    ]
)
_PLACES: list[tuple[str, ...]] = [
    ("session", "id"),
    ("session", "title"),
    ("session", "window_start"),
    ("session", "tokens"),
    ("session", "metadata", "k"),
    ("session", "metadata", "deep", "er"),
    ("messages", "0", "content"),
    ("messages", "0", "tokens"),
    ("messages", "0", "seq"),
    ("messages", "0", "role"),
    ("messages", "0", "metadata", "k"),
    ("messages", "0", "tool_calls", "0", "arguments"),
    ("messages", "0", "usage", "input_tokens"),
    ("messages", "0", "usage", "model"),
    ("messages", "-1", "timestamp"),
    ("messages",),
    ("extra",),
]


def _put(document: dict[str, Any], place: tuple[str, ...], value: object) -> None:
    """Set ``value`` at ``place``, making the containers on the way if they are missing."""
    node: Any = document
    for part in place[:-1]:
        if isinstance(node, list):
            if not node:
                node.append({"role": "user"})
            node = node[int(part)]
        else:
            if not isinstance(node.get(part), dict | list):
                node[part] = [] if part in ("messages", "tool_calls") else {}
            node = node[part]
    if isinstance(node, list):
        if not node:
            node.append(None)
        node[int(place[-1])] = value
    else:
        node[place[-1]] = value


@st.composite
def _corruptions(draw: st.DrawFn) -> Callable[[dict[str, Any]], None]:
    kind = draw(st.sampled_from(["value", "key", "reorder", "token sum"]))
    if kind == "value":
        place, value = draw(st.sampled_from(_PLACES)), draw(_HOSTILE_VALUES)
        # A copy each time: ``[]`` and ``{}`` are single objects shared by every example, and
        # later corruptions write into what they find, so a shared one could end up inside
        # itself (json.dumps: "Circular reference detected") or carry one example into the next.
        return lambda d: _put(d, place, copy.deepcopy(value))
    if kind == "key":
        key = draw(st.sampled_from(["\ud800", "a\x00b", "\udc80x"]))
        return lambda d: _put(d, ("session", "metadata", key), 1)
    if kind == "reorder":
        return lambda d: _messages(d).extend([{"role": "user", "seq": 5}, {"role": "user"}])
    return lambda d: _messages(d).extend(
        {"role": "user", "seq": 10**6 + i, "tokens": 2**62} for i in range(2)
    )


def _messages(document: dict[str, Any]) -> list[Any]:
    if not isinstance(document.get("messages"), list):
        document["messages"] = []
    messages: list[Any] = document["messages"]
    return messages


def _encode(document: dict[str, Any], as_bytes: bool, cut: int | None) -> str | bytes:
    text = json.dumps(document)
    for marker in (_DEEP, _RAW):
        while f'"{marker}:' in text:
            start = text.index(f'"{marker}:')
            end = text.index('"', start + 1)
            spec = text[start + len(marker) + 2 : end]
            raw = "[" * int(spec) + "]" * int(spec) if marker == _DEEP else spec
            text = text[:start] + raw + text[end + 1 :]
    if cut is not None:
        text = text[: cut % (len(text) + 1)]
    return text.encode("utf-8", "surrogatepass") if as_bytes else text


@st.composite
def _imports(draw: st.DrawFn) -> tuple[str | bytes, str | None]:
    document = draw(_valid_documents())
    for corrupt in draw(st.lists(_corruptions(), max_size=2)):
        corrupt(document)
    cut = draw(st.none() | st.integers(0, 10**6)) if draw(st.integers(0, 9)) == 0 else None
    data = _encode(document, draw(st.booleans()), cut)
    return data, draw(st.none() | _ids)


# ---------------------------------------------------------------------- the property


async def _state(store: SessionStore) -> list[tuple[Any, bytes]]:
    """Every session's summary and transcript, byte for byte."""
    return [
        (info, messages_adapter.dump_json(await store.read(info.id)))
        for info in await store.list_sessions()
    ]


async def _check_one(
    store: SessionStore, data: str | bytes, session_id: str | None, overwrite: bool
) -> str:
    await store.append(EXISTING, sample_messages())
    await store.set_state(EXISTING, window_start=3, metadata={"owner": "alice", "x": [1, 2.5]})
    await store.add_spend(session_scope(EXISTING), 0.5)
    before = await _state(store)
    try:
        target = await import_session(store, data, session_id=session_id, overwrite=overwrite)
    except InvalidInputError as exc:  # only this: anything else fails the test
        assert await _state(store) == before  # nothing changed, nothing half-imported
        assert await store.get_spend(session_scope(EXISTING)) == 0.5
        return "exists" if isinstance(exc, SessionExistsError) else "refused"
    assert overwrite or target != EXISTING
    document = json.loads(data)
    after = {info.id: (info, raw) for info, raw in await _state(store)}
    assert set(after) == {EXISTING, target}
    if target != EXISTING:
        assert [after[EXISTING]] == before
    info, raw = after[target]
    stored = messages_adapter.validate_json(raw)
    assert len(stored) == len(document["messages"])
    expected = []
    for seq, (got, sent) in enumerate(zip(stored, document["messages"], strict=True), 1):
        # A message without a timestamp gets the import's time.
        want = Message(**{**sent, "seq": seq, "timestamp": sent.get("timestamp", got.timestamp)})
        assert messages_adapter.dump_json([got]) == messages_adapter.dump_json([want])
        expected.append(want)
    header = document["session"]
    metadata = {k: v for k, v in header.get("metadata", {}).items() if k != WINDOW_KEY}
    assert info.metadata == metadata
    seqs = [m.get("seq", 0) for m in document["messages"]]
    assert info.window_start == 1 + sum(s < header.get("window_start", 1) for s in seqs)
    assert info.message_count == len(expected)
    assert info.tokens == sum(m.tokens for m in expected)
    return "imported"


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
@pytest.mark.parametrize("overwrite", [False, True])
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=_imports())
def test_any_import_fails_safely_or_stores_the_document(
    kind: str, overwrite: bool, case: tuple[str | bytes, str | None]
) -> None:
    data, session_id = case

    async def run(directory: str) -> str:
        store = SQLiteStore(Path(directory) / "s.db") if kind == "sqlite" else MemoryStore()
        try:
            return await _check_one(store, data, session_id, overwrite)
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as directory:
        event(asyncio.run(run(directory)))  # counted by --hypothesis-show-statistics


def test_the_depth_limit_is_generous_for_real_metadata() -> None:
    assert MAX_IMPORT_DEPTH >= 32
