"""``/context``: what fills the window, by part.

A table on a terminal. Piped, one tab-separated line per row, numbers whole and without
separators (``part, messages, tokens, share``): the parts, which add up to the ``in the window``
line after them, then ``window size``, the pinned exchanges (a part of the above, not more),
``trimmed out`` and any cleanup warning, all whole at any width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ..session.window_cache import summary_range
from . import render
from .rows import Rows
from .sanitize import sanitize_inline

if TYPE_CHECKING:
    from ..messages import Message
    from ..session import SessionManager, SessionSnapshot


__all__ = [
    "PIN",
    "ContextRow",
    "PinnedExchange",
    "context_breakdown",
    "context_rows",
    "context_table",
    "pinned_exchanges",
]

PIN = "📌"
SHOWN_PINS = 10  # pinned exchanges listed one per row; more are counted in one row
OVERHEAD = "overhead (framing, tool schemas, provider count)"


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


async def context_breakdown(manager: SessionManager, session_id: str) -> Rows:
    """Rows for the system prompt, messages by role, tool calls and results, and overhead."""
    return context_table(await manager.snapshot(session_id))


@dataclass(frozen=True, slots=True)
class ContextRow:
    """One part of the window: ``messages`` is ``None`` for parts that are not messages (the
    system prompt, the overhead). The rows of a window add up to its usage, both columns."""

    name: str
    messages: int | None
    tokens: int


def context_rows(snapshot: SessionSnapshot) -> list[ContextRow]:
    """The system prompt, messages by role, summaries, tool calls and results, and overhead:
    every window message in exactly one row (a summary is not also a system message)."""
    system_tokens = min(snapshot.system_prompt_tokens, snapshot.overhead)
    # The overhead is the provider's count beyond the messages; the system prompt is part of it.
    rows = [ContextRow("system prompt", None, system_tokens)]
    rows += [ContextRow(name, count, tokens) for name, (count, tokens) in _by_part(snapshot)]
    rows.append(ContextRow(OVERHEAD, None, snapshot.overhead - system_tokens))
    return rows


def _by_part(snapshot: SessionSnapshot) -> list[tuple[str, list[int]]]:
    parts: dict[str, list[int]] = {
        "system messages": [0, 0],
        "user messages": [0, 0],
        "assistant answers": [0, 0],
        "tool calls": [0, 0],
        "tool results": [0, 0],
    }
    for message in snapshot.window:
        covered = summary_range(message)
        if covered is not None:
            key = f"summary of messages {covered[0]} to {covered[1]}"
        elif message.role == "tool":
            key = "tool results"
        elif message.role == "assistant" and message.tool_calls:
            key = "tool calls"
        else:
            key = {"system": "system messages", "user": "user messages"}.get(
                message.role, "assistant answers"
            )
        counts = parts.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += message.tokens
    return [(name, counts) for name, counts in parts.items() if counts[0]]


def context_table(snapshot: SessionSnapshot) -> Rows:
    """The breakdown of ``snapshot``: its rows add up to the total shown."""
    return Rows(_table(snapshot), _tab_rows(snapshot))


def _tab_rows(snapshot: SessionSnapshot) -> list[list[str]]:
    """The breakdown for a pipe: every pinned exchange listed, the warning as the last line."""
    usage = snapshot.usage

    def row(name: str, messages: int | None, tokens: int) -> list[str]:
        count = "" if messages is None else str(messages)
        return [name, count, str(tokens), render.percent(tokens, usage.window)]

    rows = [row(r.name, r.messages, r.tokens) for r in context_rows(snapshot)]
    rows.append(row("in the window", usage.messages, usage.tokens))
    rows.append(["window size", "", str(usage.window), ""])
    exchanges = pinned_exchanges(snapshot)
    rows += [row(e.label(80).plain, e.messages, e.tokens) for e in exchanges]
    if exchanges:
        rows.append(row(*_pinned_total(exchanges)))
    if usage.trimmed:
        rows.append(["trimmed out (still in /history)", str(usage.trimmed), "", ""])
    if usage.warning:
        rows.append([usage.warning])
    return rows


def _table(snapshot: SessionSnapshot) -> Table:
    usage = snapshot.usage
    table = Table(show_edge=False, header_style="bold", title_justify="left")
    table.add_column("part")
    table.add_column("messages", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("share", justify="right")
    for row in context_rows(snapshot):
        name = Text(row.name, "dim") if row.name == OVERHEAD else row.name
        count = "" if row.messages is None else f"{row.messages:,}"
        table.add_row(name, count, f"{row.tokens:,}", render.percent(row.tokens, usage.window))
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
    name, count, tokens = _pinned_total(exchanges)
    table.add_row(  # a part of the window's rows above, not more of it
        Text(name, "bold"), f"{count:,}", f"{tokens:,}", render.percent(tokens, window)
    )


def _pinned_total(exchanges: list[PinnedExchange]) -> tuple[str, int, int]:
    """The pinned exchanges' row: its name, their messages and their tokens."""
    noun = "exchange" if len(exchanges) == 1 else "exchanges"
    name = f"of which pinned: {len(exchanges)} {noun}, kept through cleanups"
    return name, sum(e.messages for e in exchanges), sum(e.tokens for e in exchanges)
