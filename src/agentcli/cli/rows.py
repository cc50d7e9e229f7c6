"""A list that is a table on a terminal and tab-separated lines anywhere else.

Piped, each row is one line of tab-separated cells, without a header and with nothing cut
(``cut -f1``, ``awk -F'\\t'`` and ``sort`` work on it); tabs and line breaks inside a cell become
spaces, so a row is always one line. ``--json`` gives the same rows with their names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .sanitize import sanitize

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult

__all__ = ["Rows", "tab_line"]


def tab_line(cells: Sequence[str]) -> str:
    """One row as a line: cells sanitised, their tabs and line breaks turned into spaces."""
    return "\t".join(" ".join(sanitize(cell).split("\t")).replace("\n", " ") for cell in cells)


class Rows:
    """``table`` on a terminal; ``rows`` as tab-separated lines when the console is not one."""

    def __init__(self, table: RenderableType, rows: Sequence[Sequence[str]]) -> None:
        self.table = table
        self.rows = rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if console.is_terminal:
            yield self.table
            return
        from rich.segment import Segment

        for row in self.rows:  # segments, not Text: rich would expand the tabs into spaces
            yield Segment(tab_line(row))
            yield Segment.line()
