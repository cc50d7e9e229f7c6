"""Request middleware, as plain ASGI (no per-request task or body copy, unlike
``BaseHTTPMiddleware``), outermost first:

- ``Observe``: the request id (``X-Request-ID``, the client's if short and printable), one
  access log record a request, the request metrics, and a JSON 500 for an unhandled error;
- CORS, only when ``AGENTCLI_CORS_ORIGINS`` names origins (outside the body limit, so a browser
  can read a 413);
- ``BodyLimit``: ``max_request_bytes``, enforced while the body is read.

The access record is on ``agentcli.server.access`` at INFO (one JSON line each with
``AGENTCLI_LOG_FORMAT=json``). Its fields: request_id, method, endpoint (the route template,
never the raw path), status, duration_ms, and the session_id, key_id, agent, tokens and
error_code that routes, dependencies and error handlers leave on ``request.state``. Never a
body, a header value or a key.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import State
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..observability import tracing
from ..observability.reporting import report_error
from .errors import error_body

__all__ = ["BodyLimit", "Observe", "install_middleware"]

access_log = logging.getLogger("agentcli.server.access")
logger = logging.getLogger("agentcli.server")

_MAX_REQUEST_ID = 128
_OPTIONAL_FIELDS = ("session_id", "key_id", "agent", "tokens", "error_code")
_CLOSE = (b"connection", b"close")


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Add the middleware (the last added runs first) and the JSON shape for Starlette's own
    errors (an unknown path, a wrong method)."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "X-Session-ID", "X-Turn-ID"],
            max_age=600,
        )
    app.add_middleware(Observe, app_state=app.state)
    app.add_exception_handler(StarletteHTTPException, _http_error)


_HTTP_CODES = {
    400: ("invalid_request", "invalid_request_error"),
    404: ("not_found", "not_found_error"),
    405: ("method_not_allowed", "invalid_request_error"),
    413: ("request_too_large", "invalid_request_error"),
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # registered for that class only
        raise exc
    code, type_ = _HTTP_CODES.get(exc.status_code, ("http_error", "invalid_request_error"))
    request.state.error_code = code
    return JSONResponse(
        error_body(str(exc.detail), code, type_), exc.status_code, headers=exc.headers
    )


def _json_response_messages(
    status: int, body: dict[str, Any], *, close: bool = False
) -> tuple[Message, Message]:
    content = JSONResponse(body).body
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    if close:
        headers.append(_CLOSE)
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": content, "more_body": False},
    )


# ---------------------------------------------------------------------- the body limit


class _BodyTooLarge(StarletteHTTPException):
    """Raised into the app by ``receive`` once the body is over the limit (an HTTPException,
    so FastAPI passes it on instead of calling it a parse error); the 413 is already sent."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large")


class BodyLimit:
    """413 for a request whose body is over ``max_bytes``: at once when its Content-Length says
    so, else as soon as the bytes read pass the limit. Nothing is buffered here, and the 413
    closes the connection, so a client still sending stops instead of filling the server."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if not started and not refused:
                        refused = True
                        await self._refuse(scope, send)
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # the 413 went out: whatever the app answers to the error is dropped
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not refused:
                raise

    async def _refuse(self, scope: Scope, send: Send) -> None:
        scope.setdefault("state", {})["error_code"] = "request_too_large"
        body = error_body(
            f"the request body is over the limit of {self.max_bytes:,} bytes "
            "(AGENTCLI_MAX_REQUEST_BYTES)",
            "request_too_large",
        )
        for message in _json_response_messages(413, body, close=True):
            await send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


# ---------------------------------------------------------------------- observation


class Observe:
    """Request id, access log line and request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, *, app_state: State) -> None:
        self.app = app
        self.app_state = app_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        fields: dict[str, Any] = scope.setdefault("state", {})
        fields["request_id"] = request_id
        status = 500
        response_started = False
        failure: str | None = None
        span = _request_span(scope)

        async def observed_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await span.within(self.app(scope, receive, observed_send))
        except Exception as exc:
            failure = tracing.error_type(exc)
            report_error(exc)
            if response_started:  # too late for a status: let the server close the connection
                raise
            logger.exception("unhandled error", extra={"request_id": request_id})
            fields["error_code"] = "internal_error"
            body = error_body(
                f"internal error (request {request_id}; see the server log)",
                "internal_error",
                "server_error",
            )
            for message in _json_response_messages(500, body):
                await observed_send(message)
        finally:
            self._record(scope, fields, status, time.perf_counter() - started)
            _end_request_span(span, scope, status, failure)

    def _record(self, scope: Scope, fields: dict[str, Any], status: int, seconds: float) -> None:
        endpoint = _endpoint(scope)
        agent = fields.get("agent") or "none"
        state = getattr(self.app_state, "agentcli", None)
        if state is not None:
            metrics = state.metrics
            metrics.requests.labels(agent, endpoint, f"{status // 100}xx").inc()
            metrics.duration.labels(agent, endpoint).observe(seconds)
        if not access_log.isEnabledFor(logging.INFO):
            return
        line: dict[str, Any] = {
            "request_id": fields["request_id"],
            "method": scope["method"],
            "endpoint": endpoint,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
        }
        for name in _OPTIONAL_FIELDS:
            value = fields.get(name)
            if value is not None:
                line[name] = value
        access_log.info("%s %s %d", scope["method"], endpoint, status, extra=line)


def _endpoint(scope: Scope) -> str:
    """The route template (``/sessions/{session_id}``): a bounded label that holds no id.
    A request answered before routing (a 413 by its Content-Length, a CORS preflight) has
    none and is ``unmatched``, like an unknown path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "unmatched"


_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"))
_TRACE_HEADERS = {b"traceparent": "traceparent", b"tracestate": "tracestate"}


def _method(scope: Scope) -> str:
    """The method, or ``_OTHER`` for one HTTP does not define (a bounded span name)."""
    method: str = scope["method"]
    return method if method in _METHODS else "_OTHER"


def _request_span(scope: Scope) -> tracing.Span:
    """The request's server span, a child of the caller's trace when it sent ``traceparent``;
    named once routed (the method, then the route template: never the raw path)."""
    if not tracing.enabled():
        return tracing.NOOP
    method = _method(scope)
    headers = {
        _TRACE_HEADERS[name]: value.decode("latin-1")
        for name, value in scope["headers"]
        if name in _TRACE_HEADERS
    }
    attributes = {"http.request.method": method, "url.scheme": scope.get("scheme", "http")}
    return tracing.start(method, attributes, kind="server", headers=headers)


def _end_request_span(span: tracing.Span, scope: Scope, status: int, failure: str | None) -> None:
    """Name the span by its route, record the status; a 5xx fails it (a 4xx is the client's
    error, not the server's)."""
    if span is tracing.NOOP:
        return
    route = _endpoint(scope)
    routed = route != "unmatched"
    if routed:
        span.rename(f"{_method(scope)} {route}")
    span.set({"http.route": route if routed else None, "http.response.status_code": status})
    if status >= 500:
        span.fail(failure or str(status))
    span.end()


def _request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` if it is short, visible ASCII; else a new one."""
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if 0 < len(value) <= _MAX_REQUEST_ID and all(0x21 <= b <= 0x7E for b in value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex
