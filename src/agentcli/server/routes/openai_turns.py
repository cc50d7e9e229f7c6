"""What the OpenAI endpoints share: reading a client's conversation, choosing the session a
turn runs on, starting it, and streaming its events in a wire format.

A turn runs either on one of the caller's sessions (the store keeps it, and its history is
the session's) or on a scratch session: a throwaway in-memory store seeded with the client's
own history, run through a ``SessionManager`` like any other so context cleanup applies, and
dropped with the request.

A client's system (and developer) messages never replace the operator's system prompt: they
are kept as system-role messages in the window, where cleanup never trims them. A session
gets each distinct one once: a client that sends the same system message every turn does
not pile up copies.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import StreamingResponse

from ...errors import AgentCLIError
from ...messages import Message, Role, check_storable
from ...session import SessionManager
from ...stores.memory import MemoryStore
from ..auth import Principal
from ..deps import claim_session, owned_session
from ..errors import ApiError, api_error_for
from ..sse import KEEPALIVE, SSE_HEADERS, header_safe
from ..state import ServerState
from ..turns import LiveTurn, TurnEvent

__all__ = [
    "TurnPlan",
    "add_to_session",
    "begin",
    "conversation",
    "finished",
    "kept_session",
    "refuse",
    "scratch_session",
    "stream_turn",
    "text_of",
]

# Content parts that are text, whichever API named them.
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


def refuse(param: str, message: str, code: str = "unsupported_parameter") -> ApiError:
    """A 400 for a request this server will not serve as asked (never a silent half-answer)."""
    return ApiError(400, code, message, param=param)


# ---------------------------------------------------------------------- the conversation


def text_of(content: object, where: str) -> str:
    """The text of a message's content: a string, or a list of text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for i, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in _TEXT_PARTS or not isinstance(part.get("text"), str):
                raise refuse(
                    f"{where}[{i}]",
                    f"content parts of type {kind!r} are not supported here: send text",
                    "unsupported_content",
                )
            texts.append(part["text"])
        return "".join(texts)
    raise refuse(where, "content must be a string or a list of text parts", "unsupported_content")


def _message(role: str, text: str, where: str) -> Message:
    from ...tokens import count_message_tokens

    try:
        check_storable(text)
    except ValueError as exc:  # a NUL character, say
        raise ApiError(400, "invalid_input", str(exc), param=where) from None
    return Message(role=_ROLES[role], content=text, tokens=count_message_tokens(text))


def conversation(entries: Sequence[tuple[str, str, str]], param: str) -> tuple[list[Message], str]:
    """``(role, text, where)`` entries as the messages before the input, and the input: the
    last entry, which must be the user's. Roles: system, developer, user, assistant."""
    if not entries or entries[-1][0] != "user":
        raise refuse(param, "the last message must be the user's: it is the turn's input")
    for role, _, where in entries:
        if role not in _ROLES:
            raise refuse(where, f"role {role!r} is not supported here")
    earlier = [_message(role, text, where) for role, text, where in entries[:-1] if text.strip()]
    return earlier, entries[-1][1]


# ---------------------------------------------------------------------- the session


@dataclass(frozen=True, slots=True)
class TurnPlan:
    """Where a turn runs: ``kept`` sessions are the caller's, in the store; the others are
    scratch sessions that end with the request."""

    model: str
    manager: SessionManager
    session_id: str
    kept: bool

    def headers(self, turn: LiveTurn) -> dict[str, str]:
        headers = {"X-Turn-ID": turn.id}
        if self.kept:
            headers["X-Session-ID"] = header_safe(self.session_id)
        return headers


async def scratch_session(model: str, served: SessionManager, history: list[Message]) -> TurnPlan:
    """A throwaway session holding ``history``, with the served agent's prompt and limits."""
    manager = SessionManager(
        served.agent,
        store=MemoryStore(),
        context_window_size=served.context_window_size,
        cleanup_threshold=served.cleanup_threshold,
        cleanup_target=served.cleanup_target,
        min_messages_to_keep=served.min_messages_to_keep,
        max_input_chars=served.max_input_chars,
        system_prompt=served.system_prompt,
        lease_ttl=served.lease_ttl,
        lease_wait=0,
    )
    session_id = uuid.uuid4().hex
    if history:
        await manager.store.append(session_id, history)
    return TurnPlan(model, manager, session_id, kept=False)


