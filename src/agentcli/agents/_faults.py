"""Provider failures read into our error tree's terms: statuses and error bodies sorted into
kinds, ``Retry-After`` parsed, and keys scrubbed from any text that may reach a user or a log.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "RETRIED_STATUSES",
    "Failure",
    "FailureKind",
    "body_message",
    "classify_status",
    "connection_failure",
    "describe_cause",
    "error_fields",
    "retry_after_seconds",
    "retry_hint",
    "scrub",
    "transport_failure",
]

# Statuses the SDKs retry (408, 409, 429, 5xx), so the ones whose Retry-After they would honour.
RETRIED_STATUSES = frozenset({408, 409, 429})

# The public part of key formats ("sk-", "sk-proj-", "sk-ant-api03-"): not secret, and common
# enough in text that matching it would redact innocent words.
_KEY_PREFIX = re.compile(r"^(?:sk-(?:proj-|svcacct-|admin-|ant-(?:[a-z]+\d*-)?)?)")
# Providers echo a masked key ("sk-abc***xyz"); such a token is always removed.
_MASKED = re.compile(r"\S*\*{3,}\S*")
_FRAGMENT = 6  # redact any run of this many characters of a key


def scrub(text: str, secret: str | None) -> str:
    """``text`` without the key, any fragment of it, or any masked key a provider echoed."""
    if secret:
        text = text.replace(secret, "[redacted]")
        core = _KEY_PREFIX.sub("", secret)
        if len(core) >= _FRAGMENT:
            for start in range(len(core) - _FRAGMENT + 1):
                piece = core[start : start + _FRAGMENT]
                if piece in text:
                    text = text.replace(piece, "[redacted]")
    return _MASKED.sub("[redacted key]", text)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a server asked for: ``retry-after-ms``, ``retry-after`` seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    return seconds if math.isfinite(seconds) else None


def retry_hint(seconds: float) -> str:
    at = time.strftime("%H:%M:%S", time.localtime(time.time() + seconds))
    return f"retry after {at} (in {math.ceil(seconds)} s)"


FailureKind = Literal[
    "auth",
    "permission",
    "not_found",
    "rate_limit",
    "context",
    "timeout",
    "connection",
    "unavailable",
    "incomplete",
    "other",
]


@dataclass(frozen=True, slots=True)
class Failure:
    """A vendor error, read into the parts our error tree needs."""

    kind: FailureKind
    status: int | None = None
    detail: str = ""
    retry_after: float | None = None
    chain: bool = False  # keep the SDK exception as __cause__ (only when it holds no body)


def transport_failure(exc: BaseException) -> Failure | None:
    """httpx2 errors the SDK let through unwrapped (some stream reads)."""
    import httpx2

    if isinstance(exc, httpx2.TimeoutException):
        return Failure("timeout", chain=True)
    if isinstance(exc, httpx2.RemoteProtocolError):
        return Failure("incomplete", detail="the connection closed mid-answer", chain=True)
    if isinstance(exc, httpx2.TransportError):
        return Failure("connection", detail=describe_cause(exc), chain=True)
    return None


def connection_failure(exc: BaseException) -> Failure:
    """An SDK's connection error, read from the transport error it wraps."""
    cause = exc.__cause__ or exc
    return transport_failure(cause) or Failure(
        "connection", detail=describe_cause(cause), chain=True
    )


def describe_cause(exc: BaseException) -> str:
    """The innermost reason of a connection failure ("Connection refused")."""
    seen: set[int] = set()
    current: BaseException | None = exc
    text = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if str(current):
            text = str(current)
        current = current.__cause__ or current.__context__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    return text[:200]


def body_message(body: bytes) -> str:
    """The ``error.message`` of an OpenAI or Anthropic error body, else the body's text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300]
    return error_fields(data)[2]


def error_fields(body: object) -> tuple[str, str, str]:
    """``(code, type, message)`` from an error body (OpenAI nests them in ``error``)."""
    data = body
    if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
        data = data["error"]
    if not isinstance(data, Mapping):
        return "", "", str(body)[:300] if body else ""
    code = data.get("code")
    kind = data.get("type")
    message = data.get("message")
    return (
        str(code) if code is not None else "",
        str(kind) if kind is not None else "",
        str(message)[:500] if message is not None else "",
    )


_CONTEXT_TEXT = re.compile(
    r"context[ _]length|context window|prompt is too long|too many tokens|maximum context|"
    r"reduce the length",
    re.IGNORECASE,
)


def classify_status(
    status: int, code: str, kind: str, message: str, headers: Mapping[str, str]
) -> Failure:
    """Sort an HTTP error (or an in-stream error event) into our kinds."""
    label = code or kind
    detail = f"{message} [{label}]" if label and label not in message else message
    if code == "context_length_exceeded" or (
        status in (400, 413) and _CONTEXT_TEXT.search(message)
    ):
        return Failure("context", status, detail)
    if status == 401 or kind == "authentication_error" or code == "invalid_api_key":
        return Failure("auth", status, detail)
    if status == 403 or kind == "permission_error":
        return Failure("permission", status, detail)
    if status == 404 or kind == "not_found_error" or code == "model_not_found":
        return Failure("not_found", status, detail)
    if status == 429 or kind == "rate_limit_error":
        return Failure("rate_limit", status, detail, retry_after=retry_after_seconds(headers))
    if status == 408:
        return Failure("timeout", status, detail)
    if status >= 500 or kind in ("overloaded_error", "api_error"):
        return Failure("unavailable", status, detail)
    if status == 413:
        return Failure("context", status, detail)
    return Failure("other", status, detail)
