"""Sessions as a table (a terminal), tab-separated lines (a pipe) or JSON-ready dicts
(``--json``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from .rows import Rows
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    from ..stores.base import SessionInfo

__all__ = ["ago", "session_dict", "sessions_table"]


def ago(moment: datetime, now: datetime | None = None) -> str:
    """``just now``, ``5m ago``, ``3h ago``, ``2d ago``, or the date for older."""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)}d ago"
    return moment.astimezone().strftime("%Y-%m-%d")


def sessions_table(infos: Sequence[SessionInfo], current: str | None = None) -> Rows:
    """A table on a terminal; piped, one line per session: id, title, messages, tokens and
    the last activity as an ISO time (nothing at all when there are none)."""
    rows = [
        [i.id, i.title or "", str(i.message_count), str(i.tokens), i.updated_at.isoformat()]
        for i in infos
    ]
    return Rows(_table(infos, current), rows)


def _table(infos: Sequence[SessionInfo], current: str | None) -> Table | Text:
    if not infos:
        return Text("no sessions yet", style="dim")
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("title", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("messages", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("last active", no_wrap=True)
    for info in infos:
        marker = " *" if info.id == current else ""
        table.add_row(
            Text(sanitize_inline(info.id, 64) + marker),
            Text(sanitize_inline(info.title or "", 80)),
            f"{info.message_count:,}",
            f"{info.tokens:,}",
            ago(info.updated_at),
        )
    return table


def session_dict(info: SessionInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "messages": info.message_count,
        "tokens": info.tokens,
        "created_at": info.created_at.isoformat(),
        "last_active": info.updated_at.isoformat(),
        "window_start": info.window_start,
    }
