"""Provider failures read into our error tree's terms: statuses and error bodies sorted into
kinds, keys scrubbed from any text that may reach a user or a log, and one table (``_ERRORS``)
that says which error each kind becomes and how it is worded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import (
    AuthenticationError,
    ContextLengthError,
    ModelNotFoundError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from ._retry_after import retry_after_seconds, retry_hint, usable_wait

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = [
    "Failure",
    "FailureKind",
    "Faults",
    "IncompleteAnswer",
    "body_message",
    "classify_status",
    "connection_failure",
    "describe_cause",
    "error_fields",
    "scrub",
    "transport_failure",
    "without_userinfo",
]

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
    "stalled",
    "cut_call",
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


class IncompleteAnswer(Exception):
    """Raised by a wire format for an answer that cannot be used (no choices, say)."""


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


# What each kind of failure becomes, and its words. Fields: {who} the provider's name, {code}
# " (status)", {says} ": detail", {detail}, {model}, {key_variable}, {where} a base URL variable
# worth checking, {hint} when to retry, {timeout} and {idle} the settings, {at} and {fix} for an
# unreachable server.
_ERRORS: Mapping[FailureKind, tuple[type[ProviderError], str]] = {
    "auth": (AuthenticationError, "{who} rejected the API key{code}{says}; check {key_variable}"),
    "permission": (
        AuthenticationError,
        "{who} refused the request{code}{says}; the key in {key_variable} may not have access "
        "to model {model}",
    ),
    "not_found": (
        ModelNotFoundError,
        "{who} does not know model {model}{code}{says}; check the model name{where}",
    ),
    "rate_limit": (RateLimitError, "{who} is rate limiting requests{code}{says}{hint}"),
    "context": (ContextLengthError, "the conversation is too long for model {model}{code}{says}"),
    "timeout": (
        ProviderTimeoutError,
        "{who} did not answer within {timeout:g} s (AGENTCLI_REQUEST_TIMEOUT){says}",
    ),
    "stalled": (
        ProviderTimeoutError,
        "{who} sent nothing new for {idle:g} s (AGENTCLI_STREAM_IDLE_TIMEOUT), so the stream "
        "was closed; try again",
    ),
    "connection": (ProviderUnavailableError, "cannot reach {who}{at}{reason}; {fix}"),
    "unavailable": (ProviderUnavailableError, "{who} is unavailable{code}{says}; try again later"),
    "incomplete": (
        ProviderUnavailableError,
        "{who} ended the answer early ({detail}); nothing from it was kept, try again",
    ),
    "cut_call": (
        ProviderError,
        "{who}'s answer hit its token limit in the middle of a call to tool {detail}; raise "
        "max_tokens and try again",
    ),
    "other": (ProviderError, "{who} could not answer{code}{says}"),
}


@dataclass(frozen=True, slots=True)
class Faults:
    """Our errors for one agent's failures, worded with its provider, model and settings.

    ``classify`` reads the SDK's own exceptions (one per wire format); the key in ``secret`` is
    scrubbed from every detail a provider sent.
    """

    provider: str
    display_name: str
    model: str
    key_variable: str
    base_url_variable: str
    base_url: str | None
    request_timeout: float
    stream_idle_timeout: float
    classify: Callable[[BaseException], Failure | None]
    unreachable_hint: str | None = None
    secret: SecretStr | None = field(default=None, repr=False)

    def translate(self, exc: BaseException) -> tuple[ProviderError, BaseException | None]:
        """Our error for ``exc``, and the cause to chain: the SDK's exception only when it
        cannot hold the provider's body (a 401 body may echo part of the key)."""
        if isinstance(exc, ProviderError):
            return exc, exc.__cause__
        if isinstance(exc, IncompleteAnswer):
            return self.error(Failure("incomplete", detail=str(exc))), None
        failure = self.classify(exc) or transport_failure(exc)
        if failure is None:
            failure = Failure("other", detail=f"{type(exc).__name__}: {exc}", chain=True)
        return self.error(failure), exc if failure.chain else None

    def error(self, failure: Failure) -> ProviderError:
        error_type, template = _ERRORS[failure.kind]
        message = template.format(**self._words(failure))
        if error_type is RateLimitError:
            return RateLimitError(
                message,
                provider=self.provider,
                status=failure.status,
                retry_after=usable_wait(failure.retry_after),
            )
        return error_type(message, provider=self.provider, status=failure.status)

    def scrub(self, text: str) -> str:
        return scrub(text, self.secret.get_secret_value() if self.secret is not None else None)

    def _words(self, failure: Failure) -> dict[str, Any]:
        detail = self.scrub(failure.detail)
        status = failure.status
        wait = failure.retry_after
        return {
            "who": self.display_name,
            "code": f" ({status})" if status else "",
            "says": f": {detail}" if detail else "",
            "detail": detail,
            "model": repr(self.model),
            "key_variable": self.key_variable,
            "where": f" and {self.base_url_variable}" if self.base_url else "",
            "hint": f"; {retry_hint(wait)}" if wait else "",
            "timeout": self.request_timeout,
            "idle": self.stream_idle_timeout,
            "at": f" at {without_userinfo(self.base_url)}" if self.base_url else "",
            "reason": f" ({detail})" if detail else "",
            "fix": self.unreachable_hint
            or "check the network" + (f" and {self.base_url_variable}" if self.base_url else ""),
        }


def without_userinfo(url: str | None) -> str:
    """``url`` without any ``user:password@`` (it may hold a key)."""
    if not url:
        return ""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url
