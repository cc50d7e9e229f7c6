"""``create_app(settings)``: the FastAPI service, for ``agentcli serve`` or your own server.

    from agentcli.config import load_settings
    from agentcli.server import create_app

    app = create_app(load_settings(), agents=["openai:gpt-4o-mini"])   # uvicorn module:app

The app opens its store and builds its agents when it starts (its lifespan) and, when it
stops, cancels the turns still running (their partial answers are stored) and closes both.
With Redis (``shared.py``) it shares its turns' events and the rate limits with the other
replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from .. import observability
from .._version import __version__
from ..agent import AgentInterface
from ..config import Settings
from ..errors import AgentCLIError
from ..session import SessionManager
from ..stores.base import SessionStore
from .auth import KeyRing
from .errors import ApiError, api_error_for, error_body
from .limits import RateLimiter
from .metrics import Metrics
from .shared import open_shared
from .state import ServerState
from .turns import TurnRegistry

__all__ = ["create_app"]

logger = logging.getLogger("agentcli.server")

AgentsArg = Sequence[str] | Mapping[str, AgentInterface] | None


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None = None


class ErrorBody(BaseModel):
    """What every error is (``errors.py``), whatever the status: OpenAI's shape."""

    error: ErrorDetail


# Documented once for every operation: any status other than those a route lists is an error
# with this body (the error handlers below and the middleware's make sure of it).
_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    "default": {"model": ErrorBody, "description": "an error; `error.code` says which"}
}


def create_app(
    settings: Settings | None = None,
    *,
    agents: AgentsArg = None,
    store: SessionStore | None = None,
) -> FastAPI:
    """The service. ``agents``: specs (``["echo", "openai:gpt-4o-mini"]``, each served under
    its spec as the model name) or ready agents by model name; default ``DEFAULT_MODEL`` or
    the echo agent. ``store``: default the one ``AGENTCLI_STORE_URL`` names."""
    if settings is None:
        from ..config import load_settings

        settings = load_settings()
    keys = KeyRing.from_settings(settings)  # a bad key file fails now, not at the first call
    observability.configure(settings)  # Sentry and OTLP traces, when configured (process-wide)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await _start(settings, keys, agents, store)
        app.state.agentcli = state
        try:
            yield
        finally:
            state.draining = True
            await state.turns.cancel_all()
            await _stop(state, own_store=store is None)
            await asyncio.to_thread(observability.flush)  # the spans and events still queued

    app = FastAPI(
        title="agentcli",
        version=__version__,
        summary="Sessions with context cleanup for any agent: REST, SSE and the OpenAI APIs.",
        lifespan=lifespan,
        responses=_ERROR_RESPONSES,
    )
    _install_error_handlers(app)
    from .middleware import install_middleware
    from .routes import chat, openai_compat, ops, sessions

    install_middleware(app, settings)
    for router in (chat.router, sessions.router, openai_compat.router, ops.router):
        app.include_router(router)
    return app


async def _start(
    settings: Settings, keys: KeyRing, agents: AgentsArg, store: SessionStore | None
) -> ServerState:
    from ..stores import open_configured_store
    from .budgets import KeyBudget
    from .timed_store import TimedStore

    metrics = Metrics()
    # Every call the service makes to its store is timed (agent_store_operation_seconds).
    opened = TimedStore(
        store if store is not None else open_configured_store(settings), metrics.store_seconds
    )
    served: dict[str, AgentInterface] = {}
    if agents is None:
        agents = [settings.default_model or "echo"]
    if isinstance(agents, Mapping):
        served.update(agents)
    else:
        from ..agents.factory import create_agent

        for spec in agents:
            served[spec] = create_agent(spec, settings)
    managers = {name: _manager(agent, opened, settings) for name, agent in served.items()}
    budget = KeyBudget(opened, settings.max_key_cost_per_day, metrics)
    shared = open_shared(settings)
    turns = TurnRegistry(
        settings.stream_retention,
        log=shared.turns if shared else None,
        on_end=metrics.turn_ended,
        on_response=budget.record_turn if budget.enabled else None,
    )
    turns.log.start(turns)
    return ServerState(
        settings=settings,
        store=opened,
        managers=managers,
        keys=keys,
        turns=turns,
        metrics=metrics,
        limiter=shared.limiter if shared else RateLimiter(settings.rate_limit_per_minute),
        shared=shared,
        budget=budget if budget.enabled else None,
    )


def _manager(agent: AgentInterface, store: SessionStore, settings: Settings) -> SessionManager:
    # A busy session is answered at once (409 and Retry-After), never queued in the server.
    return SessionManager.from_settings(agent, settings, store=store, lease_wait=0)


async def _stop(state: ServerState, *, own_store: bool) -> None:
    for manager in state.managers.values():
        with contextlib.suppress(Exception):
            await manager.agent.aclose()
    if state.shared is not None:
        await state.shared.close()
    if own_store:
        await state.store.close()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        request.state.error_code = exc.code
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())

    @app.exception_handler(AgentCLIError)
    async def library_error(request: Request, exc: AgentCLIError) -> JSONResponse:
        # Raised outside a turn (the store, reading who owns a session): the same mapping as
        # a turn's failure, e.g. a store outage is a 503 that says so, not an internal error.
        error = api_error_for(exc)
        if error.status >= 500:
            logger.warning("request failed: %s", error.message)
        return await api_error(request, error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        request.state.error_code = "invalid_request"
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return JSONResponse(error_body(message, "invalid_request", param=where or None), 422)
