"""Writing a session to a file (``/export`` and ``sessions export``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidInputError

if TYPE_CHECKING:
    from ..export import ExportFormat
    from ..stores.base import SessionStore

__all__ = ["export_to_file", "format_for", "parse_export_args"]


def format_for(fmt: str | None, path: Path | None) -> ExportFormat:
    """The format asked for, else the one the file name implies, else Markdown."""
    if fmt is None:
        fmt = "json" if path is not None and path.suffix.lower() == ".json" else "md"
    fmt = fmt.lower().removeprefix(".")
    if fmt == "markdown":
        fmt = "md"
    if fmt == "md":
        return "md"
    if fmt == "json":
        return "json"
    raise ValueError(f"unknown format {fmt!r}: use md or json")


def parse_export_args(args: list[str]) -> tuple[Path | None, ExportFormat]:
    """``[PATH] [--format md|json]`` (also ``--format=json`` and ``-f json``)."""
    path: Path | None = None
    fmt: str | None = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("--format", "-f"):
            if not rest:
                raise ValueError("--format needs md or json")
            fmt = rest.pop(0)
        elif arg.startswith("--format="):
            fmt = arg.partition("=")[2]
        elif arg.startswith("-") and arg != "-":
            raise ValueError(f"unknown option {arg!r}")
        elif path is None:
            path = Path(arg).expanduser()
        else:
            raise ValueError("give at most one path")
    return path, format_for(fmt, path)


async def export_to_file(
    store: SessionStore, session_id: str, fmt: ExportFormat, path: Path | None
) -> Path:
    """Write the export to ``path`` (a file, or a directory to put a safely named file in;
    the current directory when ``None``). Returns the file written."""
    from ..export import export_session

    text = await export_session(store, session_id, fmt)
    return await asyncio.to_thread(_write, text, path, session_id, fmt)


def _write(text: str, path: Path | None, session_id: str, fmt: ExportFormat) -> Path:
    from ..export import safe_export_path

    if path is None or path.is_dir():
        path = safe_export_path(path or Path.cwd(), session_id, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # An export holds the conversation: a new file is readable by its owner only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
