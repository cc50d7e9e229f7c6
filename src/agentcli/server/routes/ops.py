"""Operations: ``GET /health`` (liveness), ``GET /readiness``, ``GET /metrics`` (Prometheus).

No API key: probes and scrapers do not carry one, and none of these shows a session.
``/health`` touches neither the store nor a provider, so a slow dependency never gets a live
process restarted. ``/readiness`` checks the store and, when configured, the Redis the replicas
share turns and limits through (both at once, each bounded in time, so the probe answers even
when one hangs), and the served agents' configuration; it never calls a provider.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from ..._redact import redact_text
from ...agent import AgentInterface
from ...agents.registry import ProviderInfo
from ...errors import AgentCLIError
from ..deps import State
from ..errors import error_body
from ..state import ServerState

__all__ = ["router"]

router = APIRouter(tags=["operations"])
logger = logging.getLogger("agentcli.server")

STORE_TIMEOUT = 1.5  # seconds: the readiness probe answers within 2 s even if the store hangs
_PROBE_ID = "readiness-probe"
_DRAINING = "the server is shutting down"


class Health(BaseModel):
    status: str = Field(description='"ok"')


class Readiness(BaseModel):
    status: str = Field(description='"ready" (200) or "not_ready" (503)')
    checks: dict[str, str] = Field(description='each check: "ok" or what is wrong')


def _not_ok(status: str, code: str, message: str, extra: dict[str, Any]) -> JSONResponse:
    body = {"status": status, **extra, **error_body(message, code, "server_error")}
    return JSONResponse(body, 503, headers={"Retry-After": "1"})


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness: the process answers",
    responses={503: {"description": "the server is shutting down"}},
)
async def health(state: State) -> Health | JSONResponse:
    if state.draining:
        return _not_ok("shutting_down", "server_shutting_down", _DRAINING, {})
    return Health(status="ok")


@router.get(
    "/readiness",
    response_model=Readiness,
    summary="Readiness: the store answers and the agents are configured",
    responses={503: {"description": "not ready; `checks` names what failed"}},
)
async def readiness(state: State) -> Readiness | JSONResponse:
    shared = state.shared
    store, redis = await asyncio.gather(
        _check_store(state), shared.check() if shared is not None else _nothing()
    )
    checks = {"store": store}
    if redis is not None:
        checks["shared_state"] = redis
        if redis != "ok":
            logger.warning("readiness: the shared state (Redis): %s", redis)
    checks["agents"] = _check_agents(state)
    checks["shutdown"] = _DRAINING if state.draining else "ok"
    failing = [name for name, result in checks.items() if result != "ok"]
    state.metrics.ready.set(0 if failing else 1)
    if failing:
        message = "not ready: " + "; ".join(f"{name}: {checks[name]}" for name in failing)
        return _not_ok("not_ready", "not_ready", message, {"checks": checks})
    return Readiness(status="ready", checks=checks)


async def _nothing() -> None:
    return None


async def _check_store(state: ServerState) -> str:
    try:
        await asyncio.wait_for(state.store.info(_PROBE_ID), STORE_TIMEOUT)
    except TimeoutError:
        logger.warning("readiness: the store did not answer in %.1f s", STORE_TIMEOUT)
        return f"no answer in {STORE_TIMEOUT:g} s"
    except Exception as exc:
        # Our own errors are worded to be shown; a driver's may hold a database URL.
        why = redact_text(str(exc)) if isinstance(exc, AgentCLIError) else type(exc).__name__
        logger.warning("readiness: the store failed: %s", why)
        return f"failed: {why}"
    return "ok"


def _check_agents(state: ServerState) -> str:
    problems = dict(state.problems)
    for name, manager in state.managers.items():
        missing = _missing_key(manager.agent, state)
        if missing is not None and name not in problems:
            problems[name] = missing
    if not problems:
        return "ok"
    return "; ".join(f"{name}: {why}" for name, why in problems.items())


def _missing_key(agent: AgentInterface, state: ServerState) -> str | None:
    """Why a provider agent cannot call its provider (its key is not set), or ``None``.
    Echo, function and user agents have no provider: always configured."""
    info = getattr(agent, "info", None)
    if not isinstance(info, ProviderInfo) or info.key_variable is None:
        return None
    key = info.key(state.settings)
    if key is None or not key.get_secret_value().strip():
        return f"{info.key_variable} is not set"
    return None


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
)
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
