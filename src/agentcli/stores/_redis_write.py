"""The Redis store's ``write_session``: a whole session (an import) in one Lua script
(``WRITE_SESSION``), on the session's keys alone, so it is atomic on a Cluster too.

Given to ``RedisStore`` as a mixin, so the store module stays one screenful of plumbing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import JsonValue

from ..messages import Message
from . import _redis_scripts as lua
from ._redis_client import Client, Connection
from ._redis_keys import RedisOptions, encode_batch, metadata_fields
from .base import check_whole_session, session_owner, session_scope, session_title
from .lease import new_revision

__all__ = ["WholeSessionWriter"]


class _Parts(Protocol):
    """What ``write_session`` uses of ``RedisStore``."""

    _keys: RedisOptions
    _conn: Connection
    _ttl: str

    async def _index(
        self,
        client: Client,
        session_id: str,
        score: bytes | None,
        old_owner: str | None,
        new_owner: str | None,
    ) -> None: ...


class WholeSessionWriter:
    """``write_session`` of the ``SessionStore`` protocol, for ``RedisStore``."""

    async def write_session(
        self: _Parts,
        session_id: str,
        messages: Sequence[Message],
        *,
        window_start: int = 1,
        metadata: dict[str, JsonValue] | None = None,
        replace: bool = False,
    ) -> bool:
        batch = list(messages)
        check_whole_session(session_id, batch, window_start)
        state = dict(metadata or {})
        keys = (
            *self._keys.session_keys(session_id),
            self._keys.spend_key(session_scope(session_id)),
        )
        title = session_title(batch)
        owner = session_owner(state)
        fields = metadata_fields(state)
        # Encoded here, before the script: nothing is sent unless all of it could be.
        head = [
            self._ttl,
            "1" if replace else "",
            new_revision(),
            "" if title is None else "t" + title,
            str(sum(m.tokens for m in batch)),
            str(window_start),
            "" if owner is None else "+" + owner,
        ]
        tail: list[str | bytes] = [str(len(fields)), *fields, *encode_batch(batch)]

        async def write(client: Client) -> Any:
            # The index prefix is known once connected (it is "" on a Cluster).
            args = [*head, self._conn.index_prefix, session_id, *tail]
            done = await lua.WRITE_SESSION(client, keys, args)
            if done[0] and self._conn.cluster:
                old_owner = None if done[2] is None else done[2].decode()
                await self._index(client, session_id, done[1], old_owner, owner)
            return done

        done = await self._conn.run_to_the_end(write)
        return bool(done[0])
