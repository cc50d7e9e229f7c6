"""Sessions over REST: list, read, usage, export, compact, cancel, delete.

Every endpoint acts only on the caller's own sessions (another key's session is a 404, as if
it did not exist). Session operations go through the default model's manager: all managers
share one store, and these operations do not depend on the agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ...context import ContextUsage
from ...errors import AgentCLIError, InvalidInputError
from ...export import ExportFormat, export_filename, export_session
from ...messages import Message
from ...session import SessionManager
from ...session.window_cache import SYSTEM_PROMPT_KEY, read_pins, summary_range
from ...stores.base import INT64_MAX, SessionInfo
from ...usage import CleanupReport, UsageLevel
from ..auth import Principal
from ..deps import ANONYMOUS, Caller, State, owned_session, owner_of
from ..errors import ApiError, api_error_for
from ..state import ServerState

__all__ = ["router"]

router = APIRouter(prefix="/sessions", tags=["sessions"])

T = TypeVar("T")

CANCEL_WAIT = 10.0  # seconds a cancel waits for the turn to store its partial answer
_LIST_DEFAULT, _LIST_MAX = 20, 100


class SessionSummary(BaseModel):
    id: str
    title: str = Field(description="the start of the first user message")
    created_at: datetime
    updated_at: datetime
    messages: int = Field(description="messages in the transcript, trimmed ones included")
    tokens: int = Field(description="tokens of the whole transcript")

    @classmethod
    def of(cls, info: SessionInfo) -> SessionSummary:
        return cls(
            id=info.id,
            title=info.title,
            created_at=info.created_at,
            updated_at=info.updated_at,
            messages=info.message_count,
            tokens=info.tokens,
        )


class SessionList(BaseModel):
    sessions: list[SessionSummary] = Field(description="most recently active first")


_PINNED = "seqs of the pinned messages: each keeps its whole exchange in the window"


class Transcript(BaseModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    tokens: int
    window_start: int = Field(
        description="seq of the first message in the agent's window; earlier ones were trimmed"
    )
    system_prompt: str | None
    pinned: list[int] = Field(description=_PINNED)
    messages: list[Message] = Field(description="every message, in seq order, lossless")


class UsageTotals(BaseModel):
    """What the session's answers used, summed from each stored answer's usage."""

    answers: int = Field(description="answers that reported usage")
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost: float | None = Field(description="USD, over the answers whose price is known")
    unpriced_answers: int = Field(description="answers with usage but no known price")


class SessionUsage(BaseModel):
    session_id: str
    tokens: int = Field(description="tokens in the agent's window now (overhead included)")
    window: int = Field(description="the context window size in tokens")
    fraction: float
    level: UsageLevel
    messages: int = Field(description="messages in the window")
    trimmed: int = Field(description="messages cleaned out of the window so far")
    warning: str | None
    pinned: list[int] = Field(description=_PINNED)
    usage: UsageTotals


class Pins(BaseModel):
    session_id: str
    pinned: list[int] = Field(description=_PINNED)


class CancelResult(BaseModel):
    session_id: str
    cancelled: bool = Field(description="whether a running turn was cancelled")
    turn_ids: list[str]


class DeleteResult(BaseModel):
    session_id: str
    deleted: bool


def _manager(state: ServerState) -> SessionManager:
    return state.managers[state.default_model]


async def _owned(request: Request, state: ServerState, caller: Principal, session_id: str) -> None:
    await owned_session(state, caller, session_id)
    request.state.session_id = session_id


def _refuse_if_running(state: ServerState, session_id: str, doing: str) -> None:
    """409 while this process runs a turn on the session: the turn holds the session until it
    ends, and waiting behind it could take minutes, so the caller is told at once."""
    if state.turns.running_for(session_id):
        raise ApiError(
            409,
            "session_busy",
            f"cannot {doing} session {session_id!r} while a turn is running on it; retry when "
            f"it ends, or cancel it (POST /sessions/{session_id}/cancel)",
            "conflict_error",
            retry_after=1,
        )


async def _managed(call: Awaitable[T]) -> T:
    """Await a library call, its errors (a lease held elsewhere: 409) as HTTP errors."""
    try:
        return await call
    except AgentCLIError as exc:
        raise api_error_for(exc) from None


@router.get("", response_model=SessionList, summary="The caller's sessions")
async def list_sessions(
    state: State,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=_LIST_MAX)] = _LIST_DEFAULT,
) -> SessionList:
    owned = await _sessions_of(state, caller.key_id, limit)
    return SessionList(sessions=[SessionSummary.of(info) for info in owned])


async def _sessions_of(state: ServerState, key_id: str, limit: int) -> list[SessionInfo]:
    """The first ``limit`` sessions ``key_id`` owns, most recent first. Stores index owners;
    sessions made while no keys were configured have none, so for the anonymous caller the
    store is read in growing pages until enough are found or it runs out."""
    if key_id != ANONYMOUS:
        return await state.store.list_sessions(limit=limit, owner=key_id)
    fetch = limit * 4
    while True:
        infos = await state.store.list_sessions(limit=fetch)
        owned = [i for i in infos if owner_of(i) == key_id]
        if len(owned) >= limit or len(infos) < fetch:
            return owned[:limit]
        fetch *= 4


@router.get("/{session_id}", response_model=Transcript, summary="A session's transcript")
async def get_session(
    session_id: str, request: Request, state: State, caller: Caller
) -> Transcript:
    info = await owned_session(state, caller, session_id)
    request.state.session_id = session_id
    manager = _manager(state)
    messages = await manager.history(session_id)
    prompt = info.metadata.get(SYSTEM_PROMPT_KEY)
    return Transcript(
        id=info.id,
        title=info.title,
        created_at=info.created_at,
        updated_at=info.updated_at,
        tokens=info.tokens,
        window_start=info.window_start,
        system_prompt=prompt if isinstance(prompt, str) else manager.system_prompt,
        pinned=sorted(read_pins(info.metadata)),
        messages=messages,
    )


@router.get("/{session_id}/usage", response_model=SessionUsage, summary="How full, what it cost")
async def session_usage(
    session_id: str, request: Request, state: State, caller: Caller
) -> SessionUsage:
    await _owned(request, state, caller, session_id)
    _refuse_if_running(state, session_id, "read the usage of")
    snapshot = await _managed(_manager(state).snapshot(session_id))
    context: ContextUsage = snapshot.usage
    return SessionUsage(
        session_id=session_id,
        tokens=context.tokens,
        window=context.window,
        fraction=context.fraction,
        level=context.level,
        messages=context.messages,
        trimmed=context.trimmed,
        warning=context.warning,
        pinned=list(snapshot.pins),
        usage=_totals(await state.store.read(session_id)),
    )


def _totals(messages: list[Message]) -> UsageTotals:
    totals = dict.fromkeys(
        ("answers", "input_tokens", "output_tokens", "total_tokens", "cached_tokens"), 0
    )
    reasoning = unpriced = 0
    cost: float | None = None
    for message in messages:
        usage = message.usage
        if usage is None:
            continue
        if summary_range(message) is None:  # a summary's usage counts, but it is no answer
            totals["answers"] += 1
        totals["input_tokens"] += usage.input_tokens or 0
        totals["output_tokens"] += usage.output_tokens or 0
        totals["total_tokens"] += usage.tokens or 0
        totals["cached_tokens"] += usage.cached_tokens or 0
        reasoning += usage.reasoning_tokens or 0
        if usage.cost is None:
            unpriced += 1
        else:
            cost = (cost or 0.0) + usage.cost
    return UsageTotals(**totals, reasoning_tokens=reasoning, cost=cost, unpriced_answers=unpriced)


_EXPORT_TYPES = {"json": "application/json", "md": "text/markdown; charset=utf-8"}
_EXPORT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {}, "text/markdown": {}},
        "description": "json: the lossless export (agentcli import reads it); md: for people",
    }
}


@router.get(
    "/{session_id}/export",
    summary="Export as JSON (lossless) or Markdown",
    response_class=Response,
    responses=_EXPORT_DOC,
)
async def export(
    session_id: str,
    request: Request,
    state: State,
    caller: Caller,
    fmt: Annotated[ExportFormat, Query(alias="format")] = "json",
) -> Response:
    await _owned(request, state, caller, session_id)
    text = await _managed(export_session(state.store, session_id, fmt))
    filename = export_filename(session_id, fmt)  # one safe path component, plain ASCII
    return Response(
        text,
        media_type=_EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class CompactRequest(BaseModel):
    instructions: str | None = Field(
        None,
        max_length=100_000,
        description="what the summary should keep or focus on; with them, everything but the "
        "last exchanges is summarised, whatever the cleanup strategy",
    )


@router.post("/{session_id}/compact", response_model=CleanupReport, summary="Clean up now")
async def compact(
    session_id: str,
    request: Request,
    state: State,
    caller: Caller,
    body: Annotated[CompactRequest | None, Body()] = None,
) -> CleanupReport:
    """Trim the window to the cleanup target, or summarise (``summarize`` strategy, or with
    ``instructions``). A summariser that fails falls back to trimming (``warning`` says so)."""
    await _owned(request, state, caller, session_id)
    _refuse_if_running(state, session_id, "compact")
    instructions = body.instructions if body else None
    return await _managed(_manager(state).compact(session_id, instructions))


_SEQ = Annotated[int, PathParam(ge=1, le=INT64_MAX, description="the message's seq")]


@router.post("/{session_id}/pins/{seq}", response_model=Pins, summary="Pin a message's exchange")
async def pin(session_id: str, seq: _SEQ, request: Request, state: State, caller: Caller) -> Pins:
    """Keep the message's whole exchange (question, tool calls, answer) in the window through
    every cleanup. 422 when the message is no longer in the window, is a failed turn's entry,
    or when the pins would not fit under the cleanup target; pinning again changes nothing."""
    await _owned(request, state, caller, session_id)
    _refuse_if_running(state, session_id, "pin a message of")
    pins = await _pinning(_manager(state).pin(session_id, seq))
    return Pins(session_id=session_id, pinned=list(pins))


@router.delete("/{session_id}/pins/{seq}", response_model=Pins, summary="Unpin a message")
async def unpin(session_id: str, seq: _SEQ, request: Request, state: State, caller: Caller) -> Pins:
    """Let cleanup drop the message's exchange again; 422 when it is not pinned."""
    await _owned(request, state, caller, session_id)
    _refuse_if_running(state, session_id, "unpin a message of")
    pins = await _pinning(_manager(state).unpin(session_id, seq))
    return Pins(session_id=session_id, pinned=list(pins))


