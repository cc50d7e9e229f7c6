"""The CLI's output: rich consoles made on first use, and JSON for ``--json``.

Both are built with ``markup=False`` and ``emoji=False``: a string printed by mistake is shown
as written, so model text can never become a live ``[link=...]`` or a style. The CLI's own
styling is always spelled out with ``rich.text.Text``.

A console whose stream is not a terminal (a pipe, a file, a CI log) gets exact text: no
colour or style, and ``soft_wrap`` so no line is wrapped or cut at a width it never had.
Layout that needs a width (rules, code blocks) gets a fixed 80 columns, whatever ``COLUMNS``
says, so the same command writes the same bytes everywhere.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "PIPE_WIDTH",
    "err_console",
    "is_terminal",
    "make_console",
    "out_console",
    "print_json",
]

PIPE_WIDTH = 80


def make_console(stderr: bool) -> Console:
    """A console for standard output or error, exact (see above) when it is not a terminal."""
    from rich.console import Console

    if is_terminal(sys.stderr if stderr else sys.stdout):  # one rule for every caller
        return Console(stderr=stderr, markup=False, emoji=False, highlight=False)
    return Console(
        stderr=stderr,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,
        no_color=True,
        color_system=None,
        width=PIPE_WIDTH,
    )


def is_terminal(stream: TextIO | None) -> bool:
    """Whether ``stream`` is a terminal, decided as rich's ``Console.is_terminal`` decides it
    (``TTY_COMPATIBLE``, then ``FORCE_COLOR``, then ``isatty``), for callers that must know
    before, or instead of, importing rich."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


@cache
def out_console() -> Console:
    """The console for standard output."""
    return make_console(stderr=False)


@cache
def err_console() -> Console:
    """The console for messages: notices, warnings and errors go to standard error."""
    return make_console(stderr=True)


def print_json(value: Any) -> None:
    """``value`` as indented JSON on standard output (dates and paths as strings), with
    controls and bidi characters escaped so the terminal shows them as ``\\uXXXX``."""
    from .sanitize import escape_json

    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(escape_json(text) + "\n")
