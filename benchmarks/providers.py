"""Provider agent overhead against a loopback OpenAI-compatible server (issue 4).

A fake Chat Completions server (``fake_openai.py``) runs in its own process on 127.0.0.1, so
it does not share this process's event loop or GIL. Our ``OpenAIAgent`` and the bare
``openai.AsyncOpenAI().chat.completions.create`` talk to it in the same run, interleaved turn by
turn. The bare call replays the exact JSON body our agent sent (captured by the server), so
both send the same request; the difference is what the agent adds.

First-chunk latency: the SDK's stream generator (``AsyncStream.__stream__``) is wrapped, in
this benchmark only, to stamp the moment the SDK yields each chunk; the caller stamps the
moment it receives the first text. The server pauses 2 ms between chunks there, so an agent
that held text back would show it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._common import Section, Table, fmt_ms, fmt_ratio, has_module, median, ok, progress

MODEL = "gpt-4o-mini"
INPUT = "hello"
TARGET_RATIO = 1.15
TARGET_FIRST_CHUNK_MS = 1.0
SERVER = Path(__file__).with_name("fake_openai.py")
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@dataclass
class Options:
    turns: int = 200
    warmup: int = 20
    first_chunk_turns: int = 100

    @classmethod
    def make(cls, quick: bool) -> Options:
        return cls(turns=30, warmup=5, first_chunk_turns=15) if quick else cls()


@dataclass
class Pair:
    """Milliseconds per turn of the bare SDK and of our agent, measured interleaved."""

    sdk: list[float] = field(default_factory=list)
    agent: list[float] = field(default_factory=list)

    def ratio(self) -> float | None:
        if not self.sdk or not self.agent:
            return None
        return median(self.agent) / median(self.sdk)


# ----------------------------------------------------------------------------- the server


@contextmanager
def fake_server() -> Any:
    """Start the fake server process; yields its port."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the fake server did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _last_request(port: int, stream: bool) -> dict[str, Any]:
    """The JSON body of the last request the server got (proxies bypassed: loopback only)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url = f"http://127.0.0.1:{port}/_bench/last?stream={int(stream)}"
    with opener.open(url, timeout=5) as response:
        body: dict[str, Any] = json.loads(response.read())
    return body


# ----------------------------------------------------------------------------- first chunk


class Stamps:
    """Wraps ``openai.AsyncStream.__stream__`` to stamp each chunk as the SDK yields it."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, Any]] = []
        self._original: Any = None

    def __enter__(self) -> Stamps:
        from openai import AsyncStream

        original = AsyncStream.__stream__
        chunks = self.chunks

        async def stamped(stream: Any) -> AsyncIterator[Any]:
            async for item in original(stream):
                chunks.append((time.perf_counter(), item))
                yield item

        self._original = original
        AsyncStream.__stream__ = stamped  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        from openai import AsyncStream

        AsyncStream.__stream__ = self._original  # type: ignore[method-assign]

    def first_text(self) -> float | None:
        """When the SDK yielded the first chunk that carries text."""
        for stamp, chunk in self.chunks:
            choices = getattr(chunk, "choices", None)
            if choices and choices[0].delta.content:
                return stamp
        return None


# ----------------------------------------------------------------------------- the run


async def _interleaved(
    sdk: Callable[[], Awaitable[object]],
    agent: Callable[[], Awaitable[object]] | None,
    turns: int,
    warmup: int,
) -> Pair:
    pair = Pair()
    for _ in range(warmup):
        await sdk()
        if agent is not None:
            await agent()
    for i in range(turns):
        order: list[tuple[list[float], Callable[[], Awaitable[object]]]] = [(pair.sdk, sdk)]
        if agent is not None:
            # Alternate who goes first, so neither always gets the warmer connection.
            order.append((pair.agent, agent))
            if i % 2:
                order.reverse()
        for out, call in order:
            t0 = time.perf_counter()
            await call()
            out.append((time.perf_counter() - t0) * 1000)
    return pair


