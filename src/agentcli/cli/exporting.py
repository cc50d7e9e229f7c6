"""Writing a session to a file or standard output (``/export`` and ``sessions export``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..stores.base import SessionStore

__all__ = ["Format", "export_text", "export_to_file", "format_for", "parse_export_args"]

Format = Literal["md", "json"]
FORMATS: tuple[Format, ...] = ("md", "json")


def format_for(fmt: str | None, path: Path | None) -> Format:
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


def parse_export_args(args: list[str]) -> tuple[Path | None, Format]:
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


async def export_text(store: SessionStore, session_id: str, fmt: Format) -> str:
    """The session as Markdown or JSON text (the whole transcript, window marker included)."""
    from ..export import export_session

    return await export_session(store, session_id, fmt)


async def export_to_file(
    store: SessionStore, session_id: str, fmt: Format, path: Path | None
) -> Path:
    """Write the export to ``path`` (a file, or a directory to put a safely named file in;
    the current directory when ``None``). Returns the file written."""
    text = await export_text(store, session_id, fmt)
    return await asyncio.to_thread(_write, text, path, session_id, fmt)


def _write(text: str, path: Path | None, session_id: str, fmt: Format) -> Path:
    from ..export import safe_export_path

    if path is None or path.is_dir():
        path = safe_export_path(path or Path.cwd(), session_id, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
