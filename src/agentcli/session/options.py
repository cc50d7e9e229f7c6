"""A session's request options (``-o NAME=VALUE``), changed under the session's lease."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeAlias

from pydantic import JsonValue

from ..request_options import OPTIONS_KEY, merge_options

if TYPE_CHECKING:
    from .writer import SessionWriter

__all__ = ["Changes", "Options", "update_options"]

Options: TypeAlias = dict[str, JsonValue]
Changes: TypeAlias = Mapping[str, JsonValue]  # a None value drops that option


async def update_options(writer: SessionWriter, changes: Changes) -> Options:
    """Store the writer's session's options with ``changes`` applied, keeping the cached
    window in step (as pins do); the options now."""
    state = writer.state
    options = merge_options(state.options, changes)
    state.revision = await writer.store.set_state(
        writer.session_id, metadata={OPTIONS_KEY: options or None}
    )
    state.options = options
    return options
