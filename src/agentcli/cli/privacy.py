"""Which local files hold private data, and the warning when others may read them.

The data directory should be 0700 and the database (with its ``-wal`` and ``-shm`` files) and
the input history 0600. New ones are created so; an existing one with looser permissions is
reported, never changed behind the user's back: ``agentcli doctor --fix`` tightens it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .console import err_console

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["FIX_COMMAND", "private_paths", "sqlite_file", "warn_if_not_private"]

FIX_COMMAND = "agentcli doctor --fix"


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database the settings name, or ``None`` (another store, or in memory)."""
    from ..errors import ConfigError
    from ..stores.sqlite import SQLiteStore

    url = settings.resolved_store_url
    if not url.startswith("sqlite:"):
        return None
    try:
        return SQLiteStore.from_url(url).path  # opens nothing
    except ConfigError:
        return None  # reported when the store is opened


def store_paths(settings: Settings) -> list[Path]:
    """The data directory and, for SQLite, the database, its directory and its journals."""
    paths = [settings.data_dir]
    database = sqlite_file(settings)
    if database is not None:
        if database.parent != settings.data_dir:
            paths.append(database.parent)
        paths += [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")]
    return paths


def private_paths(settings: Settings) -> list[Path]:
    """Everything ``doctor`` checks: the store's files and the chat's input history."""
    return [*store_paths(settings), settings.data_dir / "history"]


# The loose paths already reported: a process that opens the store again says it once.
_reported: set[Path] = set()


def warn_if_not_private(settings: Settings) -> None:
    """One line on stderr if the store's directory or files are open to other users."""
    from .._private_files import loose_modes

    loose = [item for item in loose_modes(store_paths(settings)) if item.path not in _reported]
    _reported.update(item.path for item in loose)
    if loose:
        from rich.text import Text

        named = ", ".join(item.describe() for item in loose)
        err_console().print(
            Text(
                f"warning: other users may read your sessions: {named}; run `{FIX_COMMAND}` to fix",
                "yellow",
            ),
            soft_wrap=True,  # one line, however long the paths
        )
