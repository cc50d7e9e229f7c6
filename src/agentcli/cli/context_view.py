"""``/context``: what fills the window, by part."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from . import render

if TYPE_CHECKING:
    from ..session import SessionManager

__all__ = ["context_breakdown"]


async def context_breakdown(manager: SessionManager, session_id: str) -> Table:
    """Rows for the system prompt, messages by role, tool calls and results, and overhead."""
    from ..tokens import count_message_tokens

    window = await manager.window(session_id)
    usage = await manager.usage(session_id)
    prompt = await manager.system_prompt_for(session_id)
    system_tokens = count_message_tokens(prompt) if prompt else 0

    rows: dict[str, list[int]] = {
        "system messages": [0, 0],
        "user messages": [0, 0],
        "assistant answers": [0, 0],
        "tool calls": [0, 0],
        "tool results": [0, 0],
    }
    for message in window:
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
    counted = system_tokens + sum(tokens for _, tokens in rows.values())
    overhead = max(0, usage.tokens - counted)

    table = Table(show_edge=False, header_style="bold", title_justify="left")
    table.add_column("part")
    table.add_column("messages", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("share", justify="right")

    def share(tokens: int) -> str:
        return render.percent(tokens, usage.window)

    table.add_row(
        "system prompt", "1" if prompt else "0", f"{system_tokens:,}", share(system_tokens)
    )
    for name, (count, tokens) in rows.items():
        if count:
            table.add_row(name, f"{count:,}", f"{tokens:,}", share(tokens))
    table.add_row(
        Text("overhead (framing, tool schemas, provider count)", "dim"),
        "",
        f"{overhead:,}",
        share(overhead),
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
