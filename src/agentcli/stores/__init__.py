"""Session stores: where transcripts live. ``open_store(url)`` picks one from a URL.

``memory://`` (this process only), ``sqlite:////abs/path.db`` or ``sqlite:///relative.db``
(the default, embedded; the SQLAlchemy convention), ``redis://`` / ``rediss://`` (Redis,
Valkey or a Redis Cluster; ``pip install 'agentcli[redis]'``) and ``postgresql://``
(``pip install 'agentcli[postgres]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import SessionInfo, SessionStore, validate_session_id
from .memory import MemoryStore

if TYPE_CHECKING:
    from ..config import Settings
    from .postgres import PostgresStore
    from .redis import RedisStore
    from .sqlite import SQLiteStore

__all__ = [
    "DEFAULT_POOL_SIZE",
    "DEFAULT_SESSION_TTL",
    "MemoryStore",
    "PostgresStore",
    "RedisStore",
    "SQLiteStore",
    "SessionInfo",
    "SessionStore",
    "check_redis_url",
    "check_store_url",
    "open_configured_store",
    "open_store",
    "validate_session_id",
]

DEFAULT_SESSION_TTL = 3600.0
"""Seconds of inactivity after which a Redis or PostgreSQL session is deleted, whole."""
DEFAULT_POOL_SIZE = 10
"""Connections per process to a Redis or PostgreSQL server."""

_LAZY = {"SQLiteStore": "sqlite", "RedisStore": "redis", "PostgresStore": "postgres"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        return getattr(importlib.import_module(f".{module}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(
    url: str,
    *,
    session_ttl: float = DEFAULT_SESSION_TTL,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> SessionStore:
    """Open the store a URL names; raises ``ConfigError`` for an unknown scheme.

    ``session_ttl`` and ``pool_size`` apply to the Redis and PostgreSQL stores. Nothing
    connects until the first call.
    """
    from ..errors import ConfigError

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if scheme in ("redis", "rediss", "unix"):
        from .redis import RedisStore

        return RedisStore.from_url(url, session_ttl=session_ttl, pool_size=pool_size)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore.from_url(url, session_ttl=session_ttl, pool_size=pool_size)
    # Only the scheme is quoted: a URL that does not parse may be a bare password.
    what = f"unknown store URL scheme {scheme + '://'!r}" if scheme else "unknown store URL"
    raise ConfigError(
        f"{what}: use memory://, sqlite:////abs/path/file.db, redis://host:6379/0 or "
        "postgresql://user@host/db"
    )


def check_store_url(url: str) -> None:
    """Raise ``ConfigError`` if ``open_store`` would refuse ``url``; nothing connects. A store
    whose extra is not installed passes: opening it says what to install."""
    import contextlib

    from ..errors import MissingDependencyError

    with contextlib.suppress(MissingDependencyError):
        open_store(url)


def check_redis_url(url: str) -> None:
    """Raise ``ConfigError`` if ``url`` is not a Redis URL the Redis store would take."""
    from ..errors import MissingDependencyError

    try:
        from .redis import RedisStore

        RedisStore.from_url(url)
    except (MissingDependencyError, ImportError):
        pass


def open_configured_store(settings: Settings) -> SessionStore:
    """The store ``settings`` name (``AGENTCLI_STORE_URL``, else the SQLite file)."""
    return open_store(
        settings.resolved_store_url,
        session_ttl=settings.session_ttl,
        pool_size=settings.store_pool_size,
    )
