"""Errors over HTTP: one JSON shape for every endpoint, OpenAI's, with a stable ``code``.

    {"error": {"message": "...", "type": "invalid_request_error", "code": "session_busy",
               "param": null}}

The same body serves our REST endpoints and the OpenAI-compatible ones, so any OpenAI client
reads our errors, and ``code`` is what a program branches on (it never changes for a case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import (
    AgentCLIError,
    AgentError,
    AuthenticationError,
    BudgetExceededError,
    ConfigError,
    ContextLengthError,
    InvalidInputError,
    ModelNotFoundError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
    SessionBusyError,
    SessionNotFoundError,
    StoreError,
)

__all__ = ["BUDGET_EXCEEDED", "ApiError", "api_error_for", "error_body"]

BUDGET_EXCEEDED = "budget_exceeded"


@dataclass(eq=False)
class ApiError(Exception):
    """An HTTP error with a stable ``code``; ``retry_after`` (seconds) becomes a header."""

    status: int
    code: str
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.code, self.type, self.param)

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


def error_body(
    message: str, code: str, type_: str = "invalid_request_error", param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


# What each library error means to a client: (status, code, type). First match wins, so
# subclasses come before their bases.
_TABLE: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (SessionBusyError, 409, "session_busy", "conflict_error"),
    (SessionNotFoundError, 404, "session_not_found", "not_found_error"),
    # 402 Payment Required: what OpenAI answers when a quota is spent (``insufficient_quota``).
    (BudgetExceededError, 402, BUDGET_EXCEEDED, "insufficient_quota"),
    (InvalidInputError, 400, "invalid_input", "invalid_request_error"),
    (ContextLengthError, 400, "context_length_exceeded", "invalid_request_error"),
    (ConfigError, 503, "agent_not_configured", "server_error"),
    (AuthenticationError, 502, "provider_authentication_failed", "server_error"),
    (ModelNotFoundError, 502, "provider_model_not_found", "server_error"),
    (RateLimitError, 429, "provider_rate_limited", "rate_limit_error"),
    (ProviderTimeoutError, 504, "provider_timeout", "server_error"),
    (ProviderUnavailableError, 502, "provider_unavailable", "server_error"),
    (AgentError, 502, "agent_error", "server_error"),
    (StoreError, 503, "store_unavailable", "server_error"),
)


def api_error_for(exc: BaseException) -> ApiError:
    """The HTTP error a failure becomes. Messages of our own errors are safe to show (they
    never carry keys); anything else is an internal error whose details stay in the log."""
    for kind, status, code, type_ in _TABLE:
        if isinstance(exc, kind):
            retry = getattr(exc, "retry_after", None)
            return ApiError(status, code, str(exc), type_, retry_after=retry)
    if isinstance(exc, AgentCLIError):
        return ApiError(500, "agent_error", str(exc), "server_error")
    return ApiError(500, "internal_error", "internal error (see the server log)", "server_error")
