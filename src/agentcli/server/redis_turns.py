"""Turns shared through Redis: any replica replays and follows any turn, and cancels it.

Keys, under the URL's prefix (``agentcli``; every turn's own keys share the hash tag
``{turn_id}``, so each script runs on one Cluster node):

    agentcli:turn:{T}            hash: session, model, owner, replica, status, last
    agentcli:turn:{T}:events     stream: event n has the id ``n-0``, its JSON in field ``e``
    agentcli:turn:{T}:alive      the running replica's heartbeat
    agentcli:turn:{T}:cancel     set by a replica asked to cancel the turn
    agentcli:running:<session>   the turn running on the session (for cancels)

The running replica appends each batch of events with one script, which also renews the
heartbeat and the keys' expiry (every write sets one, so nothing outlives a dead replica by
more than ``stream_retention`` plus the heartbeat's time to live). The stream is capped at
``max_events`` (``MAXLEN``). Only once a batch is written do this replica's own clients see
it (``LiveTurn.reveal``): whatever a client saw, another replica can replay. When the turn
ends, ``status`` becomes ``ended`` and the keys expire ``stream_retention`` seconds later.

The heartbeat (``alive``) lives 4/3 of the lease TTL and is renewed every third of it, as the
session lease is. A follower on another replica that finds it gone while ``status`` is still
``running`` appends one last event, ``replica_lost``, and marks the turn ``lost``: at the
earliest a lease TTL after the replica's last sign of life, when its session lease has lapsed
too, so the turn can be retried at once.

Cancels: ``POST /sessions/{id}/cancel`` on another replica sets the turn's ``cancel`` key and
publishes its id on ``agentcli:turn-cancel``; the running replica cancels it on the message
(or, had it missed it, at its next heartbeat, which reads the key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._redact import redact_text
from ._redis_lua import APPEND, LOST, OPEN, RELEASE_RUNNING, RENEW_RUNNING
from .errors import ApiError
from .event_codec import dump_event, is_terminal, load_event
from .turns import CANCELLED, REPLICA_LOST, Failed, LiveTurn, TurnEvent, TurnMirror, TurnRegistry

if TYPE_CHECKING:
    from ..stores._redis_client import Client
    from .shared import SharedRedis

__all__ = ["MAX_EVENTS", "RedisTurnLog", "RemoteTurn"]

logger = logging.getLogger("agentcli.server")

MAX_EVENTS = 20_000  # per turn: an answer streamed token by token stays well under it
POLL = 0.5  # seconds a follower waits for events before it checks the turn's heartbeat
SHORT_POLL = 0.05  # after the last event, until the turn is marked ended
CLOSE_WAIT = 5.0  # seconds an ending turn waits for its last events to be written
# Seconds one call may take (beyond a blocking read's own wait) before Redis counts as hung:
# a running turn then goes on for this replica's clients only; a follower's stream drops
# (its client reconnects with Last-Event-ID).
CALL_TIMEOUT = 3.0
READ_BATCH = 500
WARN_EVERY = 60.0  # seconds between warnings about Redis failures


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _number(entry_id: bytes | str) -> int:
    return int(_text(entry_id).partition("-")[0])


class RedisTurnLog:
    """The ``TurnLog`` over Redis streams (see the module docstring)."""

    def __init__(
        self,
        redis: SharedRedis,
        *,
        lease_ttl: float,
        retention: float,
        max_events: int = MAX_EVENTS,
    ) -> None:
        self.redis = redis
        self.prefix = redis.prefix
        self.channel = f"{redis.prefix}:turn-cancel"
        self.max_events = max_events
        self.beat = lease_ttl / 3  # heartbeat period, as the lease's renewals
        self.alive_ms = max(1, round(lease_ttl * 4000 / 3))
        self.ended_ms = max(1000, round(retention * 1000))  # a follower may still be reading
        self.live_ms = self.alive_ms + self.ended_ms
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        self._listener: asyncio.Task[None] | None = None
        self._warned_at: float | None = None

    def keys(self, turn_id: str) -> list[str]:
        """The turn's record, events, heartbeat and cancel keys."""
        base = f"{self.prefix}:turn:{{{turn_id}}}"
        return [base, f"{base}:events", f"{base}:alive", f"{base}:cancel"]

    def running_key(self, session_id: str) -> str:
        return f"{self.prefix}:running:{session_id}"

    # -------------------------------------------------------------- the running replica

    def mirror(self, turn: LiveTurn) -> TurnMirror | None:
        return _StreamMirror(self, turn)

    async def open(self, turn: LiveTurn) -> None:
        fields = ["session", turn.session_id, "model", turn.model, "owner", turn.owner]
        record, _, alive, _ = self.keys(turn.id)
        args = [self.live_ms, self.alive_ms, *fields, "replica", self.replica]
        await self.redis.run(lambda c: OPEN(c, keys=[record, alive], args=args))
        running = self.running_key(turn.session_id)
        await self.redis.run(lambda c: c.set(running, turn.id, px=self.alive_ms))

    async def append(self, turn_id: str, batch: list[tuple[int, bytes]], *, end: bool) -> int:
        """Write ``batch``; renew the heartbeat, or with ``end`` mark the turn ended. Returns
        1 if a cancel was asked for, -1 if the turn is no longer running here (lost)."""
        args: list[Any] = [self.max_events, self.live_ms, self.alive_ms, self.ended_ms]
        args.append(1 if end else 0)
        for number, payload in batch:
            args += [number, payload]
        keys = self.keys(turn_id)
        return int(await self.redis.run(lambda c: APPEND(c, keys=keys, args=args)))

    async def renew_running(self, turn: LiveTurn) -> None:
        keys, args = [self.running_key(turn.session_id)], [turn.id, self.alive_ms]
        await self.redis.run(lambda c: RENEW_RUNNING(c, keys=keys, args=args))

    async def release(self, turn: LiveTurn) -> None:
        keys = [self.running_key(turn.session_id)]
        await self.redis.run(lambda c: RELEASE_RUNNING(c, keys=keys, args=[turn.id]))

    def warn(self, what: str, exc: BaseException) -> None:
        """Log a Redis failure, redacted: at WARNING once a minute at most, else at DEBUG
        (a Redis outage would otherwise log every request)."""
        now = time.monotonic()
        level = logging.DEBUG
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY:
            level, self._warned_at = logging.WARNING, now
        text = redact_text(str(exc))[:300]
        logger.log(level, "shared state: %s failed: %s", what, text or type(exc).__name__)

    # -------------------------------------------------------------- other replicas

    async def find(self, turn_id: str) -> RemoteTurn | None:
        if not turn_id.isalnum() or len(turn_id) > 64:  # ours are hex; keep odd ids out of keys
            return None
        record, events = self.keys(turn_id)[:2]

        async def read(client: Client) -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hgetall(record)
                pipe.xrange(events, count=1)
                return list(await pipe.execute())

        found, first = await self.redis.run(read)
        if not found:
            return None
        fields = {_text(k): _text(v) for k, v in found.items()}
        return RemoteTurn(
            id=turn_id,
            session_id=fields.get("session", ""),
            model=fields.get("model", ""),
            owner=fields.get("owner", ""),
            first=_number(first[0][0]) if first else 1,
            log=self,
        )

    async def read(self, turn_id: str, after: int, block: float) -> list[tuple[int, TurnEvent]]:
        """Events numbered above ``after``: those there now, else waiting up to ``block``."""
        events = self.keys(turn_id)[1]

        async def read(client: Client) -> Any:
            if block <= 0:
                return await client.xrange(events, min=f"{after + 1}-0", count=READ_BATCH)
            ms = max(1, round(block * 1000))
            found: Any = await client.xread({events: f"{after}-0"}, count=READ_BATCH, block=ms)
            return found[0][1] if found else []

        entries = await asyncio.wait_for(self.redis.run(read), max(block, 0) + CALL_TIMEOUT)
        return [(_number(entry_id), load_event(fields[b"e"])) for entry_id, fields in entries]

    async def state(self, turn_id: str) -> tuple[str | None, int, bool]:
        """The turn's status (``None`` once its keys expired), last event and heartbeat."""
        record, _, alive, _ = self.keys(turn_id)

        async def read(client: Client) -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hmget(record, ["status", "last"])
                pipe.exists(alive)
                return list(await pipe.execute())

        (status, last), beating = await asyncio.wait_for(self.redis.run(read), CALL_TIMEOUT)
        return (_text(status) or None), int(last or 0), bool(beating)

    async def declare_lost(self, turn_id: str) -> None:
        """End a turn whose replica stopped beating with ``replica_lost`` (if it did not
        end meanwhile, or another follower did it first)."""
        keys = self.keys(turn_id)[:3]
        args = [self.max_events, self.ended_ms, dump_event(Failed(REPLICA_LOST))]
        await self.redis.run(lambda c: LOST(c, keys=keys, args=args))

    async def cancel_elsewhere(self, session_id: str, wait: float) -> list[str]:
        running = self.running_key(session_id)
        turn_id = _text(await self.redis.run(lambda c: c.get(running)))
        if not turn_id or (await self.state(turn_id))[0] != "running":
            return []  # none, or one that has just ended
        cancel = self.keys(turn_id)[3]
        await self.redis.run(lambda c: c.set(cancel, b"1", px=self.alive_ms))
        await self.redis.run(lambda c: c.publish(self.channel, turn_id))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while loop.time() < deadline:
            status, _, _ = await self.state(turn_id)
            if status != "running":
                break
            await asyncio.sleep(SHORT_POLL)
        return [turn_id]

    # -------------------------------------------------------------- cancels for us

    def start(self, registry: TurnRegistry) -> None:
        loop = asyncio.get_running_loop()
        self._listener = loop.create_task(self._listen(registry), name="agentcli cancels")

    async def _listen(self, registry: TurnRegistry) -> None:
        while True:
            try:
                pubsub = (await self.redis.client()).pubsub(ignore_subscribe_messages=True)
            except Exception as exc:
                self.warn("listening for cancels", exc)
                await asyncio.sleep(1.0)
                continue
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=POLL * 2)
                    if message is not None and message.get("type") == "message":
                        registry.cancel_running(_text(message["data"]), CANCELLED)
            except Exception as exc:
                self.warn("listening for cancels", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener


class _StreamMirror:
    """Copies one turn's events to its stream, in order, in batches (see the docstring)."""

    def __init__(self, log: RedisTurnLog, turn: LiveTurn) -> None:
        self._log = log
        self._turn = turn
        self._pending: list[tuple[int, bytes]] = []
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._broken = False

    def push(self, number: int, event: TurnEvent) -> None:
        if self._broken:
            self._turn.reveal(number)
            return
        self._pending.append((number, dump_event(event)))
        self._kick.set()

    def held(self) -> None:
        if self._task is None and not self._broken:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name=f"turn {self._turn.id} stream")

    async def close(self) -> None:
        self._closing = True
        self._kick.set()
        if self._task is None:
            return  # never held its session: nothing was shared
        try:
            await asyncio.wait_for(asyncio.shield(self._task), CLOSE_WAIT)
        except TimeoutError as exc:
            self._task.cancel()
            self._give_up("writing the end of a turn", exc)

    async def _run(self) -> None:
        log, turn = self._log, self._turn
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(log.open(turn), CALL_TIMEOUT)
            renewed = loop.time()
            while True:
                ending = self._closing  # set only after the turn published its last event
                batch, self._pending = self._pending, []
                answer = await asyncio.wait_for(
                    log.append(turn.id, batch, end=ending), CALL_TIMEOUT
                )
                if batch:
                    turn.reveal(batch[-1][0])
                if answer < 0:
                    raise LookupError("the turn was marked lost or expired meanwhile")
                if ending:
                    await asyncio.wait_for(log.release(turn), CALL_TIMEOUT)
                    return
                if answer > 0:
                    turn.cancel(CANCELLED)
                await self._wait()
                if loop.time() - renewed >= log.beat:
                    renewed = loop.time()
                    await asyncio.wait_for(log.renew_running(turn), CALL_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._give_up("writing a turn's events", exc)

    async def _wait(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kick.wait(), self._log.beat)
        self._kick.clear()

    def _give_up(self, what: str, exc: BaseException) -> None:
        """Redis failed: the turn goes on for this replica's clients only."""
        self._broken = True
        self._log.warn(what, exc)
        self._turn.reveal(len(self._turn.events))


@dataclass
class RemoteTurn:
    """A turn found in Redis (run by this or another replica): a ``TurnView``."""

    id: str
    session_id: str
    model: str
    owner: str
    first: int  # the first event still kept (1 unless the stream was capped)
    log: RedisTurnLog

    def check_resumable(self, after: int) -> None:
        if after + 1 < self.first:
            raise ApiError(
                410,
                "events_expired",
                f"events before #{self.first} of turn {self.id!r} are no longer kept",
                "invalid_request_error",
            )

    async def follow(
        self, after: int = 0, *, keepalive: float
    ) -> AsyncIterator[tuple[int, TurnEvent] | None]:
        log, cursor, quiet, wait = self.log, max(0, after), 0.0, min(POLL, keepalive)
        while True:
            batch = await log.read(self.id, cursor, wait)
            for number, event in batch:
                cursor = number
                yield number, event
            if batch and not is_terminal(batch[-1][1]):
                quiet, wait = 0.0, min(POLL, keepalive)
                continue
            status, last, alive = await log.state(self.id)
            if status is None or (status != "running" and cursor >= last):
                return  # the end (or its keys expired)
            if status == "running" and not alive:
                await log.declare_lost(self.id)
                wait = 0.0
            elif batch or status != "running":
                quiet, wait = 0.0, SHORT_POLL  # the end is being written
            else:
                quiet, wait = quiet + wait, min(POLL, keepalive)
                if quiet >= keepalive:
                    quiet = 0.0
                    yield None
