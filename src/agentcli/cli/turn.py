"""Run one turn through the session manager and show its events on a ``TurnView``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ..agent import TextDelta, ToolCallEvent, ToolResultEvent, TurnComplete

if TYPE_CHECKING:
    from ..messages import AgentResponse
    from ..session import SessionManager
    from .stream_view import TurnView

__all__ = ["run_turn"]


async def run_turn(
    manager: SessionManager, session_id: str, text: str, view: TurnView
) -> AgentResponse:
    """Stream a turn onto ``view``. Cancelling the task interrupts the answer: the manager keeps
    the partial answer marked interrupted, and ``CancelledError`` propagates."""
    response: AgentResponse | None = None
    events = manager.stream_events(session_id, text)
    try:
        view.start()
        async for event in events:
            if isinstance(event, TextDelta):
                view.text(event.text)
            elif isinstance(event, ToolCallEvent):
                view.tool_call(event.call)
            elif isinstance(event, ToolResultEvent):
                view.tool_result(event.message)
            elif isinstance(event, TurnComplete):
                response = event.response
    except (asyncio.CancelledError, KeyboardInterrupt):
        view.finish(interrupted=True)
        raise
    except BaseException:
        view.finish()
        raise
    finally:
        await events.aclose()
    assert response is not None  # stream_events always ends with TurnComplete
    view.finish(response.output)
    return response
