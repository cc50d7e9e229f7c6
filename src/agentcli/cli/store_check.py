"""Before anything is shown: can the SQLite store be written where the settings put it?

SQLite opens its file lazily and says only "unable to open database file" on the first write,
after the chat's banner. This check tries the directory and the file up front and names the
setting to change (and ``--ephemeral`` where the command has it).
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["check_store_writable"]


def check_store_writable(settings: Settings, database: Path, *, ephemeral: bool | None) -> None:
    """Create the data directory if needed and prove ``database`` can be written there.

    ``ephemeral`` is ``None`` for commands without an ``--ephemeral`` option (the fix then
    names only the setting). Raises ``ConfigError`` with the fix.
    """
    from .._private_files import make_private_dir

    variable = "AGENTCLI_STORE_URL" if settings.store_url is not None else "AGENTCLI_DATA_DIR"
    fix = f"set {variable} to a directory you can write"
    if ephemeral is not None:
        fix += ", or pass --ephemeral to keep nothing"
    for directory in dict.fromkeys((settings.data_dir, database.parent)):
        try:
            make_private_dir(directory)  # sessions are private: 0700, whatever the umask
        except OSError as exc:
            why = _why(exc)
            raise ConfigError(
                f"cannot create the data directory {directory}: {why} ({fix})"
            ) from None
    problem = _write_problem(database)
    if problem is not None:
        raise ConfigError(f"cannot write the session store {database}: {problem} ({fix})")


def _write_problem(database: Path) -> str | None:
    """Why ``database`` (or a new file beside it) cannot be written, or ``None``."""
    if database.exists() or database.is_symlink():
        try:
            os.close(os.open(database, os.O_RDWR | os.O_CLOEXEC))
        except OSError as exc:
            return _why(exc)
        return None
    # A new file beside it, made and removed: what SQLite is about to do (the root user
    # passes a permission check that its write would pass too).
    probe = database.with_name(f".{database.name}.probe-{os.getpid()}-{time.monotonic_ns()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        return f"{database.parent}: {_why(exc)}"
    os.close(fd)
    probe.unlink(missing_ok=True)
    return None


def _why(exc: OSError) -> str:
    if exc.errno == errno.EEXIST:
        return "it is a file, not a directory"
    if exc.errno == errno.ENOTDIR:
        return "part of the path is a file, not a directory"
    if exc.errno == errno.EISDIR:
        return "it is a directory"
    return exc.strerror or str(exc)
