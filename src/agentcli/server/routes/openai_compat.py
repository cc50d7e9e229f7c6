"""The OpenAI APIs for any agent: ``GET /v1/models``, ``POST /v1/chat/completions``
(``openai_chat.py``) and ``POST /v1/responses`` (``openai_responses.py``).

Point any OpenAI client at ``http://host:port/v1`` with one of the service's API keys; the
served agents are its models. Errors have OpenAI's shape and statuses, so the SDK raises its
own exception classes (``NotFoundError``, ``AuthenticationError``, ...).
"""

from __future__ import annotations

import functools
import time
from typing import Any

from fastapi import APIRouter

from ..deps import Caller, State
from . import openai_chat, openai_responses

__all__ = ["router"]

router = APIRouter(tags=["openai"])
router.include_router(openai_chat.router)
router.include_router(openai_responses.router)


@functools.cache
def _created() -> int:
    # Models have no creation date here: the first time one was listed stands in for it.
    return int(time.time())


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _created(), "owned_by": "agentcli"}


@router.get("/v1/models", summary="The served agents, as OpenAI models")
async def list_models(state: State, caller: Caller) -> dict[str, Any]:
    return {"object": "list", "data": [_model(name) for name in state.managers]}


@router.get("/v1/models/{model:path}", summary="One served agent, as an OpenAI model")
async def retrieve_model(model: str, state: State, caller: Caller) -> dict[str, Any]:
    name, _ = state.manager_for(model)
    return _model(name)
