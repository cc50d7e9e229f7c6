"""The web service's own cost: ``agentcli serve`` against a bare FastAPI app (issue 5).

Both run as their own processes on 127.0.0.1 with the same uvicorn settings (one worker, the
options of ``agentcli.server.runner.uvicorn_options``); ``benchmarks/_server_app.py`` is the
bare app (the same routes and JSON shapes, nothing behind them) and the agents agentcli serves:
``Instant`` (answers ``ok`` at once) and ``Held`` (one delta, then waits). agentcli uses the
memory store (``--ephemeral``) and checks an API key (both get the header).

One load generator for every row, in this process: raw asyncio HTTP/1.1 over keep-alive
connections (a Python client would otherwise cost more than the servers), plus the openai SDK
for its row. Rounds alternate between the two servers so neither gets the quieter moments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import Section, Table, fmt_ms, fmt_ratio, has_module, median, ok, progress

APP = Path(__file__).resolve().with_name("_server_app.py")
INSTANT = f"{APP}:Instant"
HELD = f"{APP}:Held"
KEY = "bench-key-0123456789abcdef"
MESSAGE = "hello there"
TARGET_RPS = 0.6  # at least this share of the bare app's requests per second
TARGET_P50_MS = 1.0
TARGET_P99_MS = 5.0
TARGET_TTFE_MS = 1.0
TARGET_SDK_RATIO = 1.2
TARGET_STREAMS_MB = 200.0
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@dataclass
class Options:
    rounds: int = 3
    rps_seconds: float = 3.0
    rps_clients: int = 32
    latency_requests: int = 600  # per round, per concurrency
    sse_requests: int = 300  # per round
    sdk_calls: int = 100  # per round
    streams: int = 1000

    @classmethod
    def make(cls, quick: bool) -> Options:
        if quick:
            return cls(1, 1.0, 16, 150, 60, 30, 200)
        return cls()


# ----------------------------------------------------------------------------- the servers


class Server:
    """One server process; ``port`` once it listens."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], cwd: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        found = threading.Event()
        self.port = 0

        def read(stream: Any) -> None:
            for line in stream:
                self.lines.append(line)
                port = _port_in(line)
                if port and not self.port:
                    self.port = port
                    found.set()
            found.set()  # it ended

        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(target=read, args=(stream,), daemon=True).start()
        if not found.wait(60) or not self.port:
            self.stop()
            raise RuntimeError(f"{name} did not start: {''.join(self.lines)[-2000:]}")

    def rss_mb(self) -> float:
        """Resident memory of the server process (``VmRSS`` in ``/proc``)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _port_in(line: str) -> int:
    if line.startswith("PORT "):
        return int(line.split()[1])
    marker = "agentcli serve: listening on http://127.0.0.1:"
    if line.startswith(marker):
        return int(line[len(marker) :].split()[0])
    return 0


def _env(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES}
    env.update(
        AGENTCLI_DATA_DIR=data_dir,
        AGENTCLI_API_KEYS=KEY,
        AGENTCLI_RATE_LIMIT_PER_MINUTE="0",
        AGENTCLI_SHUTDOWN_GRACE="0.5",
        AGENTCLI_LOG_LEVEL="WARNING",
    )
    env.pop("DEFAULT_MODEL", None)
    return env


def start_pair(tmp: str) -> tuple[Server, Server]:
    env = _env(tmp)
    bare = Server("bare", [sys.executable, str(APP)], env, tmp)
    try:
        serve = [sys.executable, "-m", "agentcli", "serve", "--port", "0", "--ephemeral"]
        agentcli = Server("agentcli", [*serve, "--agent", INSTANT, "--agent", HELD], env, tmp)
    except BaseException:
        bare.stop()
        raise
    return bare, agentcli


# ----------------------------------------------------------------------------- raw HTTP


def request(port: int, path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough parsing for these answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def _head(self) -> tuple[int, int | None]:
        """The status, and the body's length (``None``: chunked)."""
        head = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        if b"transfer-encoding: chunked" in head:
            return status, None
        at = head.index(b"content-length:") + len(b"content-length:")
        return status, int(head[at : head.index(b"\r\n", at)])

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return
            yield (await self.reader.readexactly(size + 2))[:-2]

    async def call(self, raw: bytes) -> int:
        """Send a request and read the whole answer; its status."""
        self.writer.write(raw)
        status, length = await self._head()
        if length is None:
            async for _ in self._chunks():
                pass
        else:
            await self.reader.readexactly(length)
        return status

    async def stream(self, raw: bytes, *, hold: bool = False) -> tuple[float, float]:
        """Send a streaming request: (seconds to the first event, to the first delta). With
        ``hold`` it returns at the first delta and leaves the stream open."""
        started = time.perf_counter()
        self.writer.write(raw)
        status, length = await self._head()
        if status != 200 or length is not None:
            raise RuntimeError(f"stream answered {status}")
        first = delta = 0.0
        async for chunk in self._chunks():
            now = time.perf_counter() - started
            first = first or now
            if not delta and b"event: delta" in chunk:
                delta = now
                if hold:
                    break
        return first, delta


