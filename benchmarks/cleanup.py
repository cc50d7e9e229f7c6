"""Context cleanup (issue 13): planning a trim, its cost in a turn, and summarising's requests.

1. ``agentcli.context.plan_trim`` and ``apply_trim`` on windows of 100, 1,000 and 10,000
   realistic messages (user and assistant exchanges, a third of them with a tool call and its
   result, token counts set), over the cleanup threshold, without pins and with 4; beside
   LangChain's ``trim_messages`` (strategy "last") on the same windows, run in the peers' venv.
2. A whole turn through ``SessionManager.chat`` with first-in first-out cleanup (``MemoryStore``,
   the offline ``EchoAgent``) at 0 and 1,000 messages of history, and a turn that trims.
3. A 300-turn session with ``cleanup_strategy="summarize"`` and a small window: how many
   requests the summariser got per cleanup and per turn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._common import (
    ROOT,
    Section,
    Table,
    bench_python,
    fmt_ratio,
    fmt_us,
    has_module,
    install_hint,
    median,
    ok,
    progress,
    version_of,
)

WINDOWS = (100, 1000, 10_000)
PINS = 4
# The window is this full when the plan runs: over the 90 % threshold, planned down to 60 %.
FULLNESS = 0.92
TARGET = 0.60
HISTORIES = (0, 1000)
INPUT = "hello there"
SUMMARY_TURNS = 300
SUMMARY_WINDOW = 2000  # tokens: a cleanup every dozen turns or so

# Targets from issue 13.
TARGET_PLAN_US = 2000.0  # at 10,000 messages
TARGET_TURN_US = 50.0
TARGET_FLAT = 1.5  # 1,000 messages against 0, as core's target

Call = Callable[[], object]


@dataclass
class Options:
    quick: bool = False
    batches: int = 15  # per cell, at most; at least 5
    budget_s: float = 1.5  # per cell, about
    sessions: int = 50  # the turn table: sessions a batch goes round
    trim_sessions: int = 10  # fresh sessions per batch of trimming turns

    @classmethod
    def make(cls, quick: bool) -> Options:
        if quick:
            return cls(quick=True, batches=5, budget_s=0.3, sessions=20, trim_sessions=5)
        return cls()


# ----------------------------------------------------------------------------- the windows


@dataclass(frozen=True, slots=True)
class Spec:
    """One message of a benchmark window, without agentcli or LangChain (both build from it)."""

    seq: int
    role: str  # user, assistant or tool
    tokens: int
    content: str
    call_id: str | None = None  # assistant: the tool call it makes; tool: the call it answers


def window_specs(n: int, seed: int = 13) -> list[Spec]:
    """``n`` messages of exchanges: a question, then (one time in three) a tool call and its
    result, then the answer; tokens as a coding assistant's, the same for every run."""
    rng = random.Random(seed + n)
    specs: list[Spec] = []
    exchange = 0
    while len(specs) < n:
        exchange += 1
        seq = len(specs) + 1
        specs.append(Spec(seq, "user", rng.randint(15, 80), f"question {exchange}"))
        if rng.random() < 1 / 3:
            call = f"call_{exchange}"
            specs.append(Spec(seq + 1, "assistant", rng.randint(25, 40), "", call))
            specs.append(Spec(seq + 2, "tool", rng.randint(100, 600), f"result {exchange}", call))
        specs.append(Spec(len(specs) + 1, "assistant", rng.randint(60, 400), f"answer {exchange}"))
    return specs[:n]


def window_size_for(specs: list[Spec]) -> int:
    """A context window the messages fill to ``FULLNESS``: a cleanup is due."""
    return math.ceil(sum(s.tokens for s in specs) / FULLNESS)


