"""Turning Sentry and tracing on and off, for the process (both are process-wide)."""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

from pydantic import SecretStr

from ..errors import MissingDependencyError
from . import reporting, tracing

if TYPE_CHECKING:
    from ..config import Settings
    from ._otel import OTelTracer

__all__ = ["check", "configure", "flush", "shutdown", "traces_endpoint"]

_EXTRAS = {"sentry": ("sentry_sdk",), "otel": ("opentelemetry.sdk", "opentelemetry.exporter")}


class _State:
    sentry: tuple[str, str | None] | None = None  # (DSN, environment) in use
    tracer: tuple[str, str, OTelTracer] | None = None  # (endpoint, service name, tracer)


def traces_endpoint(settings: Settings) -> str | None:
    """Where spans go: ``AGENTCLI_OTEL_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (the
    full URL), else ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a base URL) + ``/v1/traces``."""
    if settings.otel_endpoint:
        return settings.otel_endpoint
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/v1/traces" if base else None


def check(settings: Settings) -> None:
    """Raise ``MissingDependencyError`` if a backend ``settings`` turn on is not installed
    (imports nothing: for a CLI that wants to fail before it starts anything)."""
    if settings.sentry_dsn is not None:
        _require("sentry", "error reporting to Sentry (SENTRY_DSN)")
    if traces_endpoint(settings) is not None:
        _require("otel", "OpenTelemetry tracing (an OTLP endpoint is set)")


def configure(settings: Settings) -> None:
    """Turn on what ``settings`` name: Sentry when ``SENTRY_DSN`` is set, OTLP tracing when an
    endpoint is (see ``traces_endpoint``). Nothing is imported for what is off. Calling it
    again with the same settings does nothing; other settings replace the earlier ones."""
    check(settings)
    if settings.sentry_dsn is not None:
        _start_sentry(settings, settings.sentry_dsn.get_secret_value())
    endpoint = traces_endpoint(settings)
    if endpoint is not None:
        _start_tracing(endpoint, settings.otel_service_name)


def flush(timeout: float = 5.0) -> None:
    """Send the spans and error events still queued (blocks up to ``timeout`` each)."""
    if _State.tracer is not None:
        _State.tracer[2].flush(timeout)
    if _State.sentry is not None:
        from . import _sentry

        _sentry.flush(timeout)


def shutdown(timeout: float = 5.0) -> None:
    """Flush, then switch tracing and error reporting off."""
    tracing.install(None)
    reporting.install(None)
    if _State.tracer is not None:
        _State.tracer[2].flush(timeout)
        _State.tracer[2].shutdown()
        _State.tracer = None
    if _State.sentry is not None:
        from . import _sentry

        _sentry.stop_sentry(timeout)
        _State.sentry = None


def _require(extra: str, feature: str) -> None:
    for module in _EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a missing parent package, a module set to None
            found = False
        if not found:
            raise MissingDependencyError(feature, extra)


def _start_sentry(settings: Settings, dsn: str) -> None:
    wanted = (dsn, settings.sentry_environment)
    if _State.sentry == wanted:
        return
    from . import _sentry

    _sentry.start_sentry(dsn, settings.sentry_environment, _secrets(settings))
    _State.sentry = wanted
    reporting.install(_sentry.report)


def _start_tracing(endpoint: str, service_name: str) -> None:
    if _State.tracer is not None:
        if _State.tracer[:2] == (endpoint, service_name):
            return
        _State.tracer[2].shutdown()
    from ._otel import OTelTracer

    tracer = OTelTracer(endpoint, service_name)
    _State.tracer = (endpoint, service_name, tracer)
    tracing.install(tracer)


def _secrets(settings: Settings) -> list[str]:
    """Every secret setting's value, and the password inside each secret URL."""
    found: list[str] = []
    for _name, value in settings:
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, SecretStr) and item.get_secret_value():
                secret = item.get_secret_value()
                found.append(secret)
                found.extend(_url_password(secret))
    return found


def _url_password(text: str) -> list[str]:
    from urllib.parse import urlsplit

    try:
        password = urlsplit(text).password
    except ValueError:
        return []
    return [password] if password else []
