"""Sentry, scrubbed: what an error event may hold is decided here, once, for every event.

An event keeps the exception's type, module and stack (file, function, line, source line), the
environment and release, and the log records' ids (session, request). It never keeps:

- an exception's message (it may quote the user's input, a model's answer or a provider's
  body): the type says what failed, the server log says more, scrubbed;
- request data, headers, cookies, the user, local variables, breadcrumbs' messages and data;
- a secret: every ``SecretStr`` setting (API keys, store URLs, the DSN) and every URL password
  or ``?token=`` left in any string (``_redact.redact_text``), bearer tokens and ``sk-`` keys.

Only unexpected errors are sent: ``reporting.report_error`` calls and ERROR log records; a
caller's mistake (``UserError``, a status below 500) is dropped here if it ever arrives.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration

from .._redact import redact_text
from .._version import __version__
from ..errors import UserError

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

__all__ = ["start_sentry", "stop_sentry"]

_KEYS = re.compile(r"(?i)\b(bearer\s+)[^\s\"']+|\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}")
_CRUMB_FIELDS = ("type", "category", "level", "timestamp")
_REMOVED = "[removed]"


def start_sentry(dsn: str, environment: str | None, secrets: Iterable[str]) -> None:
    """Initialise the SDK for this process (replacing an earlier client)."""
    stop_sentry()
    scrub = _Scrubber(secrets)
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=f"agentcli@{__version__}",
        # ``send_default_pii`` is left at its default, off (naming it is deprecated in favour
        # of ``data_collection``, which would switch the SDK's own scrubber off).
        max_request_body_size="never",
        include_local_variables=False,
        # Only the default integrations (logging, threads, excepthook...): none that patches
        # the web framework, HTTP clients or drivers, so requests are never read, and no
        # trace header goes to a provider.
        auto_enabling_integrations=False,
        integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        trace_propagation_targets=[],
        before_send=scrub.event,
        before_breadcrumb=lambda crumb, _hint: _crumb(crumb),
    )


def stop_sentry(timeout: float = 2.0) -> None:
    """Send what is queued, then switch the SDK off (a client with no DSN sends nothing)."""
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=timeout)
    sentry_sdk.init(dsn=None, default_integrations=False)


def report(exc: BaseException) -> None:
    sentry_sdk.capture_exception(exc)


def flush(timeout: float) -> None:
    sentry_sdk.flush(timeout=timeout)


def _crumb(crumb: Any) -> Any:
    """A breadcrumb's kind, level and time: never its message or data (a log line's
    arguments, a URL)."""
    return {k: crumb[k] for k in _CRUMB_FIELDS if k in crumb}


class _Scrubber:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a URL is replaced whole before the password inside it.
        self.secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    def event(self, event: Event, hint: Hint) -> Event | None:
        found = hint.get("exc_info")
        exc = found[1] if found else None
        if isinstance(exc, UserError) or getattr(exc, "status", 500) < 500:
            return None
        data = cast(dict[str, Any], event)
        for key in ("request", "user", "spans"):
            data.pop(key, None)
        crumbs = data.get("breadcrumbs")
        if isinstance(crumbs, dict):
            crumbs["values"] = [_crumb(c) for c in crumbs.get("values", ())]
        for holder in ("exception", "threads"):
            for value in (data.get(holder) or {}).get("values", ()):
                self._exception(value)
        entry = data.get("logentry")
        if isinstance(entry, dict):
            # The template only: its arguments may be anything the caller logged.
            data["logentry"] = {"message": entry.get("message", "")}
        return cast("Event", self.strings(data))

    def _exception(self, value: dict[str, Any]) -> None:
        if "value" in value:
            value["value"] = _REMOVED
        for frame in (value.get("stacktrace") or {}).get("frames", ()):
            frame.pop("vars", None)

    def strings(self, value: Any) -> Any:
        """``value`` with secrets hidden in every string it holds."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.strings(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.strings(v) for v in value]
        return value

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "****")
        text = redact_text(text)
        return _KEYS.sub(lambda m: f"{m[1]}****" if m[1] else "****", text)
