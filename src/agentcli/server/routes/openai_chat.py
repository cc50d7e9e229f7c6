"""``POST /v1/chat/completions``: any served agent behind OpenAI's Chat Completions API.

Without a session the request is stateless, as OpenAI's is: ``messages`` is the history (the
last one, the user's, is the input), run on a scratch session so context cleanup applies,
then dropped. With a session (``session_id`` in the body, which the SDK sends with
``extra_body={"session_id": ...}``, or the ``X-Session-ID`` header) the server's session is
the history: only the last user message is used, plus any system message the session does
not have yet. A session belongs to the key that made it (another key gets 404).

System and developer messages never replace the operator's system prompt: they join the
window as system messages. ``model`` must be a served agent (``GET /v1/models``); nothing in
the body reaches a provider's configuration (base URL, key, model).

Parameters that would change what the answer means are refused with 400 rather than
silently dropped: ``n`` > 1, ``tools`` / ``functions`` (the agents run their own tools, see
``encoders/openai_chat.py`` for how their activity is reported), a ``response_format`` other
than text, ``logprobs``, ``audio`` / non-text ``modalities``, ``prediction``. Sampling and
length settings (``temperature``, ``top_p``, ``max_tokens``, ``max_completion_tokens``,
``stop``, ``seed``, penalties, ``user``, ``metadata``, ``store``, ...) are accepted and
ignored for now: the agent's own configuration decides.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ...messages import Message
from ..deps import Caller, State
from ..encoders.openai_chat import DONE, ChatEncoder, completion_body, data_frame
from ..turns import TurnEvent
from .openai_turns import (
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

__all__ = ["ChatCompletionRequest", "router"]

router = APIRouter(tags=["openai"])

ENDPOINT = "/v1/chat/completions"


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[Any] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; parameters not named here are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="a served agent (GET /v1/models)")
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    session_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="run on this server-side session (yours; made if new): only the last "
        "user message is sent, the session is the history",
    )
    n: int | None = None
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool | None = None
    audio: dict[str, Any] | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None


def _refuse_unsupported(body: ChatCompletionRequest) -> None:
    if body.n not in (None, 1):
        raise refuse("n", "only one choice per request is supported (n=1)")
    if body.tools or body.functions:
        raise refuse(
            "tools" if body.tools else "functions",
            "client-side tools are not supported: this server's agents run their own tools",
        )
    if body.response_format and body.response_format.get("type", "text") != "text":
        raise refuse("response_format", "only text responses are supported")
    if body.logprobs:
        raise refuse("logprobs", "log probabilities are not available from agents")
    if body.audio is not None:
        raise refuse("audio", "only text is supported")
    if any(m != "text" for m in body.modalities or ()):
        raise refuse("modalities", "only text is supported")
    if body.prediction is not None:
        raise refuse("prediction", "predicted outputs are not supported")


def _conversation(messages: list[ChatMessageIn]) -> tuple[list[Message], str]:
    """The messages before the input, and the input (the last message, the user's)."""
    entries: list[tuple[str, str, str]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if message.role in ("tool", "function") or message.tool_calls:
            raise refuse(
                where,
                "tool messages and tool calls are not supported: the agents "
                "run their own tools; send the conversation as text",
            )
        entries.append((message.role, text_of(message.content, f"{where}.content"), where))
    return conversation(entries, "messages")


def _session_id(body: ChatCompletionRequest, header: str | None) -> str | None:
    if body.session_id and header and body.session_id != header:
        raise refuse(
            "session_id",
            "session_id in the body and X-Session-ID name different sessions",
            "conflicting_session_id",
        )
    return body.session_id or header or None


_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {}, "text/event-stream": {}},
        "description": "a chat.completion, or with stream=true its chunks (SSE)",
    }
}


@router.post(ENDPOINT, summary="OpenAI Chat Completions for any served agent", responses=_DOC)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    state: State,
    caller: Caller,
    x_session_id: Annotated[str | None, Header()] = None,
) -> Response:
    started = time.monotonic()
    state.refuse_if_draining()
    _refuse_unsupported(body)
    model, manager = state.manager_for(body.model)
    earlier, text = _conversation(body.messages)
    session_id = _session_id(body, x_session_id)
    request.state.agent = model
    await state.refuse_if_over_budget(caller.key_id, model)  # before anything is written
    if session_id is None:
        plan = await scratch_session(model, manager, earlier)
    else:
        plan = await kept_session(state, caller, model, manager, session_id)
        await add_to_session(state, plan, [m for m in earlier if m.role == "system"])
    turn = await begin(state, caller, request, plan, text)
    completion_id, created = f"chatcmpl-{turn.id}", int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        encoder = ChatEncoder(
            completion_id=completion_id, model=model, created=created, include_usage=include_usage
        )

        def frames(event: TurnEvent) -> list[bytes]:
            return [data_frame(chunk) for chunk in encoder.feed(event)]

        headers = plan.headers(turn)
        return stream_turn(
            state, turn, frames, endpoint=ENDPOINT, started=started, headers=headers, tail=DONE
        )
    events = await finished(request, turn)
    completion = completion_body(events, completion_id=completion_id, model=model, created=created)
    return JSONResponse(completion, headers=plan.headers(turn))