class Subjects:
    """The bare SDK client and our agent, both pointed at one base URL."""

    def __init__(self, base_url: str) -> None:
        import openai

        self.client = openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=3)
        self.agent: Any = None
        self.context: Any = None
        self.status = "ok"
        self.detail = ""
        # The requests to replay: what our agent sends (set by ``capture``), else plain ones.
        self.plain: dict[str, Any] = {
            "model": MODEL,
            "messages": [{"role": "user", "content": INPUT}],
        }
        self.streamed: dict[str, Any] = {
            **self.plain,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        try:
            from agentcli.agents.openai import OpenAIAgent
            from agentcli.config import load_settings
            from agentcli.messages import AgentContext
        except ImportError as exc:
            self.status, self.detail = "missing", str(exc)
            return
        settings = load_settings(env_file=None, openai_api_key="sk-bench", openai_base_url=base_url)
        self.agent = OpenAIAgent.from_settings(MODEL, settings)
        self.context = AgentContext(input=INPUT, session_id="bench")

    async def capture(self, port: int) -> None:
        """Make one turn of each kind with our agent and keep the bodies it sent."""
        if self.agent is None:
            return
        await self.agent_plain()
        self.plain = _last_request(port, stream=False)
        await self.agent_stream()
        self.streamed = _last_request(port, stream=True)

    async def close(self) -> None:
        await self.client.close()
        if self.agent is not None:
            await self.agent.aclose()

    async def sdk_plain(self) -> str:
        completion = await self.client.chat.completions.create(**self.plain)
        return completion.choices[0].message.content or ""

    async def sdk_stream(self, first: list[float] | None = None) -> str:
        """The streamed answer; appends the time the first text arrived to ``first``."""
        parts: list[str] = []
        stream = await self.client.chat.completions.create(**self.streamed)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if first is not None and not parts:
                    first.append(time.perf_counter())
                parts.append(chunk.choices[0].delta.content)
        return "".join(parts)

    async def agent_plain(self) -> str:
        response = await self.agent.process(self.context)
        return str(response.output)

    async def agent_stream(self, first: list[float] | None = None) -> str:
        from agentcli.agent import TextDelta

        parts: list[str] = []
        async for event in self.agent.stream_events(self.context):
            if isinstance(event, TextDelta) and event.text:
                if first is not None and not parts:
                    first.append(time.perf_counter())
                parts.append(event.text)
        return "".join(parts)


async def _measure(port: int, options: Options, section: Section) -> list[Table]:
    base = f"http://127.0.0.1:{port}"
    subjects = Subjects(f"{base}/v1")
    try:
        await subjects.capture(port)
        has_agent = subjects.agent is not None
        if has_agent:
            section.notes.append(
                "the bare SDK sends the same JSON our agent sent: non-streaming keys "
                f"{sorted(subjects.plain)}, streaming keys {sorted(subjects.streamed)}"
            )
        else:
            section.notes.append(
                f"OpenAIAgent {subjects.status} ({subjects.detail}): only the bare SDK is measured"
            )
        modes: dict[str, Pair] = {}
        for mode, sdk, agent in (
            ("non-streaming", subjects.sdk_plain, subjects.agent_plain),
            ("streaming", subjects.sdk_stream, subjects.agent_stream),
        ):
            progress(f"providers: {mode}")
            modes[mode] = await _interleaved(
                sdk, agent if has_agent else None, options.turns, options.warmup
            )
    finally:
        await subjects.close()
    progress("providers: first chunk")
    gap = Subjects(f"{base}/gap/v1")
    gap.plain, gap.streamed = subjects.plain, subjects.streamed
    try:
        first = await _first_chunk(gap, options)
    finally:
        await gap.close()
    return [_turn_table(modes, subjects.status, options), _first_table(first, gap.status)]


async def _first_chunk(subjects: Subjects, options: Options) -> Pair:
    """Milliseconds from the SDK yielding the first text chunk to the caller receiving it."""
    pair = Pair()
    with Stamps() as stamps:

        async def lag(stream: Callable[[list[float]], Awaitable[object]], out: list[float]) -> None:
            stamps.chunks.clear()
            received: list[float] = []
            await stream(received)
            yielded = stamps.first_text()
            if received and yielded is not None:
                out.append((received[0] - yielded) * 1000)

        for turn in range(min(options.warmup, 5) + options.first_chunk_turns):
            if turn == min(options.warmup, 5):
                pair.sdk.clear()
                pair.agent.clear()
            await lag(subjects.sdk_stream, pair.sdk)
            if subjects.agent is not None:
                await lag(subjects.agent_stream, pair.agent)
    return pair


def _turn_table(modes: dict[str, Pair], status: str, options: Options) -> Table:
    table = Table(
        f"OpenAIAgent vs the bare openai SDK, ms per turn (median of {options.turns}, "
        "loopback fake server)",
        ["mode", "bare SDK", "OpenAIAgent", "added", "ratio", "target", "ok?"],
        align="lrrrrll",
    )
    for mode, pair in modes.items():
        sdk_ms = median(pair.sdk)
        agent_ms = median(pair.agent) if pair.agent else None
        ratio = pair.ratio()
        table.add(
            [
                mode,
                fmt_ms(sdk_ms),
                fmt_ms(agent_ms) if agent_ms is not None else status,
                fmt_ms(agent_ms - sdk_ms) if agent_ms is not None else "",
                fmt_ratio(ratio),
                f"<= {TARGET_RATIO}x",
                ok(None if ratio is None else ratio <= TARGET_RATIO),
            ],
            mode=mode,
            sdk_ms=sdk_ms,
            agent_ms=agent_ms,
            ratio=ratio,
            target=TARGET_RATIO,
            ok=None if ratio is None else ratio <= TARGET_RATIO,
            sdk_all_ms=[round(x, 4) for x in pair.sdk],
            agent_all_ms=[round(x, 4) for x in pair.agent],
        )
    table.notes += [
        "one turn = a request and the whole answer (streamed: 3 text chunks, finish, usage); "
        "the agent's turn includes its usage and cost (genai-prices) metadata",
        "the server is another process on 127.0.0.1; SDK and agent turns alternate",
        "a 2-core machine shared with other work: numbers are noisy when it is loaded",
    ]
    return table


def _first_table(pair: Pair, status: str) -> Table:
    table = Table(
        "First streamed chunk: SDK yields it -> the caller receives it, ms (median)",
        ["path", "median", "max", "turns", "target", "ok?"],
        align="lrrrll",
    )
    table.add(
        [
            "bare SDK stream (async for)",
            fmt_ms(median(pair.sdk)),
            fmt_ms(max(pair.sdk, default=None)),
            str(len(pair.sdk)),
            "",
            "",
        ],
        path="sdk",
        median_ms=median(pair.sdk),
        all_ms=[round(x, 4) for x in pair.sdk],
    )
    if pair.agent:
        lag = median(pair.agent)
        table.add(
            [
                "OpenAIAgent.stream_events",
                fmt_ms(lag),
                fmt_ms(max(pair.agent)),
                str(len(pair.agent)),
                f"<= {TARGET_FIRST_CHUNK_MS:.0f} ms",
                ok(lag <= TARGET_FIRST_CHUNK_MS),
            ],
            path="agent",
            median_ms=lag,
            target_ms=TARGET_FIRST_CHUNK_MS,
            ok=lag <= TARGET_FIRST_CHUNK_MS,
            all_ms=[round(x, 4) for x in pair.agent],
        )
    else:
        table.add(
            ["OpenAIAgent.stream_events", status, "", "", f"<= {TARGET_FIRST_CHUNK_MS:.0f} ms", "-"]
        )
    table.notes.append(
        "the server pauses 2 ms between chunks here; the SDK's chunk generator is wrapped "
        "(in this benchmark only) to stamp each chunk as it is yielded"
    )
    return table


def run(*, quick: bool = False) -> Section:
    t0 = time.perf_counter()
    section = Section("providers")
    if not has_module("openai"):
        section.notes.append(
            "the openai SDK is not installed: pip install -e '.[openai]' (or the dev requirements)"
        )
        section.seconds = time.perf_counter() - t0
        return section
    # Loopback only: no proxy may carry these requests anywhere.
    saved = {k: os.environ.pop(k) for k in (*_PROXY_VARIABLES, "NO_PROXY") if k in os.environ}
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    try:
        with fake_server() as port:
            section.tables.extend(asyncio.run(_measure(port, Options.make(quick), section)))
    finally:
        os.environ.pop("NO_PROXY")
        os.environ.update(saved)
    section.seconds = time.perf_counter() - t0
    return section
