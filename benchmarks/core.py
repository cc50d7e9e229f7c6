"""Per-turn framework overhead and memory per stored message (issue 2).

Every framework does the same work with an agent/model that answers instantly ("ok"): one turn
with a history of 0, 100 or 1,000 messages. What is left is the framework's own cost per turn.
The floor is a bare ``await`` of an async function returning a constant, through the same
harness. agentcli runs full turns through ``SessionManager.chat`` (input checks, storing the
user's message and the answer, the context window, token counting, the trim check), in memory
and on a SQLite file in a temporary directory; the peers are handed the N messages of history
the way their users pass it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._common import (
    ROOT,
    Section,
    Table,
    bench_python,
    filesystem,
    fmt_ratio,
    fmt_us,
    has_module,
    install_hint,
    median,
    ok,
    progress,
)

HISTORIES = (0, 100, 1000)
INPUT = "hello there"
ANSWER = "ok"

# Targets from issue 2.
TARGET_MEMORY_US = 50.0
TARGET_RATIO = 1.5
TARGET_SQLITE_US = 1000.0
TARGET_BYTES = 450.0

# Memory: 1,000 sessions of 100 messages (50 turns of question + answer).
MEMORY_SESSIONS = 1000
MEMORY_TURNS = 50

Turn = Callable[[int], Awaitable[None]]


@dataclass
class Options:
    quick: bool = False
    # Per (framework, history) cell: at most this many batches and about this many seconds.
    batches: int = 15
    budget_s: float = 2.0
    # Sessions an agentcli batch goes round (one turn each): keeps each session near N.
    sessions_memory: int = 50
    sessions_sqlite: int = 20
    memory_sessions: int = MEMORY_SESSIONS

    @classmethod
    def make(cls, quick: bool) -> Options:
        if quick:
            return cls(quick=True, batches=5, budget_s=0.5, memory_sessions=100)
        return cls()


@dataclass
class Row:
    name: str
    us: dict[int, float] = field(default_factory=dict)
    spread: dict[int, list[float]] = field(default_factory=dict)
    status: str = "ok"
    detail: str = ""

    def record(self, history: int, times: list[float]) -> None:
        self.us[history], self.spread[history] = median(times), times

    def ratio(self) -> float | None:
        first, last = self.us.get(HISTORIES[0]), self.us.get(HISTORIES[-1])
        if not first or last is None:
            return None
        return last / first


# ----------------------------------------------------------------------------- timing harness


async def time_batches(turn: Turn, *, batch: int, options: Options, start: int = 0) -> list[float]:
    """Microseconds per turn of each batch of ``batch`` turns."""
    results: list[float] = []
    index = start
    began = time.perf_counter()
    for _ in range(options.batches):
        t0 = time.perf_counter()
        for _ in range(batch):
            await turn(index)
            index += 1
        results.append((time.perf_counter() - t0) / batch * 1e6)
        if time.perf_counter() - began > options.budget_s and len(results) >= 5:
            break
    return results


async def calibrated(turn: Turn, options: Options, warmup: int = 3) -> list[float]:
    """Warm up, then size batches to take about 20 ms each."""
    for i in range(warmup):
        await turn(i)
    t0 = time.perf_counter()
    await turn(warmup)
    single = max(time.perf_counter() - t0, 1e-7)
    batch = max(1, min(5000, math.ceil(0.02 / single)))
    return await time_batches(turn, batch=batch, options=options, start=warmup + 1)


async def calibrated_row(name: str, turn_for: Callable[[int], Turn], options: Options) -> Row:
    """A row of ``calibrated`` timings; ``turn_for(n)`` is a turn with ``n`` messages of history."""
    row = Row(name)
    for n in HISTORIES:
        row.record(n, await calibrated(turn_for(n), options))
    return row


# ----------------------------------------------------------------------------- subjects


async def _instant() -> str:
    return ANSWER


async def floor_row(options: Options, name: str = "floor (bare await)") -> Row:
    async def turn(_: int) -> None:
        await _instant()

    return await calibrated_row(name, lambda _n: turn, options)


def _history(n: int) -> list[Any]:
    from agentcli.messages import Message

    return [
        Message(
            role="user" if i % 2 == 0 else "assistant",
            content=f"message {i} of the history, a short line of text",
            tokens=12,
        )
        for i in range(n)
    ]


async def agentcli_row(store_kind: str, options: Options, tmp: Path) -> Row:
    from agentcli.agents.offline import FunctionAgent
    from agentcli.session import SessionManager
    from agentcli.stores.base import SessionStore
    from agentcli.stores.memory import MemoryStore

    store: SessionStore
    if store_kind == "memory":
        store = MemoryStore()
        sessions_per_n = options.sessions_memory
        name = "agentcli (MemoryStore)"
    else:
        try:
            from agentcli.stores.sqlite import SQLiteStore
        except ImportError as exc:
            return Row("agentcli (SQLite file)", status="missing", detail=str(exc))
        store = SQLiteStore(tmp / "bench.db")
        sessions_per_n = options.sessions_sqlite
        name = "agentcli (SQLite file)"

    row = Row(name)
    manager = SessionManager(FunctionAgent(lambda _ctx: ANSWER, name="instant"), store=store)
    try:
        # Fill every session first, then time: a new database file's first writes also grow
        # its WAL, which a long-lived file (what users have) no longer pays.
        by_n: dict[int, list[str]] = {}
        for n in HISTORIES:
            by_n[n] = [f"{store_kind}-{n}-{k}" for k in range(sessions_per_n)]
            history = _history(n)
            for sid in by_n[n]:
                if history:
                    await store.append(sid, history)
        # Warm-up: one turn per session loads its window into the manager's cache; the very
        # first turn of the process also loads the o200k tokenizer (once, ~0.3 s).
        for sessions in by_n.values():
            for sid in sessions:
                await manager.chat(sid, INPUT)
        for n, sessions in by_n.items():

            async def turn(i: int, sessions: list[str] = sessions) -> None:
                await manager.chat(sessions[i % len(sessions)], INPUT)

            row.record(n, await time_batches(turn, batch=len(sessions), options=options))
    finally:
        await manager.close()
    return row


async def pydantic_ai_row(name: str, options: Options) -> Row:
    from pydantic_ai import Agent
    from pydantic_ai.messages import (
        ModelMessage,
        ModelRequest,
        ModelResponse,
        TextPart,
        UserPromptPart,
    )
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def instant(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart(ANSWER)])

    agent = Agent(FunctionModel(instant))

    def turn_for(n: int) -> Turn:
        history: list[ModelMessage] = [
            ModelRequest(parts=[UserPromptPart(content=f"message {i} of the history")])
            if i % 2 == 0
            else ModelResponse(parts=[TextPart(content=f"message {i} of the history")])
            for i in range(n)
        ]

        async def turn(_: int) -> None:
            result = await agent.run(INPUT, message_history=history)
            assert result.output == ANSWER

        return turn

    return await calibrated_row(name, turn_for, options)


def _openai_agents_fake_model() -> Any:
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from agents.usage import Usage
    from openai.types.responses import ResponseOutputMessage, ResponseOutputText

    class InstantModel(Model):  # type: ignore[misc,unused-ignore]  # Any without the peers
        """Answers "ok" at once, like the SDK's own test fake."""

        async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
            text = ResponseOutputText(text=ANSWER, type="output_text", annotations=[])
            message = ResponseOutputMessage(
                id="msg_bench", content=[text], role="assistant", status="completed", type="message"
            )
            return ModelResponse(output=[message], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    return InstantModel()


async def openai_agents_row(name: str, options: Options) -> Row:
    from agents import Agent, RunConfig, Runner, set_tracing_disabled

    set_tracing_disabled(True)  # tracing would export to api.openai.com
    agent = Agent(name="bench", model=_openai_agents_fake_model())
    config = RunConfig(tracing_disabled=True)

    def turn_for(n: int) -> Turn:
        history: list[Any] = [
            {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} of history"}
            for i in range(n)
        ]

        async def turn(_: int) -> None:
            items = [*history, {"role": "user", "content": INPUT}]
            result = await Runner.run(agent, items, run_config=config)
            assert result.final_output == ANSWER

        return turn

    return await calibrated_row(name, turn_for, options)


async def langchain_row(name: str, options: Options) -> Row:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

    model = FakeListChatModel(responses=[ANSWER])

    def turn_for(n: int) -> Turn:
        history: list[BaseMessage] = [
            HumanMessage(f"message {i} of the history")
            if i % 2 == 0
            else AIMessage(f"message {i} of the history")
            for i in range(n)
        ]

        async def turn(_: int) -> None:
            result = await model.ainvoke([*history, HumanMessage(INPUT)])
            assert result.content == ANSWER

        return turn

    return await calibrated_row(name, turn_for, options)


# ----------------------------------------------------------------------------- memory


def _text(session: int, turn: int) -> tuple[str, str]:
    question = f"question {turn} in session {session}"
    return question, "answer to " + question


async def _traced(build: Callable[[], Awaitable[object]]) -> tuple[int, float]:
    """Bytes still allocated after ``build`` (garbage collected), and seconds it took."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        kept = await build()
        seconds = time.perf_counter() - t0
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    del kept
    gc.collect()
    return retained, seconds


@dataclass
class Memory:
    name: str
    retained: int | None = None
    status: str = "ok"
    note: str = ""


# One turn's two messages, made from the question, the answer and the session's conversation id.
Exchange = Callable[[str, str, str], tuple[object, object]]


def _conversations(
    sessions: int, turns: int, exchange: Exchange
) -> Callable[[], Awaitable[object]]:
    """A build of ``sessions`` conversations of ``turns`` exchanges, kept as a chat loop keeps
    them: a dict of session id -> list of messages."""

    async def build() -> object:
        store: dict[str, list[object]] = {}
        for s in range(sessions):
            conversation = str(uuid.uuid4())
            messages = store.setdefault(f"session-{s}", [])
            for t in range(turns):
                request, response = exchange(*_text(s, t), conversation)
                messages.append(request)
                messages.append(response)
        return store

    return build


def _floor_memory(sessions: int, turns: int) -> Callable[[], Awaitable[object]]:
    def exchange(question: str, answer: str, _conversation: str) -> tuple[object, object]:
        return {"role": "user", "content": question}, {"role": "assistant", "content": answer}

    return _conversations(sessions, turns, exchange)


async def _memory(name: str, build: Callable[[], Awaitable[object]]) -> Memory:
    progress(f"core: memory, {name}")
    retained, seconds = await _traced(build)
    return Memory(name, retained, note=f"{seconds:.1f} s under tracemalloc")


async def _agentcli_memory(sessions: int, turns: int) -> Callable[[], Awaitable[object]]:
    from agentcli.agents.offline import FunctionAgent
    from agentcli.messages import AgentContext
    from agentcli.session import SessionManager
    from agentcli.stores.memory import MemoryStore

    def answer(ctx: AgentContext) -> str:
        return "answer to " + ctx.input

    # Load the tokenizer and every lazily imported module before tracing starts.
    warm = SessionManager(FunctionAgent(answer), store=MemoryStore())
    await warm.chat("warm-up", "warm up")
    await warm.close()
    del warm

    async def build() -> object:
        manager = SessionManager(FunctionAgent(answer), store=MemoryStore())
        for s in range(sessions):
            sid = f"session-{s}"
            for t in range(turns):
                await manager.chat(sid, _text(s, t)[0])
        return manager

    return build


def _pydantic_ai_memory(sessions: int, turns: int) -> Callable[[], Awaitable[object]]:
    from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart
    from pydantic_ai.usage import RequestUsage

    ModelRequest(parts=[UserPromptPart(content="warm")])  # import-time caches before tracing

    def exchange(question: str, answer: str, conversation: str) -> tuple[object, object]:
        # The shape Agent.run returns (checked against a real run): a request with the user's
        # part, a response with usage and model name; each turn has its run id, each message
        # its timestamps.
        run_id = str(uuid.uuid4())
        return (
            ModelRequest(
                parts=[UserPromptPart(content=question)],
                run_id=run_id,
                conversation_id=conversation,
            ),
            ModelResponse(
                parts=[TextPart(content=answer)],
                usage=RequestUsage(input_tokens=52, output_tokens=4),
                model_name="function:instant:",
                run_id=run_id,
                conversation_id=conversation,
            ),
        )

    return _conversations(sessions, turns, exchange)


def _langchain_memory(sessions: int, turns: int) -> Callable[[], Awaitable[object]]:
    from langchain_core.messages import AIMessage, HumanMessage

    HumanMessage("warm")

    def exchange(question: str, answer: str, _conversation: str) -> tuple[object, object]:
        # As a chat loop keeps it: the user's HumanMessage and the model's AIMessage (which
        # carries a run id).
        return HumanMessage(question), AIMessage(answer, id=f"lc_run--{uuid.uuid4()}-0")

    return _conversations(sessions, turns, exchange)


def _openai_agents_memory(sessions: int, turns: int) -> Callable[[], Awaitable[object]]:
    def exchange(question: str, answer: str, _conversation: str) -> tuple[object, object]:
        # ``result.to_input_list()``: the user's item as given, the model's output message
        # dumped to a dict.
        output = {
            "id": f"msg_{uuid.uuid4().hex}",
            "content": [{"annotations": [], "text": answer, "type": "output_text"}],
            "role": "assistant",
            "status": "completed",
            "type": "message",
        }
        return {"role": "user", "content": question}, output

    return _conversations(sessions, turns, exchange)


# ----------------------------------------------------------------------------- the report


def _timing_table(rows: list[Row], options: Options) -> Table:
    table = Table(
        "Per-turn overhead, microseconds per turn (median of batches)",
        ["framework", *(f"{n:,} msgs" for n in HISTORIES), f"{HISTORIES[-1]:,}/0", "target", "ok?"],
        align="lrrrrll",
    )
    for row in rows:
        target, passed = _verdict(row)
        cells = [fmt_us(row.us.get(n)) if row.status == "ok" else "" for n in HISTORIES]
        if row.status != "ok":
            cells[0] = row.status
        table.add(
            [row.name, *cells, fmt_ratio(row.ratio()), target, passed],
            framework=row.name,
            status=row.status,
            us_per_turn={str(n): row.us.get(n) for n in HISTORIES},
            batches_us={str(n): [round(x, 3) for x in row.spread.get(n, [])] for n in HISTORIES},
            ratio=row.ratio(),
            target=target,
            ok=passed,
        )
    for row in rows:
        if row.name.startswith("agentcli") and row.spread:
            best = " / ".join(fmt_us(min(row.spread[n])) for n in HISTORIES if row.spread.get(n))
            table.notes.append(f"{row.name}: fastest batch at 0 / 100 / 1,000: {best} us")
    table.notes += [
        "agent/model answers 'ok' instantly; input 'hello there'; the peers get exactly N "
        "messages of history each turn",
        "agentcli: full SessionManager.chat turns, round-robin over "
        f"{options.sessions_memory} (memory) / {options.sessions_sqlite} (SQLite) sessions per "
        f"N; each grows by 2 messages a turn (N to at most N+{2 * (options.batches + 1)})",
        "agentcli counts tokens of the input and the answer with o200k (tiktoken), loaded once "
        "at warm-up",
        f"SQLite: a real file in {tempfile.gettempdir()} ({filesystem(tempfile.gettempdir())}); "
        "WAL, synchronous=FULL (the default: an fsync per commit); 2 commits a turn "
        "(the input before the agent runs, then the answer)",
        "a 2-core machine shared with other work: numbers are noisy when it is loaded",
    ]
    return table


def _verdict(row: Row) -> tuple[str, str]:
    if row.name.startswith("agentcli (Memory"):
        worst = max(row.us.values(), default=float("nan"))
        ratio = row.ratio()
        passed = worst <= TARGET_MEMORY_US and ratio is not None and ratio <= TARGET_RATIO
        detail = "yes" if passed else _failing(worst <= TARGET_MEMORY_US, ratio, TARGET_RATIO)
        return f"<= {TARGET_MEMORY_US:.0f} us, <= {TARGET_RATIO}x", detail
    if row.name.startswith("agentcli (SQLite"):
        if row.status != "ok":
            return f"<= {TARGET_SQLITE_US:,.0f} us", "-"
        worst = max(row.us.values(), default=float("nan"))
        return f"<= {TARGET_SQLITE_US:,.0f} us", ok(worst <= TARGET_SQLITE_US)
    return "", ""


def _failing(time_ok: bool, ratio: float | None, limit: float) -> str:
    problems = []
    if not time_ok:
        problems.append("us")
    if ratio is None or ratio > limit:
        problems.append("ratio")
    return "NO (" + ", ".join(problems) + ")"


def _memory_table(results: list[Memory], options: Options) -> Table:
    messages = options.memory_sessions * MEMORY_TURNS * 2
    table = Table(
        f"Memory retained per stored message ({options.memory_sessions:,} sessions x "
        f"{MEMORY_TURNS * 2} messages, tracemalloc)",
        ["framework", "bytes/message", "total MB", "target", "ok?"],
        align="lrrll",
    )
    for result in results:
        name, retained = result.name, result.retained
        if retained is None:
            table.add([name, result.status, "", "", ""], framework=name, status=result.status)
            continue
        per = retained / messages
        is_ours = name.startswith("agentcli")
        target = f"<= {TARGET_BYTES:.0f}" if is_ours else ""
        table.add(
            [
                name,
                f"{per:,.0f}",
                f"{retained / 1e6:.1f}",
                target,
                ok(per <= TARGET_BYTES) if is_ours else "",
            ],
            framework=name,
            bytes_per_message=round(per, 1),
            total_bytes=retained,
            target=TARGET_BYTES if is_ours else None,
            ok=(per <= TARGET_BYTES) if is_ours else None,
            note=result.note,
        )
    table.notes += [
        "same texts everywhere ('question T in session S' and 'answer to ...'), kept in a "
        "dict of session id -> list; the count includes those strings and the containers",
        "agentcli: real chat turns through SessionManager into a MemoryStore (its window "
        "cache included); peers: their message objects built with their own constructors in "
        "the shape a real run returns (ids, timestamps, usage)",
    ]
    return table


# ----------------------------------------------------------------------------- orchestration

PEER_TIMINGS: tuple[tuple[str, str, Callable[[str, Options], Awaitable[Row]]], ...] = (
    ("pydantic-ai (Agent.run, FunctionModel)", "pydantic_ai", pydantic_ai_row),
    ("openai-agents (Runner.run, fake Model)", "agents", openai_agents_row),
    ("langchain-core (FakeListChatModel.ainvoke)", "langchain_core", langchain_row),
)
PEER_MEMORY: tuple[tuple[str, str, Callable[[int, int], Callable[[], Awaitable[object]]]], ...] = (
    ("pydantic-ai (ModelMessage)", "pydantic_ai", _pydantic_ai_memory),
    ("langchain-core (BaseMessage)", "langchain_core", _langchain_memory),
    ("openai-agents (input items)", "agents", _openai_agents_memory),
)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    where: str = "this process"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        rows = [
            Row(
                r["name"],
                {int(k): v for k, v in r["us"].items()},
                {int(k): v for k, v in r["spread"].items()},
                r["status"],
                r["detail"],
            )
            for r in data["rows"]
        ]
        return cls(rows, [Memory(**m) for m in data["memory"]], data["where"])


async def _ours(options: Options) -> Results:
    """The floor and agentcli, in this process (the project's venv, as users install it)."""
    results = Results()
    progress("core: floor")
    results.rows.append(await floor_row(options))
    with tempfile.TemporaryDirectory(prefix="agentcli-bench-") as tmp:
        for kind in ("memory", "sqlite"):
            progress(f"core: agentcli ({kind})")
            results.rows.append(await agentcli_row(kind, options, Path(tmp)))
    sessions, turns = options.memory_sessions, MEMORY_TURNS
    results.memory.append(await _memory("floor (plain dicts)", _floor_memory(sessions, turns)))
    results.memory.append(
        await _memory(
            "agentcli (MemoryStore via SessionManager)", await _agentcli_memory(sessions, turns)
        )
    )
    return results


async def _peers_here(options: Options) -> Results:
    """The peers that this interpreter can import, plus the floor for reference."""
    results = Results()
    floor = await floor_row(options, "floor (bare await), peers' process")
    for name, module, measure in PEER_TIMINGS:
        if has_module(module):
            progress(f"core: {name}")
            results.rows.append(await measure(name, options))
        else:
            results.rows.append(Row(name, status="not installed"))
    results.rows.append(floor)
    sessions, turns = options.memory_sessions, MEMORY_TURNS
    for name, module, factory in PEER_MEMORY:
        if has_module(module):
            results.memory.append(await _memory(name, factory(sessions, turns)))
        else:
            results.memory.append(Memory(name, status="not installed"))
    return results


def _peers(options: Options) -> Results:
    """Measure the peers in the peers' venv when there is one, else here if importable."""
    python = bench_python()
    if python is None:
        return asyncio.run(_peers_here(options))
    progress(f"core: peers, in {python}")
    command = [str(python), "-m", "benchmarks.core", "--peers"]
    if options.quick:
        command.append("--quick")
    proc = subprocess.run(  # the exit code is checked below
        command, cwd=ROOT, env=_peer_env(), stdout=subprocess.PIPE, text=True, timeout=900
    )
    if proc.returncode != 0:
        failed = Results(where=f"{python} (failed, exit {proc.returncode})")
        failed.rows = [Row(name, status="failed") for name, _, _ in PEER_TIMINGS]
        failed.memory = [Memory(name, status="failed") for name, _, _ in PEER_MEMORY]
        return failed
    results = Results.from_json(json.loads(proc.stdout))
    results.where = f"{os.path.relpath(python.parent.parent, ROOT)} (a separate process)"
    return results


def _peer_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(_NO_TRACING)
    return env


# No tracing exporters, ever: openai-agents and langsmith would send to their services.
_NO_TRACING = {
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
}


def run(*, quick: bool = False) -> Section:
    os.environ.update(_NO_TRACING)
    t0 = time.perf_counter()
    options = Options.make(quick)
    section = Section("core")
    ours = asyncio.run(_ours(options))
    peers = _peers(options)
    floor_there = next((r for r in peers.rows if r.name.startswith("floor")), None)
    rows = [r for r in peers.rows if r is not floor_there]
    section.tables.append(_timing_table([*ours.rows, *rows], options))
    section.tables.append(_memory_table([*ours.memory, *peers.memory], options))
    section.notes += [f"{r.name}: {r.status}: {r.detail}" for r in ours.rows if r.detail]
    if any(r.status == "not installed" for r in peers.rows):
        section.notes.append(f"peers not installed; to measure them: {install_hint()}")
    elif peers.where != "this process":
        floor_us = fmt_us(floor_there.us.get(0)) if floor_there else "-"
        section.notes.append(
            f"peers measured in {peers.where}, in this same run; its floor: {floor_us} us"
        )
    section.seconds = time.perf_counter() - t0
    return section


def _peers_main(argv: list[str]) -> int:
    """``python -m benchmarks.core --peers [--quick]``: the peers' results as JSON on stdout."""
    if "--peers" not in argv:
        print("usage: python -m benchmarks.core --peers [--quick] (or: python benchmarks/run.py)")
        return 2
    os.environ.update(_NO_TRACING)
    results = asyncio.run(_peers_here(Options.make("--quick" in argv)))
    print(json.dumps(results.as_json()))
    return 0


if __name__ == "__main__":
    sys.exit(_peers_main(sys.argv[1:]))
