"""Session stores: where transcripts live. ``open_store(url)`` picks one from a URL.

``memory://`` (this process only), ``sqlite:////abs/path.db`` or ``sqlite:///relative.db``
(the default, embedded; the SQLAlchemy convention).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import SessionInfo, SessionStore, validate_session_id
from .memory import MemoryStore

if TYPE_CHECKING:
    from .sqlite import SQLiteStore

__all__ = [
    "MemoryStore",
    "SQLiteStore",
    "SessionInfo",
    "SessionStore",
    "open_store",
    "validate_session_id",
]


def __getattr__(name: str) -> Any:
    if name == "SQLiteStore":
        from .sqlite import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str) -> SessionStore:
    """Open the store a URL names; raises ``ConfigError`` for an unknown scheme."""
    from ..errors import ConfigError

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    raise ConfigError(
        f"unknown store URL {url.split('@')[-1]!r}: use memory:// or sqlite:////abs/path/file.db"
    )
