"""Export a session as JSON (lossless, re-importable) or Markdown (for people), and import it.

JSON carries ``"format": "agentcli.session"`` and ``"version": 1``, the session's summary and
metadata, its window marker and every message exactly as ``messages_adapter`` writes it.
Markdown shows the whole transcript, tool calls and results included; the messages before the
window marker are marked as trimmed out of the agent's context window (the store keeps them).

File names come from ``export_filename``/``safe_export_path``, which never leave the target
directory whatever the session id holds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, ValidationError

from .errors import InvalidInputError, SessionNotFoundError
from .messages import Message
from .session.window_cache import WINDOW_KEY
from .stores.base import SessionInfo, SessionStore, validate_session_id

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "TRIMMED_MARKER",
    "ExportFormat",
    "SessionExistsError",
    "export_filename",
    "export_session",
    "import_session",
    "safe_export_path",
]

ExportFormat = Literal["json", "md"]
EXPORT_FORMAT: Final = "agentcli.session"
EXPORT_VERSION: Final = 1
TRIMMED_MARKER: Final = "— trimmed out of the context window above this line —"


class SessionExistsError(InvalidInputError):
    """An import would replace ``session_id``, and ``overwrite`` was not given."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"session {session_id!r} already exists: import it under another id, "
            "or pass overwrite=True to replace it"
        )
        self.session_id = session_id


class _SessionHeader(BaseModel):
    """The session's summary as exported (times are the original session's)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = ""
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    message_count: int = Field(0, ge=0)
    last_seq: int = Field(0, ge=0)
    window_start: int = Field(1, ge=1)
    tokens: int = Field(0, ge=0)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class _ExportDocument(BaseModel):
    # ``forbid``: a field this version does not know would be dropped on import, so an export
    # with one is refused rather than imported with a silent loss.
    model_config = ConfigDict(extra="forbid")

    format: Literal["agentcli.session"]
    version: Literal[1]
    exported_at: AwareDatetime | None = None
    session: _SessionHeader
    messages: list[Message]


# ---------------------------------------------------------------------- export


async def export_session(store: SessionStore, session_id: str, fmt: ExportFormat = "json") -> str:
    """The session as JSON or Markdown text. Raises ``SessionNotFoundError`` if it is unknown."""
    _check_format(fmt)
    info = await store.info(session_id)
    if info is None:
        raise SessionNotFoundError(session_id)
    messages = await store.read(session_id)
    return _to_json(info, messages) if fmt == "json" else _to_markdown(info, messages)


def _to_json(info: SessionInfo, messages: list[Message]) -> str:
    document = _ExportDocument(
        format=EXPORT_FORMAT,
        version=EXPORT_VERSION,
        exported_at=datetime.now(UTC),
        session=_SessionHeader(
            id=info.id,
            title=info.title,
            created_at=info.created_at,
            updated_at=info.updated_at,
            # Counted from what is exported, in case a message landed between the two reads.
            message_count=len(messages),
            last_seq=messages[-1].seq if messages else info.last_seq,
            window_start=info.window_start,
            tokens=sum(m.tokens for m in messages),
            metadata=info.metadata,
        ),
        messages=messages,
    )
    return document.model_dump_json(indent=2) + "\n"


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

    Messages are appended in one atomic batch and numbered 1, 2, ... again; the window marker
    follows them. The created and updated times become the import's own.
    Raises ``InvalidInputError`` for anything that is not a valid export.
    """
    document = _parse(data)
    target = validate_session_id(session_id if session_id is not None else document.session.id)
    if await store.info(target) is not None:
        if not overwrite:
            raise SessionExistsError(target)
        await store.delete(target)
    messages = document.messages
    # Where the window starts, counted in messages, so it survives renumbering.
    window_start = 1 + sum(1 for m in messages if m.seq < document.session.window_start)
    if messages:
        await store.append(target, messages)
    # Without the trim marker: its seq numbers may not hold after renumbering, and without it
    # the first load finds the window from the transcript.
    metadata = {k: v for k, v in document.session.metadata.items() if k != WINDOW_KEY}
    await store.set_state(target, window_start=window_start, metadata=metadata)
    return target


