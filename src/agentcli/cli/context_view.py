"""``/context``: what fills the window, by part."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from . import render

if TYPE_CHECKING:
    from ..session import SessionManager, SessionSnapshot

__all__ = ["context_breakdown", "context_table"]


async def context_breakdown(manager: SessionManager, session_id: str) -> Table:
    """Rows for the system prompt, messages by role, tool calls and results, and overhead."""
    return context_table(await manager.snapshot(session_id))


def _rows(snapshot: SessionSnapshot) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {
        "system messages": [0, 0],
        "user messages": [0, 0],
        "assistant answers": [0, 0],
        "tool calls": [0, 0],
        "tool results": [0, 0],
    }
    for message in snapshot.window:
        if message.role == "tool":
            key = "tool results"
        elif message.role == "assistant" and message.tool_calls:
            key = "tool calls"
        else:
            key = {"system": "system messages", "user": "user messages"}.get(
                message.role, "assistant answers"
            )
        rows[key][0] += 1
        rows[key][1] += message.tokens
    return rows


def context_table(snapshot: SessionSnapshot) -> Table:
    """The breakdown of ``snapshot``: its rows add up to the total shown."""
    usage = snapshot.usage
    system_tokens = min(snapshot.system_prompt_tokens, snapshot.overhead)
    # The overhead is the provider's count beyond the messages; the system prompt is part of it.
    other_overhead = snapshot.overhead - system_tokens
    rows = _rows(snapshot)

    table = Table(show_edge=False, header_style="bold", title_justify="left")
    table.add_column("part")
    table.add_column("messages", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("share", justify="right")

    def share(tokens: int) -> str:
        return render.percent(tokens, usage.window)

    prompt_count = "1" if snapshot.system_prompt else "0"
    table.add_row("system prompt", prompt_count, f"{system_tokens:,}", share(system_tokens))
    for name, (count, tokens) in rows.items():
        if count:
            table.add_row(name, f"{count:,}", f"{tokens:,}", share(tokens))
    table.add_row(
        Text("overhead (framing, tool schemas, provider count)", "dim"),
        "",
        f"{other_overhead:,}",
        share(other_overhead),
    )
    table.add_section()
    style = render.LEVEL_STYLE[usage.level.value]
    table.add_row(
        Text("in the window", "bold"),
        f"{usage.messages:,}",
        Text(f"{usage.tokens:,} / {usage.window:,}", style),
        Text(render.percent(usage.tokens, usage.window), style),
    )
    if usage.trimmed:
        table.add_row(Text("trimmed out (still in /history)", "dim"), f"{usage.trimmed:,}", "", "")
    if usage.warning:
        table.caption = usage.warning
    return table