# ----------------------------------------------------------------------------- the load


@dataclass
class Subject:
    """One server and the requests it gets (the same bodies, but for agentcli's model names)."""

    name: str
    server: Server
    held_model: str
    sdk_model: str

    @property
    def port(self) -> int:
        return self.server.port

    def chat(self) -> bytes:
        return request(self.port, "/chat", {"message": MESSAGE})

    def stream(self) -> bytes:
        return request(self.port, "/chat/stream", {"message": MESSAGE})

    def held(self) -> bytes:
        return request(self.port, "/chat/stream", {"message": MESSAGE, "model": self.held_model})


def subjects_of(bare: Server, agentcli: Server) -> list[Subject]:
    return [Subject("bare", bare, "held", "instant"), Subject("agentcli", agentcli, HELD, INSTANT)]


async def _connections(port: int, count: int) -> list[Connection]:
    return list(await asyncio.gather(*(Connection.open(port) for _ in range(count))))


async def _closed(connections: list[Connection]) -> None:
    await asyncio.gather(*(c.close() for c in connections))


async def _checked(connection: Connection, raw: bytes, who: str) -> None:
    status = await connection.call(raw)
    if status != 200:
        raise RuntimeError(f"{who}: POST /chat answered {status}")


async def requests_per_second(subject: Subject, clients: int, seconds: float) -> float:
    raw = subject.chat()
    connections = await _connections(subject.port, clients)
    try:
        for connection in connections:  # warm every connection (and the server) first
            for _ in range(5):
                await _checked(connection, raw, subject.name)
        loop = asyncio.get_running_loop()
        stop = loop.time() + seconds
        done = [0]

        async def client(connection: Connection) -> None:
            while loop.time() < stop:
                await _checked(connection, raw, subject.name)
                done[0] += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(c) for c in connections))
        return done[0] / (time.perf_counter() - started)
    finally:
        await _closed(connections)


