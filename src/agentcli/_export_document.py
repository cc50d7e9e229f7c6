"""The JSON export document: its schema (checked whole on import) and how it is written.

JSON carries ``"format": "agentcli.session"`` and ``"version": 1``, the session's summary and
metadata, its window marker and every message exactly as ``messages_adapter`` writes it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from ._safe_text import escape_json
from .messages import Message
from .stores.base import SessionInfo

__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "ExportDocument", "SessionHeader", "to_json"]

EXPORT_FORMAT: Final = "agentcli.session"
EXPORT_VERSION: Final = 1


class SessionHeader(BaseModel):
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


class ExportDocument(BaseModel):
    # ``forbid``: a field this version does not know would be dropped on import, so an export
    # with one is refused rather than imported with a silent loss.
    model_config = ConfigDict(extra="forbid")

    format: Literal["agentcli.session"]
    version: Literal[1]
    exported_at: AwareDatetime | None = None
    session: SessionHeader
    messages: list[Message]


def to_json(info: SessionInfo, messages: list[Message]) -> str:
    document = ExportDocument(
        format=EXPORT_FORMAT,
        version=EXPORT_VERSION,
        exported_at=datetime.now(UTC),
        session=SessionHeader(
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
    # Lossless, and still safe to ``cat``: controls and bidi characters stay escaped.
    return escape_json(document.model_dump_json(indent=2)) + "\n"
