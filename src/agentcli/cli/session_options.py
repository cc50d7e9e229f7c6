"""Options of ``sessions list`` and ``sessions show`` for finding past work (kept out of
``app.py``, which holds the commands)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["LastOpt", "SearchOpt"]

SearchOpt = Annotated[
    str | None,
    typer.Option(
        "--search",
        "-q",
        metavar="TEXT",
        help="Only sessions whose title or messages contain TEXT (any case), with where it "
        "first appears; searches the 1,000 most recently active sessions.",
    ),
]
LastOpt = Annotated[
    int | None,
    typer.Option(
        "--last",
        "-n",
        metavar="N",
        min=1,
        help="Only the last N messages (each question, answer and tool result is one).",
    ),
]