def _parse(data: str | bytes) -> _ExportDocument:
    """The export ``data`` holds, checked whole before anything is stored or replaced."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidInputError(f"not a session export: the data is not JSON ({exc})") from None
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
    try:
        document = _ExportDocument.model_validate(raw)
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
    return document


# ---------------------------------------------------------------------- Markdown

_ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool result"}
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_BACKTICKS = re.compile(r"`+")


def _to_markdown(info: SessionInfo, messages: list[Message]) -> str:
    title = " ".join(info.title.split()) or f"Session {info.id}"
    trimmed = [m for m in messages if _is_trimmed(m, info.window_start)]
    out = [
        f"# {title}",
        "",
        f"- Session: {_code(info.id)}",
        f"- Created: {_when(info.created_at)} · last active: {_when(info.updated_at)}",
        f"- Messages: {len(messages)} · tokens: {sum(m.tokens for m in messages):,}",
    ]
    if trimmed:
        count = "1 earlier message" if len(trimmed) == 1 else f"{len(trimmed)} earlier messages"
        out.append(
            f"- Context window: starts at message #{info.window_start}; the {count} marked "
            "*trimmed* were cleaned out of the agent's context window and are kept here."
        )
    out.append("")
    marker_due = bool(trimmed)
    for message in messages:
        if marker_due and message.seq >= info.window_start:
            out.extend(_trim_rule())
            marker_due = False
        out.extend(_render(message, trimmed=_is_trimmed(message, info.window_start)))
    if marker_due:  # every message is before the window's start
        out.extend(_trim_rule())
    return "\n".join(out).rstrip("\n") + "\n"


def _is_trimmed(message: Message, window_start: int) -> bool:
    # System messages stay in the window wherever they are (the cleanup policy keeps them).
    return message.seq < window_start and message.role != "system"


def _trim_rule() -> list[str]:
    return ["---", "", f"✂ **{TRIMMED_MARKER}**", "", "---", ""]


def _render(message: Message, *, trimmed: bool) -> list[str]:
    out = [_heading(message, trimmed=trimmed), "", _details(message), ""]
    if message.status == "interrupted":
        out += ["> ⚠ **Interrupted:** the answer was cut off; below is what had arrived.", ""]
    elif message.status == "failed":
        error = (message.metadata or {}).get("error")
        reason = f": {' '.join(str(error).split())}" if error else ""
        out += [f"> ✖ **Failed**{reason}", ""]
    if message.role == "tool":
        out += [*_fenced(message.content), ""]
    elif message.content:
        out += [_close_fences(message.content), ""]
    elif not message.tool_calls and message.status == "complete":
        out += ["*(empty)*", ""]
    for call in message.tool_calls:
        out += [f"**Tool call** {_code(call.name)} (id {_code(call.id)}):", ""]
        out += [*_fenced(_pretty_json(call.arguments), "json"), ""]
    return out


def _heading(message: Message, *, trimmed: bool) -> str:
    tags = [f"#{message.seq}", _ROLE_NAMES[message.role]]
    if message.role == "tool" and message.name:
        tags.append(_code(message.name))
    if message.status != "complete":
        tags.append("⚠ interrupted" if message.status == "interrupted" else "✖ failed")
    if trimmed:
        tags.append("*trimmed*")
    return f"### {' · '.join(tags)}"


def _details(message: Message) -> str:
    details = [_when(message.timestamp), f"{message.tokens:,} tokens"]
    model = message.usage.model if message.usage else None
    if model:
        details.append(_code(model))
    if message.tool_call_id:
        details.append(f"answers {_code(message.tool_call_id)}")
    return f"*{' · '.join(details)}*"


def _when(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def _code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    ticks = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fenced(text: str, info: str = "") -> list[str]:
    """``text`` in a code block whose fence no line of ``text`` can close."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return [f"{fence}{info}", text, fence]


def _close_fences(text: str) -> str:
    """Close a code block the text leaves open (an interrupted answer often stops inside one),
    so it cannot swallow the rest of the document."""
    open_fence: str | None = None
    for line in text.splitlines():
        match = _FENCE_LINE.match(line)
        if match is None:
            continue
        fence, rest = match.groups()
        if open_fence is None:
            if not (fence[0] == "`" and "`" in rest):  # else it is inline code, not a fence
                open_fence = fence
        elif fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not rest.strip():
            open_fence = None
    return text if open_fence is None else f"{text}\n{open_fence}"


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
