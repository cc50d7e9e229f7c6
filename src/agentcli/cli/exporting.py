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

__all__ = ["export_to_file", "format_for", "parse_export_args", "take_force"]


def format_for(fmt: str | None, path: str | os.PathLike[str] | None) -> ExportFormat:
    """The format asked for, else the one the file name implies, else Markdown."""
    if fmt is None:
        is_json = path is not None and Path(os.fspath(path)).suffix.lower() == ".json"
        fmt = "json" if is_json else "md"
    fmt = fmt.lower().removeprefix(".")
    if fmt == "markdown":
        fmt = "md"
    if fmt == "md":
        return "md"
    if fmt == "json":
        return "json"
    raise ValueError(f"unknown format {fmt!r}: use md or json")


def take_force(args: list[str]) -> tuple[list[str], bool]:
    """``args`` without ``--force``, and whether it was there."""
    rest = [arg for arg in args if arg != "--force"]
    return rest, len(rest) != len(args)


def parse_export_args(args: list[str]) -> tuple[str | None, ExportFormat]:
    """``[PATH] [--format md|json]`` (also ``--format=json`` and ``-f json``). The path is
    kept as typed (``~`` expanded): a trailing ``/`` names a directory to create."""
    path: str | None = None
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
            path = os.path.expanduser(arg)
        else:
            raise ValueError("give at most one path")
    return path, format_for(fmt, path)


async def export_to_file(
    store: SessionStore,
    session_id: str,
    fmt: ExportFormat,
    target: str | os.PathLike[str] | None,
    *,
    force: bool = False,
) -> Path:
    """Write the export to ``target``: a file, or a directory to put a safely named file in
    (an existing one, or a path ending in ``/``, created 0700); the current directory when
    ``None``. An existing file is replaced only with ``force``, a symbolic link never, and a
    failed write leaves the old file as it was. Returns the file written."""
    from ..export import export_session

    text = await export_session(store, session_id, fmt)
    return await asyncio.to_thread(_write, text, target, session_id, fmt, force)


def _write(
    text: str,
    target: str | os.PathLike[str] | None,
    session_id: str,
    fmt: ExportFormat,
    force: bool,
) -> Path:
    from .._private_files import write_private_file

    shown = Path(os.fspath(target)) if target is not None else Path.cwd()
    try:
        directory, name = _place(target, session_id, fmt)
        shown = directory / name
        # Model text can hold lone surrogates: written as U+FFFD rather than failing.
        data = text.encode("utf-8", "replace")
        write_private_file(directory, name, data, replace=force)
    except OSError as exc:
        raise InvalidInputError(_refusal(shown, exc)) from None
    return shown


def _place(
    target: str | os.PathLike[str] | None, session_id: str, fmt: ExportFormat
) -> tuple[Path, str]:
    """The directory to write in (created if missing) and the file name in it."""
    from .._private_files import make_private_dir
    from ..export import export_filename

    if target is None:
        return Path.cwd(), export_filename(session_id, fmt)
    text = os.path.expanduser(os.fspath(target))
    if text.endswith(_SEPARATORS):  # "-o exports/": a directory, made if it is not there
        make_private_dir(Path(text))
        return Path(text), export_filename(session_id, fmt)
    path = Path(text)
    if path.is_dir():
        return path, export_filename(session_id, fmt)
    if path.name in ("", ".", ".."):
        raise InvalidInputError(f"cannot write {path}: name a file or a directory")
    make_private_dir(path.parent)
    return path.parent, path.name


_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep)


def _refusal(path: Path, exc: OSError) -> str:
    from .._private_files import TargetExistsError, TargetIsLinkError, TargetNotRegularError

    if isinstance(exc, TargetExistsError):
        return f"{path} exists: add --force to replace it, or choose another name"
    if isinstance(exc, TargetIsLinkError):
        return f"refusing to write {path}: it is a symbolic link (links are never followed)"
    if isinstance(exc, TargetNotRegularError):
        return f"refusing to write {path}: it is not a regular file"
    return f"cannot write {path}: {exc.strerror or exc}"
