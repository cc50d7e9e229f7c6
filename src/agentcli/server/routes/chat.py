"""Turns over REST and SSE: ``POST /chat``, ``POST /chat/stream``, ``GET /chat/stream/{id}``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...usage import CleanupReport, ContextReport, Usage
from ..deps import Caller, State, claim_session
from ..errors import ApiError
from ..sse import KEEPALIVE, SSE_HEADERS, done_payload, encode, header_safe
from ..state import ServerState
from ..turns import LiveTurn, TurnView

__all__ = ["router"]

router = APIRouter(tags=["chat"])


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, description="the user's input")
    session_id: str | None = Field(
        None, min_length=1, max_length=128, description="continue this session (new if absent)"
    )
    model: str | None = Field(
        None, description="a served agent (GET /v1/models); default: the first"
    )


class StreamRequest(ChatRequest):
    on_disconnect: Literal["cancel", "continue"] = Field(
        "cancel",
        description="when the client goes away: cancel the turn (its partial answer is kept, "
        "marked interrupted) or let it run, to be resumed with GET /chat/stream/{turn_id}",
    )


class ChatResult(BaseModel):
    session_id: str
    turn_id: str
    model: str
    output: str
    usage: Usage | None
    context: ContextReport | None
    cleanup: CleanupReport | None


async def start_turn(
    state: ServerState, caller: Caller, request: Request, body: ChatRequest
) -> LiveTurn:
    """Claim the session and start the turn; a turn that could not hold its session (busy,
    refused input, a spent budget) fails here, with its status, before any response is sent."""
    state.refuse_if_draining()
    model, manager = state.manager_for(body.model)
    request.state.agent = model
    await state.refuse_if_over_budget(caller.key_id, model)  # before anything is written
    session_id = await claim_session(state, caller, body.session_id)
    request.state.session_id = session_id
    state.refuse_if_busy(session_id)
    state.refuse_if_draining()  # again: claiming the session awaited, and a drain may have begun
    turn = state.turns.start(manager, session_id, body.message, model=model, owner=caller.key_id)
    failure = await turn.wait_until_held()
    if failure is not None:
        raise failure
    return turn


@router.post("/chat", response_model=ChatResult, summary="Run one turn and return the answer")
async def chat(body: ChatRequest, request: Request, state: State, caller: Caller) -> ChatResult:
    turn = await start_turn(state, caller, request, body)
    await turn.wait()
    response = turn.response
    if response is None:
        failure = turn.failure
        assert failure is not None
        raise failure
    request.state.tokens = response.tokens
    return ChatResult(
        session_id=turn.session_id,
        turn_id=turn.id,
        model=turn.model,
        output=response.output,
        usage=response.usage,
        context=response.context,
        cleanup=response.cleanup,
    )


_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "the turn's events (see README)"}
}


@router.post(
    "/chat/stream",
    summary="Run one turn, streaming its events (SSE)",
    response_class=StreamingResponse,
    responses=_SSE_DOC,
)
async def chat_stream(
    body: StreamRequest, request: Request, state: State, caller: Caller
) -> StreamingResponse:
    turn = await start_turn(state, caller, request, body)
    cancel_on_disconnect = body.on_disconnect == "cancel"
    return _stream(
        state, turn, after=0, live=turn if cancel_on_disconnect else None, started=time.monotonic()
    )


@router.get(
    "/chat/stream/{turn_id}",
    summary="Replay and follow a turn's events after Last-Event-ID",
    response_class=StreamingResponse,
    responses=_SSE_DOC,
)
async def follow_stream(
    turn_id: str,
    state: State,
    caller: Caller,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Any replica serves this when the service shares turns through Redis; without Redis,
    only the replica that runs the turn knows it."""
    after = _parse_last_event_id(last_event_id)
    turn = await _found(state, turn_id)
    if turn is None or turn.owner != caller.key_id:
        raise ApiError(
            404,
            "turn_not_found",
            f"no turn {turn_id!r} here (it may have ended more than "
            f"{state.settings.stream_retention:g} s ago)",
            "not_found_error",
        )
    turn.check_resumable(after)
    return _stream(state, turn, after=after, live=None, started=None)


async def _found(state: ServerState, turn_id: str) -> TurnView | None:
    try:
        return await state.turns.find(turn_id)
    except ApiError:
        raise
    except Exception as exc:  # Redis is down: say so, without its details
        raise ApiError(
            503,
            "shared_state_unavailable",
            "cannot read the turn from the shared state (Redis); retry shortly, or on the "
            "replica that runs it",
            "server_error",
            retry_after=1,
        ) from exc


def _parse_last_event_id(value: str | None) -> int:
    if value is None or not value.strip():
        return 0
    try:
        after = int(value)
    except ValueError:
        raise ApiError(
            400, "invalid_last_event_id", "Last-Event-ID must be an event number"
        ) from None
    if after < 0:
        raise ApiError(400, "invalid_last_event_id", "Last-Event-ID cannot be negative")
    return after


def _stream(
    state: ServerState,
    turn: TurnView,
    *,
    after: int,
    live: LiveTurn | None,
    started: float | None,
) -> StreamingResponse:
    """``turn``'s events after ``after``; ``live``: the turn to cancel if the client goes
    away before its end."""

    async def events() -> AsyncIterator[bytes]:
        metrics = state.metrics
        metrics.active_streams.inc()
        first = started is None
        try:
            async for item in turn.follow(after, keepalive=state.settings.sse_keepalive):
                if item is None:
                    yield KEEPALIVE
                    continue
                number, event = item
                yield encode(turn, number, event)
                if not first and number > 1:
                    first = True
                    metrics.first_event.labels(turn.model, "/chat/stream").observe(
                        time.monotonic() - (started or 0.0)
                    )
        finally:
            metrics.active_streams.dec()
            if live is not None and not live.done:
                # The client went away before the end: stop the turn; the partial answer is
                # stored, marked interrupted (the task records that itself).
                live.cancel()

    headers = {**SSE_HEADERS, "X-Turn-ID": turn.id, "X-Session-ID": header_safe(turn.session_id)}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


__all__ += ["ChatRequest", "ChatResult", "StreamRequest", "done_payload", "start_turn"]
