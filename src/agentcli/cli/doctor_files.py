"""``agentcli doctor``'s checks of the local files: who may read them, and whether the SQLite
database is intact."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from .cmd_info import Check
from .privacy import FIX_COMMAND, private_paths, sqlite_file

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Settings

__all__ = ["QUICK_CHECK_SECONDS", "integrity_check", "permission_check"]

# A quick_check reads every page: seconds for a large file. Past this, doctor says so and
# moves on rather than hang.
QUICK_CHECK_SECONDS = 60.0
_PRIVATE = "sessions, input history and saved prompts"


def permission_check(settings: Settings, *, fix: bool) -> Check:
    """Loose permissions on the data directory, the database files, the input history or the
    saved prompts (their directory and files; links there are not followed): reported, or with
    ``fix`` tightened (group and other permissions taken away)."""
    from .._private_files import loose_modes, loose_modes_within, tighten
    from .prompt_store import prompts_dir

    loose = loose_modes(private_paths(settings))
    loose += loose_modes_within(prompts_dir(settings.data_dir))
    if not loose:
        return Check("permissions", "ok", f"{_PRIVATE} are private to you")
    named = ", ".join(item.describe() for item in loose)
    if not fix:
        return Check(
            "permissions",
            "warn",
            f"other users may read or change: {named}",
            f"run `{FIX_COMMAND}` (directories 0700, files 0600)",
        )
    changed, failed = [], []
    for item in loose:
        try:
            tighten(item)
        except OSError as exc:
            failed.append(f"{item.path}: {exc.strerror or exc}")
        else:
            changed.append(f"{item.path} {item.mode:04o} → {item.wanted:04o}")
    if failed:
        return Check(
            "permissions",
            "fail",
            "could not tighten " + ", ".join(failed),
            "change them yourself with chmod (as the files' owner)",
        )
    return Check("permissions", "ok", "tightened " + ", ".join(changed))


def integrity_check(settings: Settings) -> Check | None:
    """``PRAGMA quick_check`` on the SQLite database (read-only), if there is one."""
    path = sqlite_file(settings)
    if path is None or not path.is_file():
        return None
    try:
        problems = quick_check(path, QUICK_CHECK_SECONDS)
    except TimeoutError:
        return Check(
            "integrity",
            "warn",
            f"{path}: the check did not finish in {QUICK_CHECK_SECONDS:.0f} s",
            "run `agentcli doctor` again when the machine is less busy",
        )
    except sqlite3.Error as exc:  # a header too damaged to open, or unreadable
        problems = [str(exc)]
    if not problems:
        return Check("integrity", "ok", f"{path}: quick_check passed")
    shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if problems[3:] else "")
    return Check("integrity", "fail", f"{path} is damaged: {shown}", _recovery(path))


def _recovery(path: Path) -> str:
    return (
        "export what can still be read (for each id in `agentcli sessions list`: "
        "`agentcli sessions export ID --format json -o DIR/`), move "
        f"{path} (and any -wal and -shm file beside it) away, then "
        "`agentcli sessions import` each file in DIR"
    )


def quick_check(path: Path, seconds: float) -> list[str]:
    """What ``PRAGMA quick_check`` finds wrong (nothing: ``[]``), on a connection that may
    not write, stopped after ``seconds`` (``TimeoutError``)."""
    deadline = time.monotonic() + seconds
    # Not ``mode=ro``: a read-only connection cannot remove the -wal and -shm files it opens,
    # and would leave them behind. ``query_only`` refuses every write just the same.
    conn = sqlite3.connect(path, timeout=min(seconds, 5.0), isolation_level=None)
    # The check is mostly one long step, which only an interrupt from another thread stops;
    # the progress handler (called every 100 steps) stops it between steps.
    timer = threading.Timer(seconds, conn.interrupt)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 100)
        timer.start()
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise TimeoutError from None
            raise
    finally:
        timer.cancel()
        conn.close()
    found = [str(row[0]) for row in rows]
    return [] if found == ["ok"] else found
