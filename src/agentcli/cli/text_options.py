"""The ``--markdown/--raw`` option of ``run`` and ``chat``: how an answer is shown."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["MarkdownOpt", "show_markdown"]

MarkdownOpt = Annotated[
    bool | None,
    typer.Option(
        "--markdown/--raw",
        help="Render answers as Markdown (line breaks kept), or show the text exactly as the "
        "model wrote it. Default: Markdown on a terminal, raw when piped.",
    ),
]


def show_markdown(choice: bool | None, terminal: bool) -> bool:
    """``--markdown`` or ``--raw`` if given, else Markdown only on a terminal."""
    return terminal if choice is None else choice
