"""``agentcli sessions list --search TEXT``: sessions whose title or messages hold TEXT.

It goes through the store protocol (``list_sessions``, then ``read``) so that every store
answers alike: the ``SCAN_LIMIT`` most recently active sessions are read one at a time, newest
first, until ``limit`` of them match, and a note says so when older sessions were left out.
Reading a thousand ordinary sessions from SQLite takes about a second.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text

from .console import err_console, out_console, print_json
from .rows import tab_line
from .sanitize import sanitize, sanitize_inline
from .session_table import ago, session_dict

if TYPE_CHECKING:
    from rich.table import Table

    from ..messages import Message
    from ..stores.base import SessionInfo, SessionStore

__all__ = ["SCAN_LIMIT", "SearchHit", "print_hits", "search_sessions"]

SCAN_LIMIT = 1000
_BEFORE, _AFTER = 40, 80  # characters of context shown around a match


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A matching session and its first match: ``before`` + ``match`` + ``after`` is a short,
    sanitised, one-line snippet. ``seq`` is ``None`` when only the title matched."""

    info: SessionInfo
    seq: int | None
    role: str
    before: str
    match: str
    after: str

    @property
    def snippet(self) -> str:
        return self.before + self.match + self.after

    @property
    def where(self) -> str:
        return "title" if self.seq is None else f"#{self.seq} {self.role}"

    def as_dict(self) -> dict[str, Any]:
        found = {"seq": self.seq, "role": self.role, "snippet": self.snippet}
        return {**session_dict(self.info), "match": found}


async def search_sessions(
    store: SessionStore, text: str, *, limit: int
) -> tuple[list[SearchHit], bool]:
    """Up to ``limit`` sessions holding ``text`` (any case), most recent first, and whether
    sessions beyond ``SCAN_LIMIT`` were left unsearched."""
    pattern = re.compile(re.escape(text), re.IGNORECASE)
    infos = await store.list_sessions(limit=SCAN_LIMIT + 1)
    hits: list[SearchHit] = []
    for info in infos[:SCAN_LIMIT]:
        hit = _first_match(info, await store.read(info.id), pattern)
        if hit is not None:
            hits.append(hit)
            if len(hits) >= limit:
                break
    return hits, len(infos) > SCAN_LIMIT


def _first_match(
    info: SessionInfo, messages: Sequence[Message], pattern: re.Pattern[str]
) -> SearchHit | None:
    for message in messages:
        found = pattern.search(message.content)
        if found is not None:
            return SearchHit(info, message.seq, message.role, *_snippet(message.content, found))
    found = pattern.search(info.title)
    if found is not None:
        return SearchHit(info, None, "", *_snippet(info.title, found))
    return None


def _snippet(text: str, found: re.Match[str]) -> tuple[str, str, str]:
    start, end = found.span()
    before = text[max(0, start - _BEFORE) : start]
    space = re.search(r"\s", before)
    if start > _BEFORE and space and space.start() < _BEFORE // 2:  # begin at a word
        before = before[space.end() :]
    after = text[end : end + _AFTER]
    cut = end + _AFTER < len(text)
    spaces = [m.start() for m in re.finditer(r"\s", after)]
    if cut and spaces and spaces[-1] > _AFTER // 2:  # end at a word
        after = after[: spaces[-1]]
    return (
        ("…" if start > _BEFORE else "") + _flat(before),
        _flat(found.group()),
        _flat(after).rstrip() + ("…" if cut else ""),
    )


def _flat(piece: str) -> str:
    """Safe text on one line, keeping one space at either end where the piece had any."""
    safe = sanitize(piece)
    flat = " ".join(safe.split())
    lead = " " if safe[:1].isspace() and flat else ""
    trail = " " if safe[-1:].isspace() else ""
    return lead + flat + trail


def print_hits(hits: Sequence[SearchHit], text: str, *, truncated: bool, json_output: bool) -> None:
    """A table on a terminal, tab-separated lines in a pipe (id, last active, where, snippet),
    or JSON: each session as ``sessions list --json`` gives it, with its ``match``."""
    if json_output:
        print_json([hit.as_dict() for hit in hits])
    elif out_console().is_terminal:
        if hits:
            out_console().print(_table(hits))
    else:  # written as is: a console would turn the tabs into spaces
        rows = ([h.info.id, h.info.updated_at.isoformat(), h.where, h.snippet] for h in hits)
        sys.stdout.write("".join(tab_line(row) + "\n" for row in rows))
    err = err_console()
    if not hits:
        err.print(Text(f"no sessions match {sanitize_inline(text, 80)!r}", style="dim"))
    if truncated:
        err.print(
            Text(
                f"searched the {SCAN_LIMIT:,} most recently active sessions; older ones were "
                "not searched",
                style="yellow",
            )
        )


def _table(hits: Sequence[SearchHit]) -> Table:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("last active", no_wrap=True)
    table.add_column("where", no_wrap=True)
    table.add_column("match", overflow="ellipsis", no_wrap=True, ratio=1)
    for hit in hits:
        snippet = Text.assemble(hit.before, (hit.match, "bold yellow"), hit.after)
        table.add_row(
            sanitize_inline(hit.info.id, 64), ago(hit.info.updated_at), hit.where, snippet
        )
    return table
