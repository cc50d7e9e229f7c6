"""The Redis store's names and codecs: the URL's options, the key of everything, and the
session hash read back into a ``SessionInfo``. No I/O here."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pydantic import JsonValue, TypeAdapter

from .._redact import redact_url
from ..errors import ConfigError, InvalidInputError
from ..messages import Message
from ._url_options import check_redis_numbers
from .base import OWNER_KEY, SessionInfo, scope_session

__all__ = [
    "DEFAULT_PREFIX",
    "RedisOptions",
    "encode_batch",
    "from_us",
    "metadata_fields",
    "owner_change",
    "owner_of",
    "parse_url",
    "session_info",
    "to_us",
    "ttl_ms",
]

DEFAULT_PREFIX = "agentcli"

# Options of the URL that redis-py reads itself (``redis.asyncio.connection.parse_url``); others
# would reach its connection class as unknown keyword arguments and fail at the first call.
_CLIENT_OPTIONS = frozenset(
    {
        "db",
        "socket_timeout",
        "socket_connect_timeout",
        "socket_keepalive",
        "health_check_interval",
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_check_hostname",
        "ssl_min_version",
        "client_name",
        "username",
        "password",
        "protocol",
    }
)
_OWN_OPTIONS = ("prefix", "cluster")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_message_adapter: TypeAdapter[Message] = TypeAdapter(Message)
_NO_SEQ = {"seq"}
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """What ``from_url`` read: the URL to give redis-py (without this store's own options), the
    same URL with its password masked (for messages), the password itself (to scrub it from a
    server's error text), the key prefix, and the ``cluster`` override (``None``: ask the
    server)."""

    client_url: str
    shown_url: str
    password: str | None
    prefix: str
    cluster: bool | None
    unix: bool

    def session_keys(self, session_id: str) -> tuple[str, str, str]:
        """The session's hash, log and lease. The id is percent-encoded inside the hash tag, so
        the tag holds only ``[A-Za-z0-9_.~%-]``: a ``}`` in an id cannot end it early, and a
        key pattern (``SCAN MATCH``) needs no escaping."""
        return _session_keys(self.prefix, session_id)

    def spend_key(self, scope: str) -> str:
        """A spend counter: a session's (``session:<id>``) under the session's hash tag, so it
        lives on the session's node and is written, expired and deleted with its keys; any
        other under a tag of its own."""
        session_id = scope_session(scope)
        if session_id is not None:
            return _session_spend_key(self.prefix, session_id)
        return f"{self.prefix}:{{spend:{quote(scope, safe='')}}}"

    def spend_keys(self, scope: str) -> tuple[str, ...]:
        """The keys ``ADD_SPEND`` takes: the counter, then a session's own hash (its expiry)."""
        session_id = scope_session(scope)
        if session_id is None:
            return (self.spend_key(scope),)
        return self.spend_key(scope), _session_keys(self.prefix, session_id)[0]

    def session_pattern(self, session_id: str) -> str:
        """A ``SCAN MATCH`` pattern for every key of the session (for operators and tests)."""
        return f"{self.prefix}:{{s:{quote(session_id, safe='')}}}:*"

    @property
    def index_prefix(self) -> str:
        """Every index key starts with this; the ``{idx}`` tag puts them all in one slot."""
        return f"{self.prefix}:{{idx}}:"

    @property
    def all_index(self) -> str:
        return self.index_prefix + "all"

    def owner_index(self, owner: str) -> str:
        # Hex, as the Lua computes it (``hex()`` in ``_redis_scripts.py``): the two must agree.
        return f"{self.index_prefix}owner:{owner.encode().hex()}"


@functools.lru_cache(maxsize=4096)  # every call names its session's keys: a few us saved
def _session_keys(prefix: str, session_id: str) -> tuple[str, str, str]:
    tag = f"{prefix}:{{s:{quote(session_id, safe='')}}}"
    return f"{tag}:meta", f"{tag}:log", f"{tag}:lease"


def _session_spend_key(prefix: str, session_id: str) -> str:
    return _session_keys(prefix, session_id)[0][: -len(":meta")] + ":spend"


