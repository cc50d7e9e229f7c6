"""The options for attaching files and extracting code, shared by ``run`` and ``chat``."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["ExtractOpt", "FilesOpt"]

FilesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--file",
        "-f",
        metavar="FILE",
        help="Attach a text file to the (first) message (repeatable; 100 KB each).",
    ),
]
ExtractOpt = Annotated[
    bool,
    typer.Option(
        "--extract",
        "-x",
        help="Print only the answer's fenced code blocks (all of the answer if it has none).",
    ),
]