async def kept_session(
    state: ServerState,
    caller: Principal,
    model: str,
    manager: SessionManager,
    session_id: str | None,
    *,
    existing: bool = False,
) -> TurnPlan:
    """The caller's session ``session_id`` (made for them if new, unless ``existing``), or a
    new one when ``session_id`` is ``None``; 404 for anyone else's, 409 while it is busy."""
    if existing and session_id is not None:
        await owned_session(state, caller, session_id)
    session_id = await claim_session(state, caller, session_id)
    state.refuse_if_busy(session_id)
    return TurnPlan(model, manager, session_id, kept=True)


async def add_to_session(state: ServerState, plan: TurnPlan, messages: list[Message]) -> None:
    """Append ``messages`` to the plan's kept session, skipping system messages it already
    has, under the session's lease (no turn anywhere writes in between)."""
    if not messages:
        return
    known = {m.content for m in await plan.manager.window(plan.session_id) if m.role == "system"}
    fresh: list[Message] = []
    for message in messages:
        if message.role == "system":
            if message.content in known:
                continue
            known.add(message.content)
        fresh.append(message)
    if not fresh:
        return
    store = state.store
    try:
        async with store.lease(plan.session_id, ttl=plan.manager.lease_ttl, wait=0) as lease:
            await store.append(plan.session_id, fresh, expected_last_seq=lease.last_seq)
    except AgentCLIError as exc:  # busy on another replica, the store down: say so
        raise api_error_for(exc) from None


# ---------------------------------------------------------------------- the turn


async def begin(
    state: ServerState, caller: Principal, request: Request, plan: TurnPlan, text: str
) -> LiveTurn:
    """Start the turn and wait until it holds its session: a busy session or a refused input
    is an HTTP status, before any response is sent."""
    request.state.agent = plan.model
    state.refuse_if_draining()  # again: a drain may have begun while the request was read
    if plan.kept:
        request.state.session_id = plan.session_id
        state.refuse_if_busy(plan.session_id)  # again: no await between this and start
    turn = state.turns.start(
        plan.manager, plan.session_id, text, model=plan.model, owner=caller.key_id
    )
    failure = await turn.wait_until_held()
    if failure is not None:
        raise failure
    return turn


async def finished(request: Request, turn: LiveTurn) -> list[TurnEvent]:
    """The events of the ended turn, or its failure as an HTTP error."""
    await turn.wait()
    response = turn.response
    if response is None:
        failure = turn.failure
        assert failure is not None
        raise failure
    request.state.tokens = response.tokens
    return turn.events


def stream_turn(
    state: ServerState,
    turn: LiveTurn,
    frames: Callable[[TurnEvent], list[bytes]],
    *,
    endpoint: str,
    started: float,
    headers: dict[str, str],
    tail: bytes = b"",
) -> StreamingResponse:
    """The turn's events as SSE ``frames``; a client that goes away cancels the turn (its
    partial answer is kept, marked interrupted)."""

    async def body() -> AsyncIterator[bytes]:
        metrics = state.metrics
        metrics.active_streams.inc()
        timed = False
        try:
            async for item in turn.follow(0, keepalive=state.settings.sse_keepalive):
                if item is None:
                    yield KEEPALIVE
                    continue
                number, event = item
                if not timed and number > 1:  # the first event after Started
                    timed = True
                    elapsed = time.monotonic() - started
                    metrics.first_event.labels(turn.model, endpoint).observe(elapsed)
                for frame in frames(event):
                    yield frame
            if tail:
                yield tail
        finally:
            metrics.active_streams.dec()
            if not turn.done:
                turn.cancel()

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
    )
