"""``/context``: what fills the window, by part."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ..session.window_cache import summary_range
from . import render
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    from ..messages import Message
    from ..session import SessionManager, SessionSnapshot


__all__ = ["PIN", "PinnedExchange", "context_breakdown", "context_table", "pinned_exchanges"]

PIN = "📌"
SHOWN_PINS = 10  # pinned exchanges listed one per row; more are counted in one row


@dataclass(frozen=True, slots=True)
class PinnedExchange:
    """One pinned exchange of the window: its first message, how many messages, their tokens."""

    first: Message
    messages: int
    tokens: int

    def label(self, width: int = 48) -> Text:
        """``📌 #3 user: the question…``"""
        first = self.first
        text = sanitize_inline(first.content, width) if first.content else "(tool calls)"
        return Text.assemble(f"{PIN} ", (f"#{first.seq} ", "dim"), f"{first.role}: ", text)


def pinned_exchanges(snapshot: SessionSnapshot) -> list[PinnedExchange]:
    """The window's pinned exchanges, in order (each starts at its user message)."""
    groups: list[list[Message]] = []
    for message in snapshot.window:
        if message.seq not in snapshot.pinned or message.role == "system":
            continue
        if message.role == "user" or not groups:
            groups.append([])
        groups[-1].append(message)
    return [PinnedExchange(g[0], len(g), sum(m.tokens for m in g)) for g in groups]


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
        covered = summary_range(message)
        if covered is not None:
            rows[f"summary of messages {covered[0]} to {covered[1]}"] = [1, message.tokens]
            continue
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
    _pinned_rows(table, snapshot)
    if usage.trimmed:
        table.add_row(Text("trimmed out (still in /history)", "dim"), f"{usage.trimmed:,}", "", "")
    if usage.warning:
        table.caption = usage.warning
    return table


def _pinned_rows(table: Table, snapshot: SessionSnapshot) -> None:
    """What the pins keep: one row per pinned exchange, and their total (a part of the above)."""
    exchanges = pinned_exchanges(snapshot)
    if not exchanges:
        return
    window = snapshot.usage.window
    table.add_section()
    for exchange in exchanges[:SHOWN_PINS]:
        tokens = exchange.tokens
        row = (f"{exchange.messages:,}", f"{tokens:,}", render.percent(tokens, window))
        table.add_row(exchange.label(), *row)
    if len(exchanges) > SHOWN_PINS:
        table.add_row(Text(f"{PIN} … {len(exchanges) - SHOWN_PINS} more (/pins)", "dim"))
    count = sum(e.messages for e in exchanges)
    tokens = sum(e.tokens for e in exchanges)
    noun = "exchange" if len(exchanges) == 1 else "exchanges"
    table.add_row(
        Text(f"pinned: {len(exchanges)} {noun}, kept through cleanups", "bold"),
        f"{count:,}",
        f"{tokens:,}",
        render.percent(tokens, window),
    )