async def _pinning(call: Awaitable[T]) -> T:
    """A pin's refusal is 422: the request was well formed, the session cannot take it."""
    try:
        return await call
    except InvalidInputError as exc:
        raise ApiError(422, "pin_refused", str(exc), "invalid_request_error") from None
    except AgentCLIError as exc:
        raise api_error_for(exc) from None


@router.post("/{session_id}/cancel", response_model=CancelResult, summary="Cancel its running turn")
async def cancel(session_id: str, request: Request, state: State, caller: Caller) -> CancelResult:
    """Cancel the session's running turn. The turn stores its partial answer, marked
    interrupted, before this answers (so the session is free again). With Redis the turn may
    run on any replica; without, only a turn of this replica is found."""
    await _owned(request, state, caller, session_id)
    turns = [t for t in state.turns.running_for(session_id) if t.cancel()]
    tasks = [t.task for t in turns if t.task is not None]
    if tasks:
        # asyncio.wait neither raises nor cancels the turns if it times out.
        await asyncio.wait(tasks, timeout=CANCEL_WAIT)
    ids = [t.id for t in turns]
    if not ids:
        ids = await _managed_shared(state.turns.log.cancel_elsewhere(session_id, CANCEL_WAIT))
    return CancelResult(session_id=session_id, cancelled=bool(ids), turn_ids=ids)


async def _managed_shared(call: Awaitable[T]) -> T:
    """Await a call to the shared state (Redis), its failure as a 503 without details."""
    try:
        return await call
    except Exception as exc:
        raise ApiError(
            503,
            "shared_state_unavailable",
            "cannot reach the shared state (Redis) to cancel a turn of another replica; retry",
            "server_error",
            retry_after=1,
        ) from exc


@router.delete("/{session_id}", response_model=DeleteResult, summary="Delete a session")
async def delete(session_id: str, request: Request, state: State, caller: Caller) -> DeleteResult:
    await _owned(request, state, caller, session_id)
    _refuse_if_running(state, session_id, "delete")
    await _managed(_manager(state).clear(session_id))
    return DeleteResult(session_id=session_id, deleted=True)