def pin_seqs(n: int) -> list[int]:
    """4 early messages (in the part a cleanup drops), at 2 %, 5 %, 10 % and 20 %."""
    return [max(1, n * p // 100) + 1 for p in (2, 5, 10, 20)][:PINS]


def _agentcli_window(specs: list[Spec]) -> list[Any]:
    from agentcli.messages import Message, ToolCall

    messages = []
    for s in specs:
        if s.role == "assistant" and s.call_id:
            calls = (ToolCall(id=s.call_id, name="read_file", arguments='{"path": "a.py"}'),)
            messages.append(Message(role="assistant", tokens=s.tokens, seq=s.seq, tool_calls=calls))
        elif s.role == "tool":
            messages.append(
                Message(
                    role="tool",
                    content=s.content,
                    tokens=s.tokens,
                    seq=s.seq,
                    tool_call_id=s.call_id,
                    name="read_file",
                )
            )
        else:
            messages.append(Message(role=s.role, content=s.content, tokens=s.tokens, seq=s.seq))  # type: ignore[arg-type]
    return messages


def _langchain_window(specs: list[Spec]) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    messages: list[Any] = []
    for s in specs:
        if s.role == "user":
            messages.append(HumanMessage(s.content, id=str(s.seq)))
        elif s.role == "tool":
            messages.append(ToolMessage(s.content, tool_call_id=s.call_id or "", id=str(s.seq)))
        elif s.call_id:
            call = {"name": "read_file", "args": {"path": "a.py"}, "id": s.call_id}
            messages.append(AIMessage("", tool_calls=[call], id=str(s.seq)))
        else:
            messages.append(AIMessage(s.content, id=str(s.seq)))
    return messages


# ----------------------------------------------------------------------------- timing


def timed(call: Call, options: Options) -> list[float]:
    """Microseconds per call of each batch (batches sized to about 20 ms), after warm-up."""
    for _ in range(3):
        call()
    t0 = time.perf_counter()
    call()
    single = max(time.perf_counter() - t0, 1e-7)
    batch = max(1, min(10_000, math.ceil(0.02 / single)))
    results: list[float] = []
    began = time.perf_counter()
    for _ in range(options.batches):
        t0 = time.perf_counter()
        for _ in range(batch):
            call()
        results.append((time.perf_counter() - t0) / batch * 1e6)
        if time.perf_counter() - began > options.budget_s and len(results) >= 5:
            break
    return results


@dataclass
class Row:
    name: str
    us: dict[int, float] = field(default_factory=dict)
    spread: dict[int, list[float]] = field(default_factory=dict)
    status: str = "ok"
    kept: dict[int, int] = field(default_factory=dict)  # messages left in the window

    def record(self, n: int, times: list[float]) -> None:
        self.us[n], self.spread[n] = median(times), times


def ours_plan_rows(options: Options) -> list[Row]:
    from agentcli.context import plan_trim

    rows = {
        key: Row(name)
        for key, name in (
            ("plan", "agentcli plan_trim, no pins"),
            ("plan_pins", f"agentcli plan_trim, {PINS} pins"),
            ("apply", "agentcli apply_trim, no pins"),
            ("apply_pins", f"agentcli apply_trim, {PINS} pins"),
            ("both", "agentcli plan_trim + apply_trim, no pins"),
        )
    }
    for n in WINDOWS:
        progress(f"cleanup: plan_trim / apply_trim, {n:,} messages")
        specs = window_specs(n)
        window = _agentcli_window(specs)
        size = window_size_for(specs)
        pins = pin_seqs(n)
        plan = plan_trim(window, window_size=size, target=TARGET)
        pinned_plan = plan_trim(window, window_size=size, target=TARGET, pinned=pins)
        rows["plan"].kept[n] = n - plan.drop
        rows["plan_pins"].kept[n] = n - pinned_plan.drop
        for key, call in _plan_calls(window, size, pins, plan.drop, pinned_plan.drop).items():
            rows[key].record(n, timed(call, options))
    return list(rows.values())


def _plan_calls(
    window: list[Any], size: int, pins: list[int], drop: int, pinned_drop: int
) -> dict[str, Call]:
    from agentcli.context import apply_trim, plan_trim

    def both() -> object:
        return apply_trim(window, plan_trim(window, window_size=size, target=TARGET).drop)

    return {
        "plan": lambda: plan_trim(window, window_size=size, target=TARGET),
        "plan_pins": lambda: plan_trim(window, window_size=size, target=TARGET, pinned=pins),
        "apply": lambda: apply_trim(window, drop),
        "apply_pins": lambda: apply_trim(window, pinned_drop, pins),
        "both": both,
    }


PEER_NAME = 'langchain-core trim_messages(strategy="last")'


def peer_row_here(options: Options) -> Row:
    """LangChain's ``trim_messages`` to the same target; tokens precomputed per message."""
    from langchain_core.messages import BaseMessage, trim_messages

    row = Row(PEER_NAME)
    for n in WINDOWS:
        progress(f"cleanup: trim_messages, {n:,} messages")
        specs = window_specs(n)
        window = _langchain_window(specs)
        tokens = {str(s.seq): s.tokens for s in specs}
        target = int(window_size_for(specs) * TARGET)

        # A list counter (what trim_messages calls on prefixes of the window), a dict lookup
        # per message: no tokenizer on either side.
        def count(messages: list[BaseMessage], tokens: dict[str, int] = tokens) -> int:
            return sum(tokens[m.id or ""] for m in messages)

        def trim(window: list[Any] = window, target: int = target) -> list[Any]:
            return trim_messages(  # type: ignore[no-any-return,unused-ignore]  # Any without the peer
                window,
                max_tokens=target,
                token_counter=count,
                strategy="last",
                start_on="human",
                include_system=True,
            )

        row.kept[n] = len(trim())
        row.record(n, timed(trim, options))
    return row


def peer_row(options: Options) -> tuple[Row, str]:
    """The peer, in the peers' venv if there is one, else here if importable."""
    python = bench_python()
    if python is None:
        if has_module("langchain_core"):
            return peer_row_here(options), "this process"
        return Row(PEER_NAME, status="not installed"), ""
    progress(f"cleanup: the peer, in {python}")
    command = [str(python), "-m", "benchmarks.cleanup", "--peers"]
    if options.quick:
        command.append("--quick")
    env = {**os.environ, "LANGCHAIN_TRACING_V2": "false", "LANGSMITH_TRACING": "false"}
    proc = subprocess.run(  # the exit code is checked below
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=600
    )
    if proc.returncode != 0:
        return Row(PEER_NAME, status="failed"), f"{python} (failed, exit {proc.returncode})"
    data = json.loads(proc.stdout)
    row = Row(PEER_NAME)
    for n in WINDOWS:
        row.record(n, data["spread"][str(n)])
        row.kept[n] = data["kept"][str(n)]
    return row, f"{os.path.relpath(python.parent.parent, ROOT)} (a separate process)"


def plan_table(rows: list[Row], peer: Row, where: str) -> Table:
    table = Table(
        "Planning a cleanup, microseconds per call (median of batches)",
        ["what", *(f"{n:,} msgs" for n in WINDOWS), "target", "ok?"],
        align="lrrrll",
    )
    last = WINDOWS[-1]
    for row in [*rows, peer]:
        is_plan = row.name.startswith("agentcli plan_trim")
        target = f"<= {TARGET_PLAN_US / 1000:g} ms at {last:,}" if is_plan else ""
        passed = ok(row.us[last] <= TARGET_PLAN_US) if is_plan and last in row.us else ""
        cells = [fmt_us(row.us.get(n)) if row.status == "ok" else "" for n in WINDOWS]
        if row.status != "ok":
            cells[0] = row.status
        table.add(
            [row.name, *cells, target, passed],
            what=row.name,
            status=row.status,
            us_per_call={str(n): row.us.get(n) for n in WINDOWS},
            batches_us={str(n): [round(x, 3) for x in row.spread.get(n, [])] for n in WINDOWS},
            kept={str(n): k for n, k in row.kept.items()},
            target=TARGET_PLAN_US if is_plan else None,
            ok=(row.us[last] <= TARGET_PLAN_US) if is_plan and last in row.us else None,
        )
    if peer.status == "ok":
        for ours in (rows[0], rows[-1]):
            ratios = [ours.us[n] / peer.us[n] for n in WINDOWS]
            label = "plan" if ours is rows[0] else "plan + apply"
            table.add(
                [f"ratio: ours ({label}) / peer", *(fmt_ratio(r) for r in ratios), "", ""],
                what=f"ratio {label}",
                ratios={str(n): r for n, r in zip(WINDOWS, ratios, strict=True)},
            )
    kept = " / ".join(
        f"{rows[0].kept[n]:,}" + (f" vs {peer.kept[n]:,}" if n in peer.kept else "")
        for n in WINDOWS
    )
    table.notes += [
        "windows: exchanges of a question, (one in three) a tool call and its result, and an "
        "answer; 15-80 / 25-40 / 100-600 / 60-400 tokens; the window "
        f"{FULLNESS:.0%} full, planned down to {TARGET:.0%} (about a third of it goes)",
        "pins: messages at 2 %, 5 %, 10 % and 20 % of the window (in the part that goes); "
        "pinning one keeps its whole exchange",
        f"messages left, ours{' vs peer' if peer.kept else ''} at {' / '.join(map(str, WINDOWS))}"
        f": {kept} (we also keep the last 5 and whole exchanges)",
        "peer: trim_messages(window, max_tokens=the same target, strategy='last', "
        "start_on='human', include_system=True) with a token counter summing a precomputed "
        "count per message (a dict lookup): it returns the kept list, which is what our "
        "plan + apply does",
    ]
    if where:
        table.notes.append(f"peer measured in {where}, in this same run")
    return table


# ----------------------------------------------------------------------------- a turn


@dataclass
class TurnRow:
    name: str
    us: dict[int, float] = field(default_factory=dict)
    cleanups: int = 0
    turns: int = 0


async def _history(store: Any, sid: str, n: int) -> None:
    from agentcli.messages import Message

    if n:
        await store.append(
            sid,
            [
                Message(
                    role="user" if i % 2 == 0 else "assistant",
                    content=f"message {i} of the history, a short line of text",
                    tokens=12,
                )
                for i in range(n)
            ],
        )


async def turn_rows(options: Options) -> list[TurnRow]:
    from agentcli.agents.offline import EchoAgent
    from agentcli.session import SessionManager
    from agentcli.stores.memory import MemoryStore

    from .core import Options as CoreOptions
    from .core import time_batches

    core_options = CoreOptions(batches=options.batches, budget_s=options.budget_s)
    steady = TurnRow("agentcli turn, FIFO, no cleanup due")
    store = MemoryStore()
    manager = SessionManager(EchoAgent(notice=False), store=store, cleanup_strategy="fifo")
    try:
        for n in HISTORIES:
            progress(f"cleanup: turns at {n:,} messages")
            sessions = [f"turn-{n}-{k}" for k in range(options.sessions)]
            for sid in sessions:
                await _history(store, sid, n)
                await manager.chat(sid, INPUT)  # warm: the window is in the manager's cache

            async def turn(i: int, sessions: list[str] = sessions) -> None:
                response = await manager.chat(sessions[i % len(sessions)], INPUT)
                steady.turns += 1
                steady.cleanups += response.cleanup is not None and response.cleanup.changed

            steady.us[n] = median(
                await time_batches(turn, batch=len(sessions), options=core_options)
            )
    finally:
        await manager.close()
    agent = await agent_row(core_options)
    share = TurnRow(
        "agentcli's share (turn - agent)",
        {n: steady.us[n] - agent.us[n] for n in HISTORIES},
        steady.cleanups,
        steady.turns,
    )
    return [steady, agent, share, await trimming_row(options)]


async def agent_row(core_options: Any) -> TurnRow:
    """The EchoAgent alone, streamed with the same history: its own part of a turn's cost
    (it counts the input's and the answer's tokens with o200k, and sums the history's)."""
    from agentcli.agents.offline import EchoAgent
    from agentcli.messages import AgentContext, Message

    from .core import calibrated

    agent = EchoAgent(notice=False)
    row = TurnRow("EchoAgent.stream_events alone")
    for n in HISTORIES:
        history = [
            Message(role="user" if i % 2 == 0 else "assistant", content=f"m {i}", tokens=12)
            for i in range(n)
        ]
        context = AgentContext(input=INPUT, session_id="agent", conversation_history=history)

        async def turn(_: int, context: AgentContext = context) -> None:
            async for _event in agent.stream_events(context):
                pass

        row.us[n] = median(await calibrated(turn, core_options))
    return row


async def trimming_row(options: Options) -> TurnRow:
    """Turns that each trim: fresh sessions of 1,000 messages loaded just under the threshold,
    so the turn's input takes them over it."""
    from agentcli.agents.offline import EchoAgent
    from agentcli.session import SessionManager
    from agentcli.stores.memory import MemoryStore

    n = HISTORIES[-1]
    progress(f"cleanup: turns that trim, {n:,} messages")
    row = TurnRow(f"agentcli turn that trims (FIFO), {n:,} msgs")
    store = MemoryStore()
    # The history's 12,000 tokens sit just under 90 % of the window.
    size = math.floor((n * 12 + 1) / 0.9)
    manager = SessionManager(
        EchoAgent(notice=False), store=store, context_window_size=size, cleanup_strategy="fifo"
    )
    times: list[float] = []
    try:
        for batch in range(options.batches + 1):  # the first is a warm-up
            sessions = [f"trim-{batch}-{k}" for k in range(options.trim_sessions)]
            for sid in sessions:
                await _history(store, sid, n)
                await manager.snapshot(sid)  # loads the window into the cache, no turn
            t0 = time.perf_counter()
            responses = [await manager.chat(sid, INPUT) for sid in sessions]
            elapsed = time.perf_counter() - t0
            for sid in sessions:
                await manager.clear(sid)
            if batch:
                times.append(elapsed / len(sessions) * 1e6)
                row.turns += len(responses)
                row.cleanups += sum(r.cleanup is not None and r.cleanup.changed for r in responses)
    finally:
        await manager.close()
    row.us[n] = median(times)
    return row


def turn_table(rows: list[TurnRow], options: Options) -> Table:
    first, last = HISTORIES
    table = Table(
        "Per-turn overhead with first-in first-out cleanup, microseconds per turn "
        "(median of batches)",
        ["what", f"{first} msgs", f"{last:,} msgs", f"{last:,}/0", "cleanups", "target", "ok?"],
        align="lrrrrll",
    )
    for row in rows:
        ratio = row.us[last] / row.us[first] if first in row.us and last in row.us else None
        if row is rows[0] or row.name.startswith("agentcli's share"):
            worst = max(row.us.values())
            passed = worst <= TARGET_TURN_US and ratio is not None and ratio <= TARGET_FLAT
            target = f"<= {TARGET_TURN_US:.0f} us, <= {TARGET_FLAT}x"
        else:
            passed, target = None, ""
        table.add(
            [
                row.name,
                fmt_us(row.us.get(first)),
                fmt_us(row.us.get(last)),
                fmt_ratio(ratio),
                f"{row.cleanups}/{row.turns} turns" if row.turns else "",
                target,
                ok(passed) if target else "",
            ],
            what=row.name,
            us_per_turn={str(n): v for n, v in row.us.items()},
            ratio=ratio,
            cleanups=row.cleanups if row.turns else None,
            turns=row.turns,
            ok=passed,
        )
    table.notes += [
        "SessionManager.chat with MemoryStore and the offline EchoAgent (no notice), input "
        f"'hello there'; history messages of 12 tokens; round-robin over {options.sessions} "
        "warm sessions per history (each grows by 2 messages a turn)",
        "the EchoAgent is not free: it counts the input's and the answer's tokens with o200k, "
        "sums the history's tokens (a walk of the 1,000 messages) and streams word by word; "
        "'agentcli's share' takes its median away (core's table measures the same turn with "
        "an agent that costs nothing)",
        f"a turn that trims: {options.trim_sessions} fresh sessions a batch, their window loaded "
        "just under 90 % of a 13,334-token window, so the input takes it over: the turn plans "
        "and applies a trim (about a third of the window) and moves the store's window start",
    ]
    return table


# ----------------------------------------------------------------------------- summarising


@dataclass
class Summary:
    turns: int = 0
    cleanups: int = 0  # cleanups the session logged (any strategy, what was dropped > 0)
    summarised: int = 0  # of those, the ones that stored a summary
    reported: int = 0  # turns whose response reported a cleanup
    process_calls: int = 0
    stream_calls: int = 0
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return self.process_calls + self.stream_calls


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _session_log() -> Iterator[_Records]:
    """The session logger's records (``context cleanup``, ``context summarised``), kept here."""
    logger = logging.getLogger("agentcli.session")
    handler = _Records()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _counting_agent() -> Any:
    from collections.abc import AsyncIterator

    from agentcli.agent import AgentInterface, StreamEvent
    from agentcli.agents.offline import EchoAgent
    from agentcli.messages import AgentContext, AgentResponse

    class CountingAgent(AgentInterface):
        """The echo agent as summariser, counting the requests it gets."""

        name = "counting-summariser"

        def __init__(self) -> None:
            self.inner = EchoAgent(notice=False)
            self.process_calls = 0
            self.stream_calls = 0

        async def process(self, context: AgentContext) -> AgentResponse:
            self.process_calls += 1
            return await self.inner.process(context)

        async def stream_events(self, context: AgentContext) -> AsyncIterator[StreamEvent]:
            self.stream_calls += 1
            async for event in self.inner.stream_events(context):
                yield event

    return CountingAgent()


_TOPICS = ("the parser", "the cache", "the retry policy", "logging", "the CLI flags", "tests")


async def summarise_run(turns: int) -> Summary:
    from agentcli.agents.offline import EchoAgent
    from agentcli.session import SessionManager
    from agentcli.stores.memory import MemoryStore

    progress(f"cleanup: {turns} turns with cleanup_strategy='summarize'")
    summariser = _counting_agent()
    manager = SessionManager(
        EchoAgent(notice=False),
        store=MemoryStore(),
        cleanup_strategy="summarize",
        context_window_size=SUMMARY_WINDOW,
        summary_agent=summariser,
    )
    result = Summary()
    try:
        with _session_log() as log:
            t0 = time.perf_counter()
            for i in range(turns):
                topic = _TOPICS[i % len(_TOPICS)]
                text = f"question {i}: how should {topic} behave in module {i % 7}, and why?"
                response = await manager.chat("summarise", text)
                result.reported += response.cleanup is not None and response.cleanup.changed
            result.seconds = time.perf_counter() - t0
        result.turns = turns
        result.cleanups = sum(
            r.getMessage() == "context cleanup" and getattr(r, "trimmed", 0) > 0
            for r in log.records
        )
        result.summarised = sum(r.getMessage() == "context summarised" for r in log.records)
        result.process_calls = summariser.process_calls
        result.stream_calls = summariser.stream_calls
    finally:
        await manager.close()
    return result


def summary_table(result: Summary) -> Table:
    table = Table(
        f"Summarising: {result.turns} turns, cleanup_strategy='summarize', "
        f"a {SUMMARY_WINDOW:,}-token window",
        ["turns", "cleanups", "summaries", "summariser calls", "calls/cleanup", "calls/turn"],
        align="rrrrrr",
    )
    per_cleanup = result.calls / result.cleanups if result.cleanups else None
    per_turn = result.calls / result.turns if result.turns else None
    table.add(
        [
            str(result.turns),
            str(result.cleanups),
            str(result.summarised),
            f"{result.calls} ({result.process_calls} process, {result.stream_calls} stream)",
            f"{per_cleanup:.2f}" if per_cleanup is not None else "-",
            f"{per_turn:.3f}" if per_turn is not None else "-",
        ],
        turns=result.turns,
        cleanups=result.cleanups,
        summarised=result.summarised,
        reported=result.reported,
        process_calls=result.process_calls,
        stream_calls=result.stream_calls,
        calls_per_cleanup=per_cleanup,
        calls_per_turn=per_turn,
        seconds=round(result.seconds, 3),
    )
    one_each = result.cleanups > 0 and result.calls == result.cleanups
    table.notes += [
        f"target: one summariser request per cleanup, none on other turns: "
        f"{ok(one_each)} ({result.calls} requests, {result.cleanups} cleanups)",
        "cleanups counted from the session's log ('context cleanup' with messages dropped; a "
        "failed summary falls back to a first-in first-out trim and still counts); "
        f"{result.reported} turns reported one in their response",
        "the session's agent and the summariser are both the offline EchoAgent (the summariser "
        "wrapped to count process / stream_events calls); "
        f"{result.seconds / max(result.turns, 1) * 1e6:,.0f} us per turn on average",
    ]
    return table


# ----------------------------------------------------------------------------- orchestration


def run(*, quick: bool = False) -> Section:
    t0 = time.perf_counter()
    options = Options.make(quick)
    section = Section("cleanup")
    rows = ours_plan_rows(options)
    peer, where = peer_row(options)
    section.tables.append(plan_table(rows, peer, where))
    section.tables.append(turn_table(asyncio.run(turn_rows(options)), options))
    section.tables.append(summary_table(asyncio.run(summarise_run(SUMMARY_TURNS))))
    if peer.status == "not installed":
        section.notes.append(f"langchain-core not installed; to measure it: {install_hint()}")
    section.seconds = time.perf_counter() - t0
    return section


def _peers_main(argv: list[str]) -> int:
    """``python -m benchmarks.cleanup --peers [--quick]``: the peer's timings as JSON."""
    if "--peers" not in argv:
        print("usage: python -m benchmarks.cleanup --peers [--quick] (or: benchmarks/run.py)")
        return 2
    os.environ.update({"LANGCHAIN_TRACING_V2": "false", "LANGSMITH_TRACING": "false"})
    row = peer_row_here(Options.make("--quick" in argv))
    document = {
        "version": version_of("langchain-core"),
        "spread": {str(n): row.spread[n] for n in WINDOWS},
        "kept": {str(n): row.kept[n] for n in WINDOWS},
    }
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(_peers_main(sys.argv[1:]))