async def latencies(subject: Subject, clients: int, total: int) -> list[float]:
    """Milliseconds per ``POST /chat``, ``clients`` at a time, one connection each."""
    raw = subject.chat()
    connections = await _connections(subject.port, clients)
    out: list[float] = []

    async def client(connection: Connection) -> None:
        for number in range(total // clients + 10):
            started = time.perf_counter()
            await _checked(connection, raw, subject.name)
            if number >= 10:  # the first few warm up
                out.append((time.perf_counter() - started) * 1000)

    try:
        await asyncio.gather(*(client(c) for c in connections))
    finally:
        await _closed(connections)
    return out


async def first_events(subject: Subject, count: int) -> tuple[list[float], list[float]]:
    """Milliseconds from sending ``POST /chat/stream`` to its first event, and to its first
    text delta; one client."""
    raw = subject.stream()
    connection = await Connection.open(subject.port)
    first: list[float] = []
    delta: list[float] = []
    try:
        for number in range(count + 10):
            to_first, to_delta = await connection.stream(raw)
            if number >= 10:
                first.append(to_first * 1000)
                delta.append(to_delta * 1000)
    finally:
        await connection.close()
    return first, delta


async def sdk_calls(subject: Subject, count: int) -> list[float]:
    """Milliseconds per ``chat.completions.create`` through the openai SDK; one client."""
    import openai

    client = openai.AsyncOpenAI(
        api_key=KEY, base_url=f"http://127.0.0.1:{subject.port}/v1", max_retries=0
    )
    messages: Any = [{"role": "user", "content": MESSAGE}]
    out: list[float] = []
    try:
        for number in range(count + 10):
            started = time.perf_counter()
            completion = await client.chat.completions.create(
                model=subject.sdk_model, messages=messages
            )
            if number >= 10:
                out.append((time.perf_counter() - started) * 1000)
            if completion.choices[0].message.content is None:
                raise RuntimeError(f"{subject.name}: an empty completion")
    finally:
        await client.close()
    return out


async def open_streams(subject: Subject, count: int) -> tuple[float, float]:
    """The server's resident MB idle (warmed up), then with ``count`` streams open, each one
    past its first text delta."""
    for _ in range(20):
        connection = await Connection.open(subject.port)
        await connection.stream(subject.stream())
        await connection.close()
    idle = subject.server.rss_mb()
    raw = subject.held()
    gate = asyncio.Semaphore(100)  # connect a hundred at a time: the listen backlog is finite

    async def hold() -> Connection:
        async with gate:
            connection = await Connection.open(subject.port)
            await connection.stream(raw, hold=True)
            return connection

    connections = list(await asyncio.gather(*(hold() for _ in range(count))))
    try:
        return idle, subject.server.rss_mb()
    finally:
        await _closed(connections)


# ----------------------------------------------------------------------------- the run


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Results:
    rps: dict[str, list[float]]
    latency: dict[tuple[str, int], list[float]]
    first: dict[str, list[float]]
    delta: dict[str, list[float]]
    sdk: dict[str, list[float]]
    sdk_missing: str = ""
    streams: dict[str, tuple[float, float]] | None = None


async def _sdk_round(results: Results, subject: Subject, options: Options) -> None:
    if results.sdk_missing:
        return
    try:
        results.sdk.setdefault(subject.name, []).extend(await sdk_calls(subject, options.sdk_calls))
    except Exception as exc:  # the route may not exist yet: say so in its row
        if subject.name == "bare":
            raise
        results.sdk_missing = f"{type(exc).__name__}: {str(exc)[:120]}"


async def measure(subjects: list[Subject], options: Options) -> Results:
    results = Results({}, {}, {}, {}, {})
    for round_number in range(options.rounds):
        order = subjects if round_number % 2 == 0 else subjects[::-1]
        progress(f"server: round {round_number + 1} of {options.rounds}")
        for subject in order:
            rps = await requests_per_second(subject, options.rps_clients, options.rps_seconds)
            results.rps.setdefault(subject.name, []).append(rps)
            for clients in (1, 8):
                found = await latencies(subject, clients, options.latency_requests)
                results.latency.setdefault((subject.name, clients), []).extend(found)
            first, delta = await first_events(subject, options.sse_requests)
            results.first.setdefault(subject.name, []).extend(first)
            results.delta.setdefault(subject.name, []).extend(delta)
            await _sdk_round(results, subject, options)
    return results


def _row(
    table: Table,
    what: str,
    bare: float,
    ours: float,
    *,
    compare: str,
    target: str,
    passed: bool | None,
    fmt: Callable[[float], str] = fmt_ms,
) -> None:
    table.add(
        [what, fmt(bare), fmt(ours), compare, target, ok(passed)],
        measure=what,
        bare=bare,
        agentcli=ours,
        target=target,
        ok=passed,
    )


def _latency_rows(table: Table, results: Results) -> None:
    for clients in (1, 8):
        bare, ours = results.latency[("bare", clients)], results.latency[("agentcli", clients)]
        for label, fraction, target in (("p50", 0.5, TARGET_P50_MS), ("p99", 0.99, TARGET_P99_MS)):
            b, o = percentile(bare, fraction), percentile(ours, fraction)
            _row(
                table,
                f"POST /chat latency {label}, {clients} client{'s' if clients > 1 else ''} (ms)",
                b,
                o,
                compare=f"+{fmt_ms(o - b)} ms",
                target=f"<= +{target:g} ms",
                passed=o - b <= target,
            )


def _sse_rows(table: Table, results: Results) -> None:
    b, o = median(results.first["bare"]), median(results.first["agentcli"])
    _row(
        table,
        "SSE time to first event, p50 (ms)",
        b,
        o,
        compare=f"+{fmt_ms(o - b)} ms",
        target=f"<= +{TARGET_TTFE_MS:g} ms",
        passed=o - b <= TARGET_TTFE_MS,
    )
    b, o = median(results.delta["bare"]), median(results.delta["agentcli"])
    _row(
        table,
        "SSE time to first text, p50 (ms)",
        b,
        o,
        compare=f"+{fmt_ms(o - b)} ms",
        target="",
        passed=None,
    )


def _sdk_row(table: Table, results: Results) -> None:
    what = "openai SDK chat.completions.create, p50 (ms)"
    if results.sdk_missing or "agentcli" not in results.sdk:
        table.add(
            [
                what,
                fmt_ms(median(results.sdk.get("bare", []))),
                "NOT MEASURED YET",
                "",
                f"<= {TARGET_SDK_RATIO}x",
                "-",
            ],
            measure=what,
            missing=results.sdk_missing,
        )
        table.notes.append(f"/v1/chat/completions not measured: {results.sdk_missing}")
        return
    b, o = median(results.sdk["bare"]), median(results.sdk["agentcli"])
    _row(
        table,
        what,
        b,
        o,
        compare=fmt_ratio(o / b),
        target=f"<= {TARGET_SDK_RATIO}x",
        passed=o / b <= TARGET_SDK_RATIO,
    )


def _streams_row(table: Table, results: Results, count: int) -> None:
    assert results.streams is not None
    (bare_idle, bare_open), (idle, held) = results.streams["bare"], results.streams["agentcli"]
    per_stream = (held - idle) * 1024 / count
    _row(
        table,
        f"{count:,} open streams, one worker: resident MB",
        bare_open,
        held,
        compare=f"idle {bare_idle:.0f} / {idle:.0f} MB; +{per_stream:.0f} KB a stream",
        target=f"< {TARGET_STREAMS_MB:g} MB",
        passed=held < TARGET_STREAMS_MB,
        fmt=lambda mb: f"{mb:.0f}",
    )


def tables(results: Results, options: Options) -> Table:
    table = Table(
        "agentcli serve vs a bare FastAPI app: same uvicorn (1 worker, loopback), same load",
        ["measure", "bare", "agentcli", "agentcli vs bare", "target", "ok?"],
        align="lrrrll",
    )
    b, o = median(results.rps["bare"]), median(results.rps["agentcli"])
    _row(
        table,
        f"POST /chat requests/s, {options.rps_clients} clients",
        b,
        o,
        compare=fmt_ratio(o / b),
        target=f">= {TARGET_RPS}x",
        passed=o / b >= TARGET_RPS,
        fmt=lambda v: f"{v:,.0f}",
    )
    _latency_rows(table, results)
    _sse_rows(table, results)
    _sdk_row(table, results)
    _streams_row(table, results, options.streams)
    table.notes += [
        f"{options.rounds} rounds, servers alternating; requests/s: median of the rounds "
        f"({options.rps_seconds:g} s each); latencies: all requests of all rounds",
        "agentcli: an instant agent, the memory store, an API key checked, every turn a new "
        "session (stored, its window and tokens counted), its middleware and metrics",
        "the load generator shares the 2 cores with the servers: at full load it is part of "
        "what limits both servers' requests/s",
    ]
    return table


async def _run(options: Options) -> Results:
    with tempfile.TemporaryDirectory(prefix="agentcli-bench-server-") as tmp:
        bare, agentcli = start_pair(tmp)
        try:
            results = await measure(subjects_of(bare, agentcli), options)
        finally:
            agentcli.stop()
            bare.stop()
        progress(f"server: {options.streams:,} open streams")
        # Fresh servers: the rounds above left thousands of sessions in agentcli's memory.
        bare, agentcli = start_pair(tmp)
        try:
            results.streams = {
                s.name: await open_streams(s, options.streams) for s in subjects_of(bare, agentcli)
            }
        finally:
            agentcli.stop()
            bare.stop()
    return results


def run(*, quick: bool = False) -> Section:
    started = time.perf_counter()
    section = Section("server")
    if not (has_module("fastapi") and has_module("uvicorn") and has_module("openai")):
        section.notes.append(
            "needs the server and openai extras: pip install -e '.[server,openai]'"
        )
        section.seconds = time.perf_counter() - started
        return section
    options = Options.make(quick)
    saved = {k: os.environ.pop(k) for k in (*_PROXY_VARIABLES, "NO_PROXY") if k in os.environ}
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"  # loopback only, for the SDK too
    try:
        results = asyncio.run(_run(options))
    finally:
        os.environ.pop("NO_PROXY")
        os.environ.update(saved)
    section.tables.append(tables(results, options))
    section.seconds = time.perf_counter() - started
    return section


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv).render())
