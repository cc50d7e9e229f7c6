"""Export a session as JSON (lossless, re-importable) or Markdown (for people), and import it.

The JSON document is described in ``_export_document``, the Markdown in ``_export_markdown``.
File names come from ``export_filename``/``safe_export_path``, which never leave the target
directory whatever the session id holds.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path
from typing import Literal, get_args

from pydantic import ValidationError

from ._export_document import EXPORT_FORMAT, EXPORT_VERSION, ExportDocument, to_json
from ._export_markdown import TRIMMED_MARKER, to_markdown
from ._import_checks import MAX_IMPORT_BYTES, MAX_IMPORT_DEPTH, check_values, load_json
from .errors import InvalidInputError, SessionNotFoundError
from .session.window_cache import PINNED_KEY, WINDOW_KEY, read_pins
from .stores.base import INT64_MAX, SessionStore, validate_session_id

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_DEPTH",
    "TRIMMED_MARKER",
    "ExportFormat",
    "SessionExistsError",
    "export_filename",
    "export_session",
    "import_session",
    "safe_export_path",
]

ExportFormat = Literal["json", "md"]


class SessionExistsError(InvalidInputError):
    """An import would replace ``session_id``, and ``overwrite`` was not given."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {session_id!r} already exists: import it under another id, "
            "or pass overwrite=True to replace it"
        )
        self.session_id = session_id


# ---------------------------------------------------------------------- export


async def export_session(store: SessionStore, session_id: str, fmt: ExportFormat = "json") -> str:
    """The session as JSON or Markdown text. Raises ``SessionNotFoundError`` if it is unknown."""
    _check_format(fmt)
    info = await store.info(session_id)
    if info is None:
        raise SessionNotFoundError(session_id)
    messages = await store.read(session_id)
    return to_json(info, messages) if fmt == "json" else to_markdown(info, messages)


# ---------------------------------------------------------------------- import


async def import_session(
    store: SessionStore,
    data: str | bytes,
    *,
    session_id: str | None = None,
    overwrite: bool = False,
) -> str:
    """Store a JSON export as a session and return its id (``session_id``, else the exported
    one). An existing session is replaced only with ``overwrite=True``.

    The whole document is checked first (``_import_checks``: at most ``MAX_IMPORT_BYTES``,
    nested at most ``MAX_IMPORT_DEPTH`` deep, only values every store can hold), then written
    in one atomic step of the store (``write_session``): messages numbered 1, 2, ... again, the
    window marker following them, and the old session, with ``overwrite``, replaced in the same
    step. So a failure at any point leaves an existing session exactly as it was, and nothing
    half-imported. The created and updated times become the import's own.
    Raises ``InvalidInputError`` for anything that is not a valid export (``SessionExistsError``
    when the session exists and ``overwrite`` was not given).
    """
    document = _parse(data)
    target = validate_session_id(session_id if session_id is not None else document.session.id)
    messages = document.messages
    # Where the window starts, counted in messages, so it survives renumbering.
    window_start = 1 + sum(1 for m in messages if m.seq < document.session.window_start)
    # Without the trim marker: its seq numbers may not hold after renumbering, and without it
    # the first load finds the window from the transcript.
    metadata = {k: v for k, v in document.session.metadata.items() if k != WINDOW_KEY}
    if PINNED_KEY in metadata:  # the pins follow their messages to the new numbers
        renumbered = {m.seq: number for number, m in enumerate(messages, start=1)}
        pins = read_pins(metadata)
        metadata[PINNED_KEY] = [renumbered[s] for s in sorted(pins) if s in renumbered]
    written = await store.write_session(
        target, messages, window_start=window_start, metadata=metadata, replace=overwrite
    )
    if not written:
        raise SessionExistsError(target)
    return target


def _parse(data: str | bytes) -> ExportDocument:
    """The export ``data`` holds, checked whole before anything is stored or replaced."""
    raw = load_json(data)  # bounded: size and depth
    if not isinstance(raw, dict) or raw.get("format") != EXPORT_FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise InvalidInputError(
            f'not a session export: expected "format": "{EXPORT_FORMAT}", found {found!r}'
        )
    if raw.get("version") != EXPORT_VERSION:
        raise InvalidInputError(
            f"unsupported session export version {raw.get('version')!r}: this agentcli reads "
            f"version {EXPORT_VERSION}"
        )
    check_values(raw)  # before the schema: its validators recurse, and stores have limits
    try:
        document = ExportDocument.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'document'}: {error['msg']}"
            for error in exc.errors()[:3]
        ]
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise InvalidInputError("invalid session export: " + "; ".join(problems) + more) from None
    for previous, message in itertools.pairwise(document.messages):
        if message.seq <= previous.seq:
            raise InvalidInputError(
                f"invalid session export: messages must be in increasing seq order "
                f"(seq {message.seq} follows seq {previous.seq})"
            )
    if sum(m.tokens for m in document.messages) > INT64_MAX:
        raise InvalidInputError(
            "invalid session export: the messages' tokens add up to more than a store can "
            f"count ({INT64_MAX})"
        )
    return document


# ---------------------------------------------------------------------- file names

_EXTENSIONS: dict[str, str] = {"json": ".json", "md": ".md"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 64


def export_filename(session_id: str, fmt: ExportFormat) -> str:
    """A file name for the session's export: ``session-<id>.<ext>`` when the id is plain ASCII,
    else a cleaned id plus a hash of the real one (so distinct ids never share a name).

    The result is one path component: no separators, never ``.`` or ``..``, never hidden.
    """
    _check_format(fmt)
    stem = _UNSAFE.sub("_", session_id).strip("._-")[:_MAX_STEM].rstrip("._-")
    if stem != session_id or not stem:
        digest = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        stem = f"{stem}-{digest}" if stem else digest
    return f"session-{stem}{_EXTENSIONS[fmt]}"


def safe_export_path(directory: str | Path, session_id: str, fmt: ExportFormat) -> Path:
    """Where to write the session's export inside ``directory`` (resolved; nothing is created).

    Raises ``InvalidInputError`` if that name is a link leading out of the directory.
    """
    base = Path(directory).expanduser().resolve()
    path = base / export_filename(session_id, fmt)
    if path.parent != base or path.resolve().parent != base:
        raise InvalidInputError(f"refusing to write {path}: it leads out of {base}")
    return path


def _check_format(fmt: str) -> None:
    if fmt not in get_args(ExportFormat):
        raise InvalidInputError(f"unknown export format {fmt!r}: use 'json' or 'md'")
