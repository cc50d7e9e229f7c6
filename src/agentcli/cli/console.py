"""The CLI's output: rich consoles made on first use, and JSON for ``--json``.

Both are built with ``markup=False`` and ``emoji=False``: a string printed by mistake is shown
as written, so model text can never become a live ``[link=...]`` or a style. The CLI's own
styling is always spelled out with ``rich.text.Text``.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["err_console", "out_console", "print_json"]


def _make(stderr: bool) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, markup=False, emoji=False, highlight=False)


@cache
def out_console() -> Console:
    """The console for standard output."""
    return _make(stderr=False)


@cache
def err_console() -> Console:
    """The console for messages: notices, warnings and errors go to standard error."""
    return _make(stderr=True)


def print_json(value: Any) -> None:
    """``value`` as indented JSON on standard output (dates and paths as strings), with
    controls and bidi characters escaped so the terminal shows them as ``\\uXXXX``."""
    from .sanitize import escape_json

    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(escape_json(text) + "\n")