def parse_url(url: str) -> RedisOptions:
    """Check a ``redis://``, ``rediss://`` or ``unix://`` URL and split off this store's own
    options, ``prefix`` and ``cluster``. Raises ``ConfigError`` naming the problem."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        password = parts.password
        parts.port  # noqa: B018 (read to have a bad port refused here)
    except ValueError as exc:
        raise ConfigError(f"cannot read the Redis URL {shown!r}: {_redacted(exc, url)}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"not a Redis URL: {shown!r} (use redis://host:6379/0, rediss://host:6380/0 or "
            "unix:///path/to/redis.sock)"
        )
    if scheme == "unix" and not parts.path:
        raise ConfigError(f"the Redis URL {shown!r} names no socket: use unix:///path/redis.sock")
    if scheme != "unix" and not parts.hostname:
        raise ConfigError(f"the Redis URL {shown!r} names no host: use redis://host:6379/0")
    own = {key: value for key, value in query if key in _OWN_OPTIONS}
    unknown = sorted({key for key, _ in query} - _CLIENT_OPTIONS - set(_OWN_OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r} in the Redis URL {shown!r} (known: "
            f"{', '.join(sorted((*_CLIENT_OPTIONS, *_OWN_OPTIONS)))})"
        )
    check_redis_numbers(query, shown)
    client_url = urlunsplit(
        parts._replace(query=urlencode([(k, v) for k, v in query if k not in _OWN_OPTIONS]))
    )
    _check_client_options(client_url, shown)
    return RedisOptions(
        client_url=client_url,
        shown_url=shown,
        password=_unquoted(password) or dict(query).get("password") or None,
        prefix=_prefix(own.get("prefix", DEFAULT_PREFIX), shown),
        cluster=_cluster(own.get("cluster"), shown),
        unix=scheme == "unix",
    )


def _check_client_options(client_url: str, shown: str) -> None:
    from redis.asyncio.connection import parse_url as redis_parse_url

    try:
        db = redis_parse_url(client_url).get("db", 0)
    except ValueError as exc:
        raise ConfigError(f"bad Redis URL {shown!r}: {_redacted(exc, client_url)}") from None
    if not isinstance(db, int) or db < 0:
        raise ConfigError(f"the database in the Redis URL {shown!r} must be a number from 0")


def _unquoted(text: str | None) -> str | None:
    return None if text is None else unquote(text)


def _redacted(exc: Exception, url: str) -> str:
    return redact_url(str(exc)).replace(url, redact_url(url))


def _prefix(prefix: str, shown: str) -> str:
    if not prefix or "{" in prefix or "}" in prefix or not prefix.isprintable() or " " in prefix:
        raise ConfigError(
            f"the key prefix {prefix!r} in {shown!r} must be printable, without spaces or braces"
        )
    return prefix


def _cluster(value: str | None, shown: str) -> bool | None:
    if value is None:
        return None
    flag = _BOOLEANS.get(value.lower())
    if flag is None:
        raise ConfigError(f"cluster in {shown!r} must be true or false, not {value!r}")
    return flag


# ---------------------------------------------------------------------- values


def to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise InvalidInputError("expire() needs a timezone-aware datetime")
    return (moment - _EPOCH) // _MICROSECOND


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def ttl_ms(seconds: float) -> int:
    """Milliseconds for a positive number of seconds (at least 1: 0 would mean "no expiry")."""
    return max(1, math.ceil(seconds * 1000))


def metadata_fields(metadata: Mapping[str, JsonValue]) -> list[str]:
    """Field/value pairs of the session hash: one field per metadata key, its value as JSON, so
    a merge is ``HSET`` (no JSON in Lua, whose cjson would round numbers and turn ``[]`` into
    ``{}``). A key set to ``None`` stays, with the value ``null``."""
    fields: list[str] = []
    for key, value in metadata.items():
        fields += ("m:" + key, json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return fields


def owner_change(metadata: Mapping[str, JsonValue]) -> str:
    """What a metadata merge does to the indexed owner: ``""`` nothing, ``"-"`` clears it,
    ``"+" + owner`` sets it (as ``session_owner`` reads the merged metadata)."""
    if OWNER_KEY not in metadata:
        return ""
    owner = metadata[OWNER_KEY]
    return "+" + owner if isinstance(owner, str) else "-"


def session_info(session_id: str, fields: Mapping[bytes, bytes]) -> SessionInfo | None:
    """The ``SessionInfo`` of a session hash (``HGETALL``), ``None`` if it is empty."""
    if not fields:
        return None
    get = fields.get
    metadata: dict[str, JsonValue] = {
        key[2:].decode(): json.loads(value) for key, value in fields.items() if key[:2] == b"m:"
    }
    last_seq = int(get(b"seq", b"0"))
    created = int(get(b"created", b"0"))
    return SessionInfo(
        id=session_id,
        created_at=from_us(created),
        updated_at=from_us(int(get(b"updated", b"0") or created)),
        message_count=last_seq,  # contiguous from 1, never removed one by one
        last_seq=last_seq,
        window_start=int(get(b"window", b"1")),
        title=get(b"title", b"").decode(),
        tokens=int(get(b"tokens", b"0")),
        metadata=metadata,
        revision=get(b"rev", b"").decode(),
    )


def owner_of(fields: Mapping[bytes, bytes]) -> str | None:
    owner = fields.get(b"owner")
    return None if owner is None else owner.decode()


def encode_batch(messages: Sequence[Message]) -> list[bytes]:
    """Each message's JSON without ``seq`` and its opening brace: the script prefixes
    ``{"seq":N,`` once it has numbered it. The rest is ``TypeAdapter(Message).dump_json``, the
    codec of the other stores."""
    return [_message_adapter.dump_json(m, exclude=_NO_SEQ)[1:] for m in messages]
