"""Pinning through the session manager, on real SQLite files: pins survive cleanups, a cold load
(a new manager on the same file) sees the same window as the cache, refusals say why, the first
message can be pinned automatically, and exports keep the pins."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from pydantic import JsonValue

from agentcli import SessionManager
from agentcli.agent import AgentInterface
from agentcli.errors import InvalidInputError
from agentcli.export import export_session, import_session
from agentcli.messages import AgentContext, AgentResponse, Message, ToolCall
from agentcli.session.window_cache import PINNED_KEY
from agentcli.stores.sqlite import SQLiteStore

from .agents_for_tests import FailingAgent, RecordingAgent, ToolAgent


def _manager(
    path: Path, agent: AgentInterface | None = None, *, pin_first_message: bool = False
) -> SessionManager:
    return SessionManager(
        agent or RecordingAgent(),
        store=SQLiteStore.from_url(f"sqlite:///{path}"),
        context_window_size=600,
        token_counter=len,
        pin_first_message=pin_first_message,
    )


async def _chat(manager: SessionManager, turns: int, start: int = 0) -> None:
    for i in range(start, start + turns):
        await manager.chat("s", f"question {i} " + "x" * 30)


def _whole_exchanges(window: list[Message]) -> None:
    """The window a model gets: after system messages, whole exchanges, each from a question."""
    body = [m for m in window if m.role != "system"]
    assert body[0].role == "user"
    called = {c.id for m in body for c in m.tool_calls}
    assert called == {m.tool_call_id for m in body if m.role == "tool"}


async def test_a_pinned_exchange_survives_every_cleanup_and_a_cold_load(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "s.db")
    await _chat(manager, 2)
    assert await manager.pin("s", 3) == (3,)  # the second question
    await _chat(manager, 20, start=2)
    usage = await manager.usage("s")
    assert usage.trimmed > 0
    window = await manager.window("s")
    assert [m.content for m in window[:2]] == ["question 1 " + "x" * 30, "reply 2"]
    _whole_exchanges(window)
    snapshot = await manager.snapshot("s")
    assert snapshot.pins == (3,)
    assert snapshot.pinned == {3, 4}

    cold = _manager(tmp_path / "s.db")  # another process: nothing cached
    assert await cold.window("s") == window
    assert (await cold.snapshot("s")).pinned == {3, 4}
    assert (await cold.usage("s")).trimmed == usage.trimmed
    await manager.close()
    await cold.close()


async def test_pinning_a_tool_result_keeps_its_whole_exchange(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "s.db", ToolAgent())
    await manager.chat("s", "add them")  # 1 user, 2 tool call, 3 tool result, 4 answer
    assert await manager.pin("s", 3) == (3,)
    for i in range(12):
        await manager.chat("s", f"again {i} " + "y" * 30)
    window = await manager.window("s")
    assert [m.seq for m in window[:4]] == [1, 2, 3, 4]
    assert (await manager.usage("s")).trimmed > 0
    _whole_exchanges(window)
    # Unpinning any message of the exchange unpins it; the next cleanup may drop it.
    assert await manager.unpin("s", 4) == ()
    await manager.compact("s")
    assert 1 not in [m.seq for m in await manager.window("s")]
    await manager.close()


async def test_refusals_say_why(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "s.db")
    await _chat(manager, 12)
    info = await manager.store.info("s")
    assert info is not None
    assert info.window_start > 3
    with pytest.raises(InvalidInputError, match="no longer in the context window"):
        await manager.pin("s", 1)
    with pytest.raises(InvalidInputError, match="there is no message #999"):
        await manager.pin("s", 999)
    with pytest.raises(InvalidInputError, match="is not pinned"):
        await manager.unpin("s", info.window_start)
    await manager.store.append("s", [Message(role="system", content="note", tokens=4)])
    last = (await manager.snapshot("s")).last_seq
    with pytest.raises(InvalidInputError, match="system message"):
        await manager.pin("s", last)
    await manager.close()


async def test_a_failed_turns_entry_cannot_be_pinned(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "s.db", FailingAgent())
    with pytest.raises(Exception, match="fell over"):
        await manager.chat("s", "hello")
    with pytest.raises(InvalidInputError, match="failed turn"):
        await manager.pin("s", 2)
    assert await manager.pin("s", 1) == (1,)  # the question itself is in the window
    await manager.close()


async def test_pinning_more_than_the_window_can_hold_is_refused(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "s.db")
    for i in range(2):
        await manager.chat("s", f"big {i} " + "z" * 200)  # 213 tokens an exchange: 35 % of 600
    assert await manager.pin("s", 1) == (1,)
    with pytest.raises(InvalidInputError) as refused:
        await manager.pin("s", 3)
    message = str(refused.value)
    assert "cannot pin message #3" in message
    assert "above the cleanup target of 60%" in message
    assert "%" in message.split("would take")[1]
    assert (await manager.snapshot("s")).pins == (1,)  # nothing changed
    await manager.close()


async def test_the_first_message_is_pinned_when_the_setting_says_so(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "s.db", pin_first_message=True)
    await _chat(manager, 15)
    window = await manager.window("s")
    assert [m.seq for m in window[:2]] == [1, 2]
    assert (await manager.usage("s")).trimmed > 0
    info = await manager.store.info("s")
    assert info is not None
    assert info.metadata[PINNED_KEY] == [1]
    await manager.close()
    plain = _manager(tmp_path / "t.db")
    await _chat(plain, 2)
    assert (await plain.snapshot("s")).pins == ()
    await plain.close()


async def test_garbage_pins_in_the_metadata_are_ignored(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "s.db")
    await _chat(manager, 2)
    garbage_values: list[JsonValue] = ["3", {"a": 1}, [True, "x", -4, 1.5, None, [3]], None]
    for garbage in garbage_values:
        await manager.store.set_state("s", metadata={PINNED_KEY: garbage})
        cold = _manager(tmp_path / "s.db")
        snapshot = await cold.snapshot("s")
        assert (snapshot.pins, snapshot.pinned) == ((), frozenset())
        await cold.close()
    await manager.close()


async def test_export_and_import_keep_the_pins_on_the_new_numbers(tmp_path: Path) -> None:
    manager = _manager(tmp_path / "s.db")
    await _chat(manager, 2)
    await manager.pin("s", 3)
    await _chat(manager, 12, start=2)
    window = [m.content for m in await manager.window("s")]
    document = await export_session(manager.store, "s", "json")
    # The import renumbers from 1: drop the first exchange from the document to move seqs.
    data = json.loads(document)
    data["messages"] = data["messages"][2:]
    target = SQLiteStore.from_url(f"sqlite:///{tmp_path / 'copy.db'}")
    await import_session(target, json.dumps(data), session_id="copy")
    info = await target.info("copy")
    assert info is not None
    assert info.metadata[PINNED_KEY] == [1]
    copy = SessionManager(RecordingAgent(), store=target, context_window_size=600)
    assert [m.content for m in await copy.window("copy")] == window
    assert (await copy.snapshot("copy")).pinned == {1, 2}
    markdown = await export_session(manager.store, "s", "md")
    assert "### #3 · User · 📌 pinned" in markdown
    await manager.close()
    await copy.close()


class SometimesTools(AgentInterface):
    """Answers plainly, or after a tool round when the question asks for one."""

    name = "sometimes-tools"

    def __init__(self) -> None:
        self.calls = 0

    async def process(self, context: AgentContext) -> AgentResponse:
        self.calls += 1
        if "tool" not in context.input:
            return AgentResponse(output=f"answer {self.calls}")
        call = ToolCall(id=f"c{self.calls}", name="look")
        return AgentResponse(
            output="looked it up",
            messages=[
                Message(role="assistant", tool_calls=(call,), tokens=9),
                Message(role="tool", tool_call_id=call.id, name="look", content="42", tokens=20),
            ],
        )


async def _pin_or_refusal(manager: SessionManager, seq: int) -> str | None:
    try:
        await manager.pin("s", seq)
    except InvalidInputError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("seed", range(4))
async def test_random_turns_and_pins_a_cold_load_sees_the_cached_window(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - a repeatable test, nothing secret
    path = tmp_path / "s.db"
    manager = _manager(path, SometimesTools(), pin_first_message=rng.random() < 0.5)
    pinned_at_some_point = False
    for step in range(40):
        action = rng.random()
        window = await manager.window("s")
        if action < 0.15 and window:
            refusal = await _pin_or_refusal(manager, rng.choice(window).seq)
            assert refusal is None or "cannot pin" in refusal
        elif action < 0.2 and (pins := (await manager.snapshot("s")).pins):
            await manager.unpin("s", rng.choice(pins))
        else:
            kind = "tool " if rng.random() < 0.3 else ""
            await manager.chat("s", f"{kind}step {step} " + "w" * rng.randint(1, 90))
        cached = await manager.snapshot("s")
        _whole_exchanges(list(cached.window))
        cold = _manager(path, SometimesTools())
        fresh = await cold.snapshot("s")
        await cold.close()
        assert fresh.window == cached.window
        assert (fresh.pinned, fresh.pins, fresh.usage.trimmed) == (
            cached.pinned,
            cached.pins,
            cached.usage.trimmed,
        )
        assert {m.seq for m in cached.window} >= cached.pinned
        pinned_at_some_point = pinned_at_some_point or bool(cached.pins)
    await manager.close()
    assert cached.usage.trimmed > 0  # cleanups happened along the way
    assert pinned_at_some_point
