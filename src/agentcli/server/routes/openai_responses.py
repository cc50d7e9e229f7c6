"""``POST /v1/responses``: any served agent behind OpenAI's Responses API, with our sessions.

Every response runs on a server-side session, so a Responses client gets sessions and
context cleanup without knowing about them. Without ``previous_response_id`` a new session
is made (the caller's); its id is carried by the response id (``resp_`` + urlsafe base64 of
the session id + ``_`` + the turn id), so ``previous_response_id`` continues it on any
replica with no lookup table, after checking that the session is the caller's (another key
gets 404, as for a response that never existed). Continuing from an older response of a
session continues the session itself: there is no branching. ``store: false`` runs on a
scratch session that ends with the request (its id cannot be continued).

``input`` is a string or a list of message items (roles user, assistant, system, developer;
text content). The last item, the user's, is the turn's input; earlier items are added to
the session first. ``instructions`` are a client system message: they never replace the
operator's system prompt, and join the session as a system message (once: sending the same
instructions with every request is harmless). Unlike OpenAI's, they stay in the session.

Refused with 400: ``tools`` (the agents run their own; their calls come back as ``mcp_call``
items, see ``encoders/responses.py``), ``background``, ``conversation`` (use
``previous_response_id``), ``prompt`` templates, a ``text.format`` other than text, and
``previous_response_id`` with ``store: false``. Sampling and length settings
(``temperature``, ``top_p``, ``max_output_tokens``, ``reasoning``, ``metadata``, ...) are
accepted and ignored for now.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...session import SessionManager
from ..auth import Principal
from ..deps import Caller, State
from ..encoders.responses import ResponsesEncoder, session_of
from ..errors import ApiError
from ..sse import frame
from ..state import ServerState
from ..turns import TurnEvent
from .openai_turns import (
    TurnPlan,
    add_to_session,
    begin,
    conversation,
    finished,
    kept_session,
    refuse,
    scratch_session,
    stream_turn,
    text_of,
)

__all__ = ["ResponsesRequest", "router"]

router = APIRouter(tags=["openai"])

ENDPOINT = "/v1/responses"


class ResponsesRequest(BaseModel):
    """OpenAI's request; parameters not named here are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(
        None, min_length=1, description="a served agent (GET /v1/models); default: the first"
    )
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    previous_response_id: str | None = Field(None, min_length=1, max_length=400)
    stream: bool = False
    store: bool = True
    tools: list[Any] | None = None
    background: bool | None = None
    conversation: Any = None
    prompt: Any = None
    text: dict[str, Any] | None = None


def _refuse_unsupported(body: ResponsesRequest) -> None:
    if body.tools:
        raise refuse(
            "tools", "client-side tools are not supported: this server's agents run their own"
        )
    if body.background:
        raise refuse("background", "background responses are not supported")
    if body.conversation is not None:
        raise refuse("conversation", "conversations are not supported: use previous_response_id")
    if body.prompt is not None:
        raise refuse("prompt", "prompt templates are not supported")
    text_format = (body.text or {}).get("format") or {}
    if isinstance(text_format, dict) and text_format.get("type", "text") != "text":
        raise refuse("text.format", "only text responses are supported")
    if body.previous_response_id is not None and not body.store:
        raise refuse("store", "a response with store=false cannot continue a stored one")


def _entries(body: ResponsesRequest) -> list[tuple[str, str, str]]:
    """``(role, text, where)`` of the instructions and the input items."""
    entries = [("system", body.instructions, "instructions")] if body.instructions else []
    if isinstance(body.input, str):
        return [*entries, ("user", body.input, "input")]
    for i, item in enumerate(body.input):
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind != "message" or not isinstance(item.get("role"), str):
            raise refuse(where, f"input items of type {kind!r} are not supported: send messages")
        entries.append((item["role"], text_of(item.get("content"), f"{where}.content"), where))
    return entries


async def _plan(
    state: ServerState,
    caller: Principal,
    body: ResponsesRequest,
    model: str,
    manager: SessionManager,
) -> TurnPlan:
    previous = body.previous_response_id
    if previous is None:
        return await kept_session(state, caller, model, manager, None)
    session_id = session_of(previous)
    not_found = ApiError(
        404,
        "previous_response_not_found",
        f"no response {previous!r} here",
        param="previous_response_id",
    )
    if session_id is None:
        raise not_found
    try:
        return await kept_session(state, caller, model, manager, session_id, existing=True)
    except ApiError as exc:
        if exc.code == "session_not_found":
            raise not_found from None
        raise


@router.post(ENDPOINT, summary="OpenAI Responses for any served agent, on sessions")
async def create_response(
    body: ResponsesRequest, request: Request, state: State, caller: Caller
) -> Response:
    started = time.monotonic()
    state.refuse_if_draining()
    _refuse_unsupported(body)
    model, manager = state.manager_for(body.model)
    earlier, text = conversation(_entries(body), "input")
    request.state.agent = model
    await state.refuse_if_over_budget(caller.key_id, model)  # before anything is written
    if body.store:
        plan = await _plan(state, caller, body, model, manager)
        await add_to_session(state, plan, earlier)
    else:
        plan = await scratch_session(model, manager, earlier)
    turn = await begin(state, caller, request, plan, text)
    encoder = ResponsesEncoder(
        turn_id=turn.id,
        session_id=turn.session_id,
        model=model,
        instructions=body.instructions,
        previous_response_id=body.previous_response_id,
        store=body.store,
    )
    if body.stream:

        def frames(event: TurnEvent) -> list[bytes]:
            return [frame(data["type"], data) for data in encoder.feed(event)]

        return stream_turn(
            state, turn, frames, endpoint=ENDPOINT, started=started, headers=plan.headers(turn)
        )
    for event in await finished(request, turn):
        encoder.feed(event)
    return JSONResponse(encoder.response(), headers=plan.headers(turn))
