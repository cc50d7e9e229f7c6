"""A window that follows other writers' trims and prompt changes (the lease's revision), and a
cold load that reads only the window, not the whole transcript."""

from __future__ import annotations

from collections.abc import Sequence

from agentcli import MemoryStore, SessionManager
from agentcli.messages import Message

from .agents_for_tests import RecordingAgent


class ReadLog(MemoryStore):
    """A real in-memory store that also remembers which reads it served."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, int, int | None]] = []
        self.seq_reads: list[tuple[int, ...]] = []

    async def read(
        self, session_id: str, *, since_seq: int = 1, last: int | None = None
    ) -> list[Message]:
        self.reads.append((session_id, since_seq, last))
        return await super().read(session_id, since_seq=since_seq, last=last)

    async def read_seqs(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        self.seq_reads.append(tuple(seqs))
        return await super().read_seqs(session_id, seqs)


def _manager(store: MemoryStore, agent: RecordingAgent | None = None) -> SessionManager:
    return SessionManager(
        agent or RecordingAgent(), store=store, context_window_size=600, token_counter=len
    )


async def test_a_compact_by_another_manager_is_seen_by_the_next_turn() -> None:
    store = MemoryStore()
    agent = RecordingAgent()
    first, second = _manager(store, agent), _manager(store)
    for i in range(8):
        await first.chat("s", f"question {i} " + "x" * 40)
    report = await second.compact("s")
    assert report.trimmed > 0
    await first.chat("s", "after")
    seen = [m.content for m in agent.contexts[-1].conversation_history]
    assert seen == [m.content for m in (await second.window("s"))[:-2]]
    assert (await first.usage("s")).trimmed == report.trimmed


async def test_a_system_prompt_set_by_another_manager_is_used_next_turn() -> None:
    store = MemoryStore()
    agent = RecordingAgent()
    first, second = _manager(store, agent), _manager(store)
    await first.chat("s", "hello")
    await second.set_system_prompt("s", "be terse")
    await first.chat("s", "again")
    assert agent.contexts[-1].system_prompt == "be terse"


async def test_a_cold_load_reads_the_window_and_what_it_keeps_only() -> None:
    store = ReadLog()
    writer = _manager(store)
    await store.append("s", [Message(role="system", content="rules", tokens=5)])
    for i in range(10):
        await writer.chat("s", f"question {i} " + "x" * 30)
    await writer.compact("s")
    info = await store.info("s")
    assert info is not None
    assert info.window_start > 2
    store.reads.clear()

    cold = _manager(store)  # another replica, nothing cached
    window = await cold.window("s")
    assert store.reads == [("s", info.window_start, None)]
    assert store.seq_reads == [(1,)]  # the system message from before the window's start
    assert window == await writer.window("s")
    assert (await cold.usage("s")).trimmed == (await writer.usage("s")).trimmed


async def test_a_session_trimmed_without_a_marker_is_read_whole() -> None:
    store = ReadLog()
    await store.append("s", [Message(role="user", content=str(i), tokens=1) for i in range(6)])
    await store.set_state("s", window_start=5)  # as an old version or an import left it
    store.reads.clear()
    manager = _manager(store)
    assert [m.content for m in await manager.window("s")] == ["4", "5"]
    assert store.reads == [("s", 1, None)]
    assert (await manager.usage("s")).trimmed == 4
