"""What routes share: the state, the caller, and the sessions the caller owns.

A session belongs to the key that made it (``owner`` in its metadata). Another key gets 404,
not 403, so a session's existence is not disclosed. With no keys configured every caller is
``anonymous`` and owns every session (the service then listens on loopback only).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from ..errors import InvalidInputError
from ..stores.base import OWNER_KEY, SessionInfo, session_owner, validate_session_id
from .auth import Principal
from .errors import ApiError
from .state import ServerState

__all__ = [
    "ANONYMOUS",
    "Caller",
    "State",
    "claim_session",
    "get_state",
    "owned_session",
    "owner_of",
]

ANONYMOUS = "anonymous"


# async on purpose: a plain def dependency runs in a thread pool on every request.
async def get_state(request: Request) -> ServerState:
    state: ServerState | None = getattr(request.app.state, "agentcli", None)
    if state is None:
        raise ApiError(503, "not_ready", "the service is starting", "server_error", retry_after=1)
    return state


State = Annotated[ServerState, Depends(get_state)]


async def get_caller(request: Request, state: State) -> Principal:
    principal = state.keys.authenticate(request.headers.get("authorization"))
    request.state.key_id = principal.key_id
    await state.limiter.check(principal.key_id)
    return principal


Caller = Annotated[Principal, Depends(get_caller)]


def owner_of(info: SessionInfo) -> str:
    """The key id a session belongs to (``anonymous``: made while no keys were configured)."""
    return session_owner(info.metadata) or ANONYMOUS


def _not_found(session_id: str) -> ApiError:
    return ApiError(
        404, "session_not_found", f"no session with id {session_id!r}", "not_found_error"
    )


def checked_id(session_id: str) -> str:
    try:
        return validate_session_id(session_id)
    except InvalidInputError as exc:
        raise ApiError(400, "invalid_session_id", str(exc), param="session_id") from None


async def owned_session(state: ServerState, caller: Principal, session_id: str) -> SessionInfo:
    """The caller's session, or 404 (also when another key owns it)."""
    info = await state.store.info(checked_id(session_id))
    if info is None or owner_of(info) != caller.key_id:
        raise _not_found(session_id)
    return info


async def claim_session(state: ServerState, caller: Principal, session_id: str | None) -> str:
    """The session a turn goes to: the caller's own, or a new one that now belongs to them."""
    if session_id is None:
        session_id = uuid.uuid4().hex
    info = await state.store.info(checked_id(session_id))
    if info is not None:
        if owner_of(info) != caller.key_id:
            raise _not_found(session_id)
        return session_id
    if caller.key_id != ANONYMOUS:
        await state.store.set_state(session_id, metadata={OWNER_KEY: caller.key_id})
        again = await state.store.info(session_id)
        if again is None or owner_of(again) != caller.key_id:  # another key claimed it first
            raise _not_found(session_id)
    return session_id
