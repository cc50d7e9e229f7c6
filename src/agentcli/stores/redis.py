"""Redis (or Valkey, or a Redis Cluster): sessions shared by every process that can reach it.

Key layout, under a prefix (``agentcli`` unless the URL says ``?prefix=``, so deployments can
share a server). A session's keys share one hash tag, ``{s:<id>}``, the id percent-encoded so a
``}`` in it cannot end the tag early; a Cluster thus keeps all of them on one node:

- ``<prefix>:{s:<id>}:meta``, a hash: ``created``, ``updated`` (microseconds since the epoch,
  the server's clock), ``seq`` (the last one), ``tokens``, ``window``, ``title``, ``rev``,
  ``owner``, and one ``m:<key>`` field per metadata key, its value as JSON;
- ``<prefix>:{s:<id>}:log``, a list: message ``seq`` is at index ``seq - 1``, each the JSON of
  the other stores (pydantic's ``dump_json``) with ``seq`` first;
- ``<prefix>:{s:<id>}:lease``, the turn's lease: its holder's token, with its own expiry;
- ``<prefix>:{s:<id>}:spend``, the session's spend counter (USD, ``INCRBYFLOAT``), written,
  expired and deleted with the other keys of the session.

Other spend counters (``add_spend``), such as an API key's per day, are
``<prefix>:{spend:<percent-encoded scope>}``, each with its own expiry.

Two sorted sets index sessions by last activity (the score is ``updated``):
``<prefix>:{idx}:all`` and, per owner, ``<prefix>:{idx}:owner:<hex of the owner>``.

Atomicity: every write is one Lua script (``_redis_scripts.py``) on the session's keys, so a
batch is stored whole or not at all, its ``seq`` numbers come from the counter in ``meta``, and
``expected_last_seq`` is checked in the same step. An append or a read of the last messages is
one round trip (``EVALSHA``; ``LRANGE``). On a single server the same script also moves the
session in the indexes (it names the owner's index itself, from the owner it reads: allowed on
a single server, where no key is in another node's slot). On a Cluster the indexes are in
another slot: the client updates them just after (one more round trip, ``INDEX``). That
second step is not atomic with the first: a reader may meet an index entry of a session that
is gone (readers skip it and prune it), and a session written by a process that died between
the two steps stays out of the listing until its next write. Scores only move up
(``ZADD GT``), so concurrent writers cannot set one back.

Expiry: ``session_ttl`` seconds of inactivity (0: never). Each write sets the expiry of every
key of the session in the same script, to the same server millisecond, so a session expires
whole or not at all. Reads do not extend it: a session kept only to be read (an archive) is
what ``session_ttl=0`` is for, and a read that wrote would cost every read a write on the
server. A lapsed session's index entries are pruned by the next listing or ``expire()``.

Cancellation: a write runs to its end even if its caller is cancelled (the cancellation then
waits for it), so it never lands after the caller's next write. Needs Redis 6.2 or Valkey.

Retries: redis-py's automatic retries are off. A command whose connection broke may have run;
running an append again would store it twice. The call fails with ``StoreError`` and the next
call reconnects on the same store.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, cast

from pydantic import JsonValue, ValidationError

from ..errors import ConfigError, SessionConflictError, StoreError
from ..messages import Message, messages_adapter, with_seq
from . import _redis_scripts as lua
from ._redis_client import Client, Connection
from ._redis_keys import (
    encode_batch,
    metadata_fields,
    owner_change,
    owner_of,
    parse_url,
    session_info,
    to_us,
    ttl_ms,
)
from ._redis_write import WholeSessionWriter
from .base import SessionInfo, check_spend, session_scope, session_title, validate_session_id
from .lease import (
    DEFAULT_LEASE_TTL,
    DEFAULT_LEASE_WAIT,
    Lease,
    LeaseGrant,
    hold_lease,
    new_revision,
)

__all__ = ["RedisStore"]

_PAGE = 500  # sessions read per round trip when listing or expiring


class RedisStore(WholeSessionWriter):
    """Sessions on a Redis or Valkey server, or a Redis Cluster (see the module docstring).

    ``url`` is ``redis://[user:password@]host:6379/0``, ``rediss://...`` (TLS) or
    ``unix:///path/redis.sock``, with optional ``?prefix=NAME`` and ``?cluster=true|false``
    (asked of the server when absent) besides redis-py's own options. ``pool_size`` bounds the
    connections to each server. Nothing connects until the first call. A session lives
    ``session_ttl`` seconds (0: for ever) after its last write; reads do not extend it.
    """

    def __init__(self, url: str, *, session_ttl: float = 3600.0, pool_size: int = 10) -> None:
        options = parse_url(url)
        if not session_ttl >= 0 or math.isinf(session_ttl):
            raise ConfigError(f"session_ttl must be 0 (never) or more seconds: {session_ttl!r}")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ConfigError(f"pool_size must be a whole number from 1: {pool_size!r}")
        if options.unix and options.cluster:
            raise ConfigError(
                f"a Redis Cluster cannot be reached on a unix socket: {options.shown_url!r}"
            )
        self.session_ttl = session_ttl
        self.prefix = options.prefix
        self._keys = options
        self._ttl = "0" if session_ttl == 0 else str(ttl_ms(session_ttl))
        self._conn = Connection(options, pool_size)

    @classmethod
    def from_url(cls, url: str, *, session_ttl: float = 3600.0, pool_size: int = 10) -> RedisStore:
        return cls(url, session_ttl=session_ttl, pool_size=pool_size)

    def __repr__(self) -> str:
        return f"RedisStore({self._keys.shown_url!r}, session_ttl={self.session_ttl!r})"

    async def __aenter__(self) -> RedisStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ writes

    async def append(
        self,
        session_id: str,
        messages: Sequence[Message],
        *,
        expected_last_seq: int | None = None,
    ) -> list[Message]:
        meta, log, _ = self._keys.session_keys(validate_session_id(session_id))
        spend = self._keys.spend_key(session_scope(session_id))
        batch = list(messages)
        title = session_title(batch)
        head = [
            self._ttl,
            "" if expected_last_seq is None else str(int(expected_last_seq)),
            new_revision(),
            "" if title is None else "t" + title,
            str(sum(m.tokens for m in batch)),
        ]
        encoded = encode_batch(batch)

        async def write(client: Client) -> Any:
            args: list[str | bytes] = [*head, self._conn.index_prefix, session_id, *encoded]
            done = await lua.APPEND(client, (meta, log, spend), args)
            if done[0] and self._conn.cluster:
                owner = _text(done[3])
                await self._index(client, session_id, done[2], owner, owner)
            return done

        done = await self._conn.run_to_the_end(write)
        last = int(done[1])
        if not done[0]:  # only when an expected_last_seq was given
            raise SessionConflictError(session_id, int(expected_last_seq or 0), last)
        return [with_seq(m, last + i) for i, m in enumerate(batch, 1)]

    async def set_state(
        self,
        session_id: str,
        *,
        window_start: int | None = None,
        metadata: dict[str, JsonValue] | None = None,
    ) -> str:
        meta, log, _ = self._keys.session_keys(validate_session_id(session_id))
        spend = self._keys.spend_key(session_scope(session_id))
        revision = new_revision()
        head = [
            self._ttl,
            revision,
            "" if window_start is None else str(int(window_start)),
            owner_change(metadata or {}),
        ]
        fields = metadata_fields(metadata or {})

        async def write(client: Client) -> None:
            args = [*head, self._conn.index_prefix, session_id, *fields]
            done = await lua.SET_STATE(client, (meta, log, spend), args)
            if self._conn.cluster:
                await self._index(client, session_id, done[0], _text(done[1]), _text(done[2]))

        await self._conn.run_to_the_end(write)
        return revision

    async def delete(self, session_id: str) -> bool:
        deleted, _ = await self._conn.run_to_the_end(lambda c: self._delete(session_id, "", c))
        return deleted

    async def _delete(self, session_id: str, cutoff: str, client: Client) -> tuple[bool, bool]:
        """Delete the session, its lease and its index entries, unless it was active since
        ``cutoff`` (when one is given). Returns whether it existed and was deleted, and whether
        it was kept (its index entries then stay)."""
        keys = (
            *self._keys.session_keys(session_id),
            self._keys.spend_key(session_scope(session_id)),
        )
        args = [cutoff, self._conn.index_prefix, session_id]
        existed, owner, kept = await lua.DELETE(client, keys, args)
        if self._conn.cluster and not kept:
            await self._index(client, session_id, None, _text(owner), None)
        return bool(existed), bool(kept)

    async def _index(
        self,
        client: Client,
        session_id: str,
        score: bytes | None,
        old_owner: str | None,
        new_owner: str | None,
    ) -> None:
        """On a Cluster, after a session's script: move it in the indexes (``INDEX``)."""
        leave = [old_owner] if old_owner and (old_owner != new_owner or score is None) else []
        join = [new_owner] if new_owner and score is not None else []
        keys = [self._keys.all_index, *map(self._keys.owner_index, leave + join)]
        args = [session_id, score or "", str(len(leave))]
        await lua.INDEX(client, keys, args)

    async def expire(self, before: datetime) -> int:
        cutoff = str(to_us(before))  # refuses a naive datetime before any I/O
        deleted = kept = 0
        while True:
            ids = await self._conn.run(functools.partial(self._old, start=kept, cutoff=cutoff))
            # One script per session (each on its own node), ``pool_size`` at a time.
            done = await asyncio.gather(
                *(self._conn.run(functools.partial(self._delete, sid, cutoff)) for sid in ids)
            )
            deleted += sum(existed for existed, _ in done)
            # An entry stays when its session was active since the cutoff (a score a concurrent
            # writer has yet to raise): the next page starts after those.
            kept += sum(stays for _, stays in done)
            if len(ids) < _PAGE:
                return deleted

    async def _old(self, client: Client, *, start: int, cutoff: str) -> list[str]:
        """Up to ``_PAGE`` sessions of the index last active before ``cutoff``, oldest first."""
        ids = cast(
            list[bytes],
            await client.zrangebyscore(
                self._keys.all_index, "-inf", f"({cutoff}", start=start, num=_PAGE
            ),
        )
        return [sid.decode() for sid in ids]

    async def add_spend(self, scope: str, usd: float, *, ttl: float | None = None) -> float:
        check_spend(scope, usd, ttl)
        keys = self._keys.spend_keys(scope)
        args = (repr(float(usd)), "" if ttl is None else str(ttl_ms(ttl)), self._ttl)
        total = await self._conn.run_to_the_end(lambda c: lua.ADD_SPEND(c, keys, args))
        return float(total)

    async def get_spend(self, scope: str) -> float:
        counter = self._keys.spend_key(scope)
        total = await self._conn.run(lambda c: c.get(counter))
        return 0.0 if total is None else float(total)

    # ------------------------------------------------------------------ reads

    async def read(
        self, session_id: str, *, since_seq: int = 1, last: int | None = None
    ) -> list[Message]:
        if last is not None and last <= 0:
            return []
        _, log, _ = self._keys.session_keys(session_id)
        first = max(since_seq, 1)
        start, end = (first - 1, -1) if last is None else (-last, -1)
        raw = cast(list[bytes], await self._conn.run(lambda c: c.lrange(log, start, end)))
        if raw and last is not None and first > 1:
            # The final ``last`` of the whole log: drop those before ``since_seq``.
            raw = raw[max(0, first - _seq_of(raw[0])) :]
        return _decode(session_id, raw)

    async def read_seqs(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        wanted = sorted({int(s) for s in seqs if int(s) >= 1})
        if not wanted:
            return []
        _, log, _ = self._keys.session_keys(session_id)
        raw = await self._conn.run(lambda c: lua.READ_SEQS(c, (log,), wanted))
        return _decode(session_id, list(raw))

    async def info(self, session_id: str) -> SessionInfo | None:
        meta, _, _ = self._keys.session_keys(session_id)
        fields = cast(dict[bytes, bytes], await self._conn.run(lambda c: c.hgetall(meta)))
        return session_info(session_id, fields)

    async def list_sessions(
        self, *, limit: int | None = None, owner: str | None = None
    ) -> list[SessionInfo]:
        if limit is not None and limit <= 0:
            return []
        index = self._keys.all_index if owner is None else self._keys.owner_index(owner)
        found: dict[str, SessionInfo] = {}
        start = 0
        while True:
            # No limit: the whole index at once (the caller asked for every session).
            count = -1 if limit is None else limit - len(found)
            page = functools.partial(self._page, index=index, start=start, count=count, owner=owner)
            seen, infos = await self._conn.run(page)
            for info in infos:
                found.setdefault(info.id, info)  # a session written meanwhile may come twice
            if limit is None or seen < count or len(found) >= limit:
                break
            start += len(infos)  # the entries pruned left the index
        listed = sorted(found.values(), key=lambda i: i.id)
        listed.sort(key=lambda i: i.updated_at, reverse=True)  # stable: ties stay by id
        return listed if limit is None else listed[:limit]

    async def _page(
        self, client: Client, *, index: str, start: int, count: int, owner: str | None
    ) -> tuple[int, list[SessionInfo]]:
        """The sessions named by index entries ``start`` to ``start + count`` (newest first)
        that still exist (and still belong to ``owner``), and how many entries were read. The
        other entries are pruned, each only if its score is unchanged: a session written again
        meanwhile has a higher one, and keeps its entry."""
        end = -1 if count < 0 else start + count - 1
        entries = cast(
            list[tuple[bytes, float]], await client.zrevrange(index, start, end, withscores=True)
        )
        infos: list[SessionInfo] = []
        stale: list[str] = []
        for first in range(0, len(entries), _PAGE):
            chunk = [(sid.decode(), score) for sid, score in entries[first : first + _PAGE]]
            async with client.pipeline(transaction=False) as pipe:
                for sid, _ in chunk:
                    pipe.hgetall(self._keys.session_keys(sid)[0])
                hashes: list[dict[bytes, bytes]] = await pipe.execute()
            for (sid, score), fields in zip(chunk, hashes, strict=True):
                info = session_info(sid, fields)
                if info is None or (owner is not None and owner_of(fields) != owner):
                    stale += (sid, repr(score))
                else:
                    infos.append(info)
        if stale:
            await lua.PRUNE(client, (index,), stale)
        return len(entries), infos

    # ------------------------------------------------------------------ leases

    def lease(
        self,
        session_id: str,
        *,
        ttl: float = DEFAULT_LEASE_TTL,
        wait: float = DEFAULT_LEASE_WAIT,
    ) -> AbstractAsyncContextManager[Lease]:
        # Expiry is the server's clock: every client of the store agrees on it.
        return hold_lease(self, session_id, ttl=ttl, wait=wait)

    async def lease_acquire(self, session_id: str, token: str, ttl: float) -> LeaseGrant | float:
        meta, _, lease = self._keys.session_keys(session_id)
        args = (token, str(ttl_ms(ttl)))
        got = await self._conn.run_to_the_end(lambda c: lua.LEASE_ACQUIRE(c, (lease, meta), args))
        if not got[0]:
            return max(0, int(got[1])) / 1000
        return LeaseGrant(int(got[1]), got[2].decode())

    async def lease_renew(self, session_id: str, token: str, ttl: float) -> bool:
        lease = self._keys.session_keys(session_id)[2]
        args = (token, str(ttl_ms(ttl)))
        return bool(await self._conn.run(lambda c: lua.LEASE_RENEW(c, (lease,), args)))

    async def lease_release(self, session_id: str, token: str) -> None:
        lease = self._keys.session_keys(session_id)[2]
        await self._conn.run(lambda c: lua.LEASE_RELEASE(c, (lease,), (token,)))

    async def close(self) -> None:
        """Close every connection. The store cannot be used after."""
        await self._conn.close()


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def _seq_of(element: bytes) -> int:
    """The ``seq`` a stored message starts with (``{"seq":N,...``)."""
    return int(element[7 : element.index(b",", 7)])


def _decode(session_id: str, raw: list[bytes]) -> list[Message]:
    if not raw:
        return []
    try:
        # One validation call for the whole list is much faster than one per message.
        return messages_adapter.validate_json(b"[" + b",".join(raw) + b"]")
    except ValidationError as exc:
        raise StoreError(
            f"a stored message of session {session_id!r} is unreadable: {exc}"
        ) from exc
