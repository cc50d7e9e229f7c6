"""Views of the chat's slash commands that differ on a terminal and elsewhere.

On a terminal ``/help`` is two tables (commands, keys); piped, it is one tab-separated line
per command or key, whole at any width. ``/system`` shows a long prompt cut to a few lines on a
terminal and whole elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from .rows import Rows
from .sanitize import sanitize, sanitize_inline

__all__ = ["SHOWN_PROMPT_CHARS", "help_rows", "shown_prompt"]

SHOWN_PROMPT_CHARS = 400  # of the system prompt, on a terminal


def help_rows(commands: Mapping[str, tuple[str, str]], keys: Sequence[tuple[str, str]]) -> Rows:
    """``/help``: each command with its arguments and what it does, then each key and what it
    does. Piped: ``/export [PATH] …<TAB>write the session to a file``, one line each."""
    from rich.console import Group
    from rich.table import Table

    pairs = [(f"{name} {usage}".strip(), meta) for name, (meta, usage) in commands.items()]
    tables = []
    for part in (pairs, keys):
        table = Table(show_header=False, box=None, padding=(0, 2))
        for name, meta in part:
            table.add_row(Text(name, "bold"), Text(meta))
        tables.append(table)
    return Rows(Group(*tables), [*pairs, *keys])


def shown_prompt(prompt: str, *, whole: bool) -> str:
    """The system prompt as ``/system`` shows it: on one line and cut on a terminal; ``whole``
    (not a terminal), sanitised but otherwise as written, line breaks and all."""
    return sanitize(prompt) if whole else sanitize_inline(prompt, SHOWN_PROMPT_CHARS)
